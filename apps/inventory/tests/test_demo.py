"""The demo stock: every demo variant stocked, some sold, an inventory manager login, no alert
burst, the ledger balanced, and seeding twice changes nothing."""

import pytest
from django.core import mail

from apps.catalog.demo import seed_demo_catalog
from apps.catalog.models import Variant
from apps.inventory.demo import DEMO_STOCK_EMAIL, seed_demo_inventory
from apps.inventory.models import InventoryAlert, StockItem, StockMovement
from apps.shops.models import Membership

from .checks import assert_ledger_balanced

pytestmark = pytest.mark.django_db


def test_demo_inventory(django_capture_on_commit_callbacks):
    seed_demo_catalog()
    with django_capture_on_commit_callbacks(execute=True):
        lines = seed_demo_inventory()

    assert "stocked" in lines[0]
    assert set(StockItem.objects.values_list("variant_id", flat=True)) == set(
        Variant.objects.values_list("pk", flat=True)
    )
    assert StockMovement.objects.filter(kind="sale").exists()
    handler = Membership.objects.get(user__email=DEMO_STOCK_EMAIL)
    assert handler.role == "inventory_manager" and handler.shop.memberships.filter(role="owner").exists()
    low = StockItem.objects.filter(low_stock_alerted_at__isnull=False)
    assert low.exists() and all(i.on_hand - i.reserved < i.low_stock_threshold for i in low)
    assert not InventoryAlert.objects.exists() and mail.outbox == []
    assert_ledger_balanced()

    movements = StockMovement.objects.count()
    seed_demo_inventory()
    assert StockMovement.objects.count() == movements

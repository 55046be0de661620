"""The demo buyer has an address and two pay-on-pickup orders from two shops; seeding twice adds none."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.orders.models import Order

pytestmark = pytest.mark.django_db


def test_demo_orders(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    orders = Order.objects.filter(buyer__email="buyer@localbazaar.test")
    assert orders.count() == 2 and len({o.shop_id for o in orders}) == 2
    assert {o.status for o in orders} == {"confirmed"}
    call_command("seed_demo", stdout=StringIO())
    assert Order.objects.count() == 2

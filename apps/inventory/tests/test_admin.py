"""Inventory admin: levels change only through actions that call the services; the ledger and the
reservations are read-only; staff see only their shops' stock, as their role allows."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import VariantFactory
from apps.core.models import AuditLogEntry
from apps.inventory.models import Reservation, StockItem, StockLocation, StockMovement
from apps.inventory.services import LineRequest, stock_receive, stock_reserve
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .factories import StockLocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member(client, login_verified):
    def _make(role, shop=None):
        membership = MembershipFactory(role=role, **({"shop": shop} if shop else {}))
        membership.user.is_staff = True
        membership.user.save(update_fields=["is_staff"])
        login_verified(client, membership.user)
        return membership

    return _make


@pytest.fixture
def superuser(client, login_verified):
    user = UserFactory(is_staff=True, is_superuser=True)
    login_verified(client, user)
    return user


def _stocked_item(shop=None, quantity=5) -> StockItem:
    variant = VariantFactory(**({"product__shop": shop} if shop else {}))
    stock_receive(variant=variant, quantity=quantity)
    return variant.stock_items.get()


def _action(client, action, items, *, follow=False, **data):
    payload = {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in items], **data}
    return client.post(reverse("admin:inventory_stockitem_changelist"), payload, follow=follow)


def test_stock_item_page_has_no_editable_levels(client, superuser):
    item = _stocked_item()
    response = client.get(reverse("admin:inventory_stockitem_change", args=[item.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="on_hand"' not in body and 'name="_save"' not in body
    response = client.post(reverse("admin:inventory_stockitem_change", args=[item.pk]), {"on_hand": 99})
    assert response.status_code == 403
    assert client.get(reverse("admin:inventory_stockitem_add")).status_code == 403
    item.refresh_from_db()
    assert item.on_hand == 5


def test_receive_action_asks_for_the_quantity_then_records_a_movement_by_the_staff_member(client, staff_member):
    membership = staff_member("warehouse_staff")
    item = _stocked_item(shop=membership.shop)
    form = _action(client, "receive", [item])
    assert form.status_code == 200
    assert "Units received" in form.content.decode()
    response = _action(client, "receive", [item], apply="1", quantity="7", reason="delivery", reference="PO-9")
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.on_hand == 12
    movement = StockMovement.objects.get(kind="receipt", reference="PO-9")
    assert (movement.quantity, movement.actor, movement.reason) == (7, membership.user, "delivery")
    entry = AuditLogEntry.objects.get(object_type="inventory.stockitem", object_id=str(item.pk))
    assert (entry.action, entry.reason, entry.changes["action"]) == ("action", "delivery", "receive")


def test_adjust_action_shows_form_errors_and_service_refusals(client, staff_member):
    membership = staff_member("inventory_manager")
    item = _stocked_item(shop=membership.shop)
    response = _action(client, "adjust", [item], apply="1", counted="3", delta="1", reason="count")
    assert "not both" in response.content.decode()
    response = _action(client, "adjust", [item], apply="1", delta="-9", reason="count", follow=True)
    assert "only 5 on hand" in response.content.decode()
    assert not StockMovement.objects.filter(kind="adjustment").exists()
    _action(client, "adjust", [item], apply="1", counted="2", reason="stock count")
    item.refresh_from_db()
    assert item.on_hand == 2
    assert StockMovement.objects.filter(kind="adjustment", reason="stock count", quantity=-3).exists()


def test_transfer_action_offers_the_shops_locations(client, staff_member):
    membership = staff_member("warehouse_staff")
    item = _stocked_item(shop=membership.shop)
    warehouse = StockLocationFactory(shop=membership.shop, name="Back room")
    foreign = StockLocationFactory(name="Someone else's shed")
    body = _action(client, "transfer", [item]).content.decode()
    assert "Back room" in body and "Someone else" not in body
    _action(client, "transfer", [item], apply="1", destination=str(warehouse.pk), quantity="2")
    assert StockItem.objects.get(location=warehouse).on_hand == 2
    response = _action(client, "transfer", [item], apply="1", destination=str(foreign.pk), quantity="1")
    assert "Select a valid choice" in response.content.decode()


def test_staff_see_only_their_shops_stock_and_cannot_act_on_another(client, staff_member):
    membership = staff_member("warehouse_staff")
    mine, theirs = _stocked_item(shop=membership.shop), _stocked_item()
    body = client.get(reverse("admin:inventory_stockitem_changelist")).content.decode()
    assert mine.variant.sku in body and theirs.variant.sku not in body
    _action(client, "receive", [theirs], apply="1", quantity="5")
    theirs.refresh_from_db()
    assert theirs.on_hand == 5
    assert client.get(reverse("admin:inventory_stockmovement_changelist")).status_code == 200


def test_movements_and_reservations_are_read_only(client, superuser):
    item = _stocked_item()
    stock_reserve(shop=item.shop, reference="chk-1", lines=[LineRequest(item.variant_id, 1)])
    movement = StockMovement.objects.first()
    reservation = Reservation.objects.get()
    assert client.get(reverse("admin:inventory_stockmovement_add")).status_code == 403
    page = client.get(reverse("admin:inventory_stockmovement_change", args=[movement.pk])).content.decode()
    assert 'name="_save"' not in page
    assert client.post(reverse("admin:inventory_stockmovement_delete", args=[movement.pk])).status_code == 403
    page = client.get(reverse("admin:inventory_reservation_change", args=[reservation.pk])).content.decode()
    assert 'name="_save"' not in page


def test_support_can_release_a_stuck_checkout(client, superuser):
    item = _stocked_item()
    stock_reserve(shop=item.shop, reference="stuck", lines=[LineRequest(item.variant_id, 2)])
    reservation = Reservation.objects.get()
    client.post(
        reverse("admin:inventory_reservation_changelist"),
        {"action": "release", ACTION_CHECKBOX_NAME: [reservation.pk]},
    )
    reservation.refresh_from_db()
    item.refresh_from_db()
    assert (reservation.status, reservation.close_reason, item.reserved) == (
        "released",
        "released by staff in admin",
        0,
    )


def test_locations_are_added_and_made_default_through_the_services(client, superuser):
    shop = ShopFactory()
    response = client.post(
        reverse("admin:inventory_stocklocation_add"), {"shop": shop.pk, "name": "Tiong Bahru", "kind": "store"}
    )
    assert response.status_code == 302
    store = StockLocation.objects.get(shop=shop)
    assert store.is_default  # the first location of a shop
    response = client.post(
        reverse("admin:inventory_stocklocation_add"), {"shop": shop.pk, "name": "tiong bahru", "kind": "store"}
    )
    assert "already has a location called" in response.content.decode()
    warehouse = StockLocationFactory(shop=shop)
    client.post(
        reverse("admin:inventory_stocklocation_changelist"),
        {"action": "make_default", ACTION_CHECKBOX_NAME: [warehouse.pk]},
    )
    assert StockLocation.objects.get(shop=shop, is_default=True) == warehouse

"""Seller portal, delivery settings: the zone, slots per weekday and couriers; who may see and change
them; validation messages on the form; another shop's ids are 404."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.delivery.models import Courier, DeliverySlot, DeliveryZone, SlotBooking
from apps.shops.tests.factories import ShopFactory

from .factories import CourierFactory, DeliverySlotFactory, DeliveryZoneFactory, SlotBookingFactory

pytestmark = pytest.mark.django_db


def url(name, shop, *args):
    return reverse(f"delivery_seller:{name}", args=[shop.slug, *args])


@pytest.fixture
def owner(client, seller):
    return seller(client, role="owner")


@pytest.fixture
def shop(owner):
    return owner.shop


SLOT_POST = {"weekday": "0", "starts": "10:00", "ends": "12:00", "cutoff": "09:00", "capacity": "10", "active": "on"}


# --- the overview ---------------------------------------------------------------------------------


def test_overview_lists_zone_slots_and_couriers_in_bounded_queries(client, shop, django_assert_max_num_queries):
    """The page shows the zone, every slot with its upcoming bookings and every courier; its query
    count does not grow with the number of slots and couriers."""
    DeliveryZoneFactory(shop=shop, postal_districts=["03", "09"])
    for weekday in range(7):
        DeliverySlotFactory(shop=shop, weekday=weekday)
        DeliverySlotFactory(shop=shop, weekday=weekday, starts=time(14), ends=time(16), cutoff=time(12))
    for _ in range(8):
        CourierFactory(shop=shop)
    with django_assert_max_num_queries(12):
        response = client.get(url("home", shop))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("data-slot=") == 14 and body.count("data-courier=") == 8
    assert "03, 09" in body and 'data-zone="on"' in body
    assert reverse("delivery_seller:home", args=[shop.slug]) in body  # the seller nav links here


def test_overview_for_a_shop_without_delivery_invites_to_set_it_up(client, shop):
    body = client.get(url("home", shop)).content.decode()
    assert "does not offer same-day delivery yet" in body
    assert url("zone", shop) in body


def test_warehouse_staff_see_the_page_without_edit_links_and_cannot_edit(client, seller):
    """Reading needs orders.view, changing needs shop.edit: warehouse staff read, and get 403 on
    the edit pages."""
    member = seller(client, role="warehouse_staff")
    shop = member.shop
    slot = DeliverySlotFactory(shop=shop)
    body = client.get(url("home", shop)).content.decode()
    assert url("slot-edit", shop, slot.pk) not in body
    assert client.get(url("zone", shop)).status_code == 403
    assert client.post(url("slot-add", shop), SLOT_POST).status_code == 403
    assert client.post(url("slot-delete", shop, slot.pk)).status_code == 403
    assert DeliverySlot.objects.filter(pk=slot.pk).exists()


# --- the zone -----------------------------------------------------------------------------------


def test_owner_sets_the_zone(client, shop):
    """Radius, districts (sorted, duplicates dropped), fee and free-delivery threshold are saved."""
    response = client.post(
        url("zone", shop),
        {"active": "on", "radius_km": "7.5", "postal_districts": "15, 03,09;15", "fee": "5.50", "free_above": "60"},
    )
    assert response.status_code == 302
    zone = DeliveryZone.objects.get(shop=shop)
    assert (zone.active, zone.radius_km, zone.fee, zone.free_above) == (
        True,
        Decimal("7.50"),
        Decimal("5.50"),
        Decimal("60.00"),
    )
    assert zone.postal_districts == ["03", "09", "15"]


def test_zone_districts_are_checked_against_the_singapore_list(client, shop):
    """ "99" is no postal district and "1a" is not two digits: each is named in the error."""
    response = client.post(url("zone", shop), {"radius_km": "5", "postal_districts": "01, 99", "fee": "5"})
    assert response.status_code == 200
    assert "99: not Singapore postal districts; use two-digit districts from 01 to 28" in response.content.decode()
    response = client.post(url("zone", shop), {"radius_km": "5", "postal_districts": "1a", "fee": "5"})
    assert "Use two-digit districts separated by commas" in response.content.decode()
    assert not DeliveryZone.objects.filter(shop=shop).exists()


def test_zone_switched_off_and_bad_numbers_are_form_errors(client, shop):
    DeliveryZoneFactory(shop=shop)
    assert client.post(url("zone", shop), {"radius_km": "5", "fee": "6"}).status_code == 302
    assert DeliveryZone.objects.get(shop=shop).active is False
    response = client.post(url("zone", shop), {"radius_km": "250", "fee": "-1"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"radius_km", "fee"}


# --- slots --------------------------------------------------------------------------------------------


def test_owner_adds_and_edits_a_slot(client, shop):
    assert client.get(url("slot-add", shop)).status_code == 200
    assert client.post(url("slot-add", shop), SLOT_POST).status_code == 302
    slot = DeliverySlot.objects.get(shop=shop)
    assert (slot.weekday, slot.starts, slot.ends, slot.cutoff, slot.capacity, slot.active) == (
        0,
        time(10),
        time(12),
        time(9),
        10,
        True,
    )
    assert client.get(url("slot-edit", shop, slot.pk)).status_code == 200
    response = client.post(url("slot-edit", shop, slot.pk), {**SLOT_POST, "capacity": "25", "active": ""})
    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.capacity, slot.active) == (25, False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends": "09:30"}, "The slot must end after it starts."),
        ({"cutoff": "10:30"}, "The order-by time must be at or before the slot starts."),
        ({"capacity": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"capacity": "501"}, "Ensure this value is less than or equal to 500."),
        ({"starts": "11:00", "ends": "13:00", "cutoff": "10:00"}, "This slot overlaps the 10:00–12:00 slot on Monday"),
    ],
)
def test_bad_slots_are_refused_with_the_reason(client, shop, change, message):
    DeliverySlotFactory(shop=shop, weekday=0, starts=time(10), ends=time(12), cutoff=time(9))
    response = client.post(url("slot-add", shop), {**SLOT_POST, **change})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert DeliverySlot.objects.filter(shop=shop).count() == 1


def test_same_times_on_another_weekday_do_not_overlap_and_editing_a_slot_keeps_its_own_times(client, shop):
    slot = DeliverySlotFactory(shop=shop, weekday=0, starts=time(10), ends=time(12), cutoff=time(9))
    assert client.post(url("slot-add", shop), {**SLOT_POST, "weekday": "1"}).status_code == 302
    assert client.post(url("slot-edit", shop, slot.pk), {**SLOT_POST, "ends": "12:30"}).status_code == 302


def test_unbooked_slot_is_removed_booked_slot_only_switched_off(client, shop):
    """A slot nobody booked goes away; one with a booking stays, with a message saying to switch it
    off instead."""
    free = DeliverySlotFactory(shop=shop, weekday=2)
    booked = DeliverySlotFactory(shop=shop, weekday=3)
    SlotBookingFactory(slot=booked, status=SlotBooking.Status.RELEASED)
    assert client.post(url("slot-delete", shop, free.pk)).status_code == 302
    assert not DeliverySlot.objects.filter(pk=free.pk).exists()
    response = client.post(url("slot-delete", shop, booked.pk), follow=True)
    assert "has bookings, so it cannot be deleted; switch it off instead" in response.content.decode()
    assert DeliverySlot.objects.filter(pk=booked.pk).exists()


def test_overview_counts_upcoming_bookings_per_slot(client, shop):
    slot = DeliverySlotFactory(shop=shop, weekday=0)
    today = datetime.now(UTC).date()
    SlotBookingFactory(slot=slot, date=today.replace(year=today.year + 1))
    SlotBookingFactory(slot=slot, date=today.replace(year=today.year - 1))
    response = client.get(url("home", shop))
    assert response.context["slots"][0].upcoming == 1


# --- couriers ---------------------------------------------------------------------------------------


def test_owner_adds_and_edits_a_courier(client, shop):
    response = client.post(
        url("courier-add", shop), {"name": "Ahmad", "phone": "+65 8000 0000", "email": "a@example.com", "active": "on"}
    )
    assert response.status_code == 302
    courier = Courier.objects.get(shop=shop)
    assert (courier.name, courier.phone, courier.email, courier.active) == (
        "Ahmad",
        "+65 8000 0000",
        "a@example.com",
        True,
    )
    response = client.post(url("courier-edit", shop, courier.pk), {"name": "Ahmad B", "phone": "+65 8000 0001"})
    assert response.status_code == 302
    courier.refresh_from_db()
    assert (courier.name, courier.active) == ("Ahmad B", False)


def test_courier_needs_a_name_and_phone_and_a_valid_email(client, shop):
    response = client.post(url("courier-add", shop), {"name": "", "phone": "", "email": "not-an-email"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"name", "phone", "email"}
    assert not Courier.objects.exists()


# --- tenant isolation -----------------------------------------------------------------------------


def test_another_shops_slot_and_courier_are_404(client, shop):
    """Ids of another shop's slot and courier, under this shop's slug, are 404 and change nothing."""
    other = ShopFactory()
    slot = DeliverySlotFactory(shop=other)
    courier = CourierFactory(shop=other)
    assert client.get(url("slot-edit", shop, slot.pk)).status_code == 404
    assert client.post(url("slot-edit", shop, slot.pk), {**SLOT_POST, "capacity": "3"}).status_code == 404
    assert client.post(url("slot-delete", shop, slot.pk)).status_code == 404
    assert client.get(url("courier-edit", shop, courier.pk)).status_code == 404
    assert client.post(url("courier-edit", shop, courier.pk), {"name": "X", "phone": "1"}).status_code == 404
    slot.refresh_from_db()
    courier.refresh_from_db()
    assert slot.capacity == 10 and courier.name != "X"
    assert client.get(url("home", other)).status_code == 404


# --- admin ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["deliveryzone", "deliveryslot", "slotbooking", "courier", "deliveryrun", "runstop"])
def test_admin_lists_delivery_objects_read_only(client, login_verified, model):
    """Platform admins can look delivery objects up; nobody adds or edits them there (the seller
    portal and the services own every change)."""
    login_verified(client, StaffFactory())
    zone = DeliveryZoneFactory()
    SlotBookingFactory(slot=DeliverySlotFactory(shop=zone.shop))
    CourierFactory(shop=zone.shop)
    assert client.get(reverse(f"admin:delivery_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:delivery_{model}_add")).status_code == 403

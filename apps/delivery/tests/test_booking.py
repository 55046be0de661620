"""Booking an order into a delivery slot: the rules (each refusal says what to do and changes
nothing), idempotency per order, confirming, releasing and expiring holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from apps.delivery.errors import DeliveryError
from apps.delivery.models import SlotBooking
from apps.delivery.selectors import delivery_slot_options, slot_booking_get, slot_bookings_for_day
from apps.delivery.services import slot_book, slot_booking_confirm, slot_booking_release, slot_bookings_expire
from apps.delivery.signals import slot_booking_released
from apps.delivery.tasks import slot_bookings_expire_due

from .factories import DeliverySlotFactory, SlotBookingFactory, address, delivering_shop, far_address

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 08:00 in Singapore


@pytest.fixture
def shop():
    return delivering_shop()


@pytest.fixture
def slot(shop):
    """Monday 10:00–12:00, order by 09:00, 10 orders at most."""
    return DeliverySlotFactory(shop=shop, weekday=0, starts=time(10), ends=time(12), cutoff=time(9), capacity=10)


def book(shop, slot, reference="LB-1001", day=MONDAY, now=NOW, **kwargs):
    kwargs.setdefault("address", address())
    kwargs.setdefault("subtotal", Decimal("25.00"))
    return slot_book(shop=shop, code=f"delivery:{slot.pk}:{day.isoformat()}", reference=reference, now=now, **kwargs)


def test_booking_holds_a_place_with_the_fee_and_what_delivery_needs(shop, slot):
    """A booking is held until the given time, with the shop's fee and currency, the address and its
    coordinates, the parcel weight and item count; it takes one place in the slot."""
    hold = NOW + timedelta(minutes=15)
    booking = book(shop, slot, weight_grams=1200, items=3, hold_until=hold)
    booking.refresh_from_db()
    assert booking.status == SlotBooking.Status.HELD
    assert (booking.slot, booking.shop, booking.date) == (slot, shop, MONDAY)
    assert booking.fee == Decimal("6.00") and booking.currency == "SGD"
    assert booking.latitude == Decimal("1.285000") and booking.longitude == Decimal("103.833000")
    assert booking.address["postcode"] == "163079"
    assert (booking.weight_grams, booking.items, booking.hold_until) == (1200, 3, hold)
    options = delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("25"), now=NOW)
    assert options[0].capacity_left == 9


def test_booking_confirmed_at_once_has_no_hold_and_is_free_above_threshold(shop, slot):
    booking = book(shop, slot, confirmed=True, hold_until=NOW + timedelta(minutes=5), subtotal=Decimal("90"))
    assert booking.status == SlotBooking.Status.CONFIRMED
    assert booking.hold_until is None
    assert booking.fee == Decimal("0.00")


def test_booking_the_same_order_twice_returns_the_same_booking(shop, slot):
    """A retried checkout books nothing new: the same booking comes back, one place taken; asking
    again with ``confirmed=True`` confirms it."""
    first = book(shop, slot)
    again = book(shop, slot)
    assert again.pk == first.pk
    assert SlotBooking.objects.count() == 1
    confirmed = book(shop, slot, confirmed=True)
    assert confirmed.pk == first.pk and confirmed.status == SlotBooking.Status.CONFIRMED


def test_a_retry_after_the_cutoff_still_returns_the_booking(shop, slot):
    """Idempotency does not depend on the clock: the order already holds its place."""
    first = book(shop, slot)
    assert book(shop, slot, now=NOW + timedelta(hours=3)).pk == first.pk


def test_the_same_order_cannot_hold_two_slots(shop, slot):
    book(shop, slot)
    other = DeliverySlotFactory(shop=shop, weekday=0, starts=time(14), ends=time(16), cutoff=time(12))
    with pytest.raises(DeliveryError) as exc:
        book(shop, other)
    assert exc.value.code == "already-booked"
    assert "LB-1001 already has a delivery slot" in exc.value.message


def test_full_slot_is_refused_with_a_clear_message(shop, slot):
    """The 11th order for a 10-order slot is told the slot is full; nothing is written."""
    for i in range(10):
        book(shop, slot, reference=f"LB-{i}")
    with pytest.raises(DeliveryError) as exc:
        book(shop, slot, reference="LB-late")
    assert exc.value.code == "slot-full"
    assert exc.value.message == "The 10:00–12:00 slot on 2026-03-02 is full; choose another slot or pickup."
    assert not SlotBooking.objects.filter(reference="LB-late").exists()


def test_release_gives_the_place_back_and_tells_the_orders_app(shop, slot):
    """Releasing sends ``slot_booking_released`` once and frees the place for another order."""
    slot.capacity = 1
    slot.save()
    book(shop, slot, reference="LB-A")
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    slot_booking_released.connect(receiver)
    try:
        released = slot_booking_release(reference="LB-A", reason="payment failed")
        assert slot_booking_release(reference="LB-A", reason="payment failed").status == "released"
    finally:
        slot_booking_released.disconnect(receiver)
    assert released.status == SlotBooking.Status.RELEASED
    assert released.released_reason == "payment failed"
    assert [(r["reference"], r["reason"]) for r in received] == [("LB-A", "payment failed")]
    assert book(shop, slot, reference="LB-B").status == SlotBooking.Status.HELD
    assert slot_booking_release(reference="LB-unknown", reason="x") is None


def test_a_released_order_can_book_again(shop, slot):
    """The order's booking row is taken up again (one row per order number)."""
    first = book(shop, slot)
    slot_booking_release(reference="LB-1001", reason="payment failed")
    again = book(shop, slot, hold_until=NOW + timedelta(minutes=10))
    assert again.pk == first.pk
    assert again.status == SlotBooking.Status.HELD and again.released_reason == ""


def test_confirm_turns_a_hold_into_a_place(shop, slot):
    book(shop, slot, hold_until=NOW + timedelta(minutes=15))
    booking = slot_booking_confirm(reference="LB-1001")
    assert booking.status == SlotBooking.Status.CONFIRMED and booking.hold_until is None
    assert slot_booking_confirm(reference="LB-1001").status == SlotBooking.Status.CONFIRMED
    assert slot_booking_confirm(reference="LB-none") is None


def test_confirm_leaves_a_released_booking_released(shop, slot):
    """A hold that expired before payment is not revived behind the capacity check."""
    book(shop, slot)
    slot_booking_release(reference="LB-1001", reason="hold expired")
    assert slot_booking_confirm(reference="LB-1001").status == SlotBooking.Status.RELEASED


def test_expiry_releases_only_holds_past_their_time(shop, slot):
    """Held past ``hold_until``: released ("hold expired"); still within it, held without a time,
    or confirmed: untouched. Running it again releases nothing more."""
    book(shop, slot, reference="LB-old", hold_until=NOW - timedelta(minutes=1))
    book(shop, slot, reference="LB-fresh", hold_until=NOW + timedelta(minutes=10))
    book(shop, slot, reference="LB-open")
    book(shop, slot, reference="LB-paid", confirmed=True)
    assert slot_bookings_expire(now=NOW) == 1
    statuses = dict(SlotBooking.objects.values_list("reference", "status"))
    assert statuses == {"LB-old": "released", "LB-fresh": "held", "LB-open": "held", "LB-paid": "confirmed"}
    assert SlotBooking.objects.get(reference="LB-old").released_reason == "hold expired"
    assert slot_bookings_expire(now=NOW) == 0


def test_expiry_task_runs_the_service(shop, slot):
    book(shop, slot, reference="LB-old", hold_until=datetime.now(UTC) - timedelta(minutes=1), now=NOW)
    assert slot_bookings_expire_due.apply().get() == 1


def test_reads_by_reference_and_by_day(shop, slot):
    book(shop, slot, reference="LB-A")
    book(shop, slot, reference="LB-B")
    slot_booking_release(reference="LB-B", reason="cancelled")
    SlotBookingFactory(date=MONDAY)  # another shop's
    assert slot_booking_get(reference="LB-A").slot == slot
    assert slot_booking_get(reference="LB-nope") is None
    assert [b.reference for b in slot_bookings_for_day(shop=shop, date=MONDAY)] == ["LB-A"]


# --- bad input: each refused with what to do, nothing written ----------------------------------


def _refused(error_code: str, message: str, **kwargs):
    before = SlotBooking.objects.count()
    with pytest.raises(DeliveryError) as exc:
        slot_book(**{"reference": "LB-bad", "address": address(), "subtotal": Decimal("25"), "now": NOW, **kwargs})
    assert exc.value.code == error_code
    assert exc.value.message == message
    assert SlotBooking.objects.count() == before


def test_slot_past_its_cutoff_is_refused(shop, slot):
    _refused(
        "slot-closed",
        "The 10:00–12:00 slot closed for orders at 09:00; choose a later one.",
        shop=shop,
        code=f"delivery:{slot.pk}:2026-03-02",
        now=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),  # 09:00 sharp in Singapore
    )


def test_date_in_the_past_or_too_far_ahead_is_refused(shop, slot):
    for day in ("2026-02-23", "2026-03-09"):
        _refused(
            "bad-date",
            f"Same-day delivery is booked for today or tomorrow only, not {day}; choose a slot on one of those days.",
            shop=shop,
            code=f"delivery:{slot.pk}:{day}",
        )


def test_date_on_another_weekday_than_the_slots_is_refused(shop, slot):
    _refused(
        "bad-date",
        "The 10:00–12:00 slot does not run on 2026-03-03; choose one of the slots offered for that day.",
        shop=shop,
        code=f"delivery:{slot.pk}:2026-03-03",
    )


def test_address_outside_the_zone_is_refused(shop, slot):
    _refused(
        "outside-zone",
        f"{shop.name} does not deliver to 499999; choose pickup or another address.",
        shop=shop,
        code=f"delivery:{slot.pk}:2026-03-02",
        address=far_address(),
    )


def test_shop_that_does_not_deliver_is_refused(shop, slot):
    shop.delivery_zone.active = False
    shop.delivery_zone.save()
    _refused(
        "no-delivery",
        f"{shop.name} does not deliver the same day; choose pickup or another shop.",
        shop=shop,
        code=f"delivery:{slot.pk}:2026-03-02",
    )


def test_another_shops_or_unknown_slot_is_refused(shop, slot):
    other_slot = DeliverySlotFactory(shop=delivering_shop(), weekday=0)
    for slot_id in (other_slot.pk, 987654):
        _refused(
            "unknown-slot",
            f"That delivery slot is not one of {shop.name}'s slots; pick one of the slots offered.",
            shop=shop,
            code=f"delivery:{slot_id}:2026-03-02",
        )


def test_switched_off_slot_is_refused(shop, slot):
    slot.active = False
    slot.save()
    _refused(
        "slot-off",
        "The 10:00–12:00 slot is not taking orders; choose another slot.",
        shop=shop,
        code=f"delivery:{slot.pk}:2026-03-02",
    )


@pytest.mark.parametrize("code", ["", "pickup", "delivery:abc:2026-03-02", "delivery:1:2026-02-30", "delivery:1"])
def test_malformed_slot_code_is_refused(shop, code):
    _refused(
        "bad-slot-code",
        f"{code!r} is not a delivery slot; pick one of the slots offered for this shop.",
        shop=shop,
        code=code,
    )

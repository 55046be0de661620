"""Where a shop delivers, what it costs, and which slots a buyer is offered, in the shop's own time
zone (Singapore, Bogotá, and Santiago on the day daylight saving ends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from unittest import mock

import pytest

from apps.delivery.models import SlotBooking
from apps.delivery.selectors import delivery_fee_for, delivery_slot_options, delivery_zone_covers

from .factories import (
    DeliverySlotFactory,
    DeliveryZoneFactory,
    SlotBookingFactory,
    address,
    delivering_shop,
    far_address,
)

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def week_slots(shop):
    """Monday 10–12 (order by 09:00), Monday 14–16 (by 12:00), Tuesday 10–12 (by 09:00)."""
    return (
        DeliverySlotFactory(shop=shop, weekday=0, starts=time(10), ends=time(12), cutoff=time(9)),
        DeliverySlotFactory(shop=shop, weekday=0, starts=time(14), ends=time(16), cutoff=time(12)),
        DeliverySlotFactory(shop=shop, weekday=1, starts=time(10), ends=time(12), cutoff=time(9)),
    )


# --- the zone -----------------------------------------------------------------------------------


def test_address_within_the_radius_is_covered_and_one_beyond_it_is_not():
    """A 5 km zone covers the street next door and not Changi, 20 km away."""
    shop = delivering_shop()
    assert delivery_zone_covers(shop=shop, address=address()) is True
    assert delivery_zone_covers(shop=shop, address=far_address()) is False


def test_listed_postal_district_is_covered_beyond_the_radius():
    """A zone listing district 17 (Changi) covers a Changi postcode although it is far outside the
    radius; an unlisted far district stays outside."""
    shop = delivering_shop()
    shop.delivery_zone.postal_districts = ["17"]
    shop.delivery_zone.save()
    assert delivery_zone_covers(shop=shop, address=far_address()) is True
    woodlands = address(postcode="730001", lat="1.436000", lon="103.786000")  # district 25
    assert delivery_zone_covers(shop=shop, address=woodlands) is False


def test_address_without_coordinates_is_placed_by_its_postcode_district():
    """No lat/lon: the postcode's district centre decides (Tiong Bahru is near, Changi is not)."""
    shop = delivering_shop()
    assert delivery_zone_covers(shop=shop, address=address(postcode="163079", lat=None, lon=None)) is True
    assert delivery_zone_covers(shop=shop, address=address(postcode="499999", lat=None, lon=None)) is False
    assert delivery_zone_covers(shop=shop, address=address(postcode="", lat=None, lon=None)) is False


def test_shop_without_an_active_zone_covers_nothing():
    """No zone, or a zone switched off: the shop does not deliver anywhere."""
    shop = delivering_shop()
    shop.delivery_zone.active = False
    shop.delivery_zone.save()
    assert delivery_zone_covers(shop=shop, address=address()) is False
    other = DeliveryZoneFactory().shop
    other.delivery_zone.delete()
    assert delivery_zone_covers(shop=other, address=address()) is False


# --- the fee --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtotal", "fee"),
    [("10.00", "6.00"), ("79.99", "6.00"), ("80.00", "0.00"), ("250.00", "0.00")],
)
def test_flat_fee_until_the_free_delivery_threshold(subtotal, fee):
    """6.00 below 80.00, free from 80.00 exactly."""
    shop = delivering_shop()
    assert delivery_fee_for(shop=shop, subtotal=Decimal(subtotal)) == Decimal(fee)


def test_fee_always_charged_without_a_threshold():
    shop = delivering_shop()
    shop.delivery_zone.free_above = None
    shop.delivery_zone.save()
    assert delivery_fee_for(shop=shop, subtotal=Decimal("10000")) == Decimal("6.00")


# --- slot options in the shop's time zone -------------------------------------------------------


def _codes(options):
    return [(o.slot_id, o.date) for o in options]


def test_singapore_shop_offers_only_slots_before_their_cutoff_today_and_tomorrows():
    """09:30 on a Monday in Singapore: the 10:00 slot closed at 09:00, the 14:00 one is open, and
    Tuesday's is offered; each with its code, label, fee and places left."""
    shop = delivering_shop(time_zone="Asia/Singapore")
    _ten, two, tue = week_slots(shop)
    now = utc(2026, 3, 2, 1, 30)  # 09:30 in Singapore
    options = delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("20"), now=now)
    assert _codes(options) == [(two.pk, MONDAY), (tue.pk, TUESDAY)]
    first = options[0]
    assert first.code == f"delivery:{two.pk}:2026-03-02"
    assert first.label == "Today 14:00–16:00"
    assert options[1].label == "Tomorrow 10:00–12:00"
    assert first.fee == Decimal("6.00") and first.capacity_left == 10
    assert first.cutoff_at == utc(2026, 3, 2, 4, 0)  # 12:00 in Singapore
    assert first.cutoff_at.utcoffset() is not None


def test_bogota_shop_uses_its_own_clock_at_the_same_instant():
    """The same instant is 08:30 in Bogotá (UTC-5): both of Monday's slots are still open there,
    while in Singapore (21:30) only Tuesday's is."""
    bogota = delivering_shop(time_zone="America/Bogota", currency="COP")
    b_ten, b_two, b_tue = week_slots(bogota)
    singapore = delivering_shop(time_zone="Asia/Singapore")
    _s_ten, _s_two, s_tue = week_slots(singapore)
    now = utc(2026, 3, 2, 13, 30)
    assert _codes(delivery_slot_options(shop=bogota, address=None, subtotal=Decimal("20"), now=now)) == [
        (b_ten.pk, MONDAY),
        (b_two.pk, MONDAY),
        (b_tue.pk, TUESDAY),
    ]
    assert _codes(delivery_slot_options(shop=singapore, address=None, subtotal=Decimal("20"), now=now)) == [
        (s_tue.pk, TUESDAY)
    ]


def test_bogota_evening_is_still_monday_there_when_it_is_tuesday_in_utc():
    """23:00 Monday in Bogotá is 04:00 Tuesday UTC: "today" is the shop's Monday (all closed), so
    Tuesday's slot is offered as tomorrow, with its cut-off at 09:00 Bogotá time."""
    shop = delivering_shop(time_zone="America/Bogota")
    *_monday, tue = week_slots(shop)
    now = utc(2026, 3, 3, 4, 0)
    options = delivery_slot_options(shop=shop, address=None, subtotal=Decimal("20"), now=now)
    assert _codes(options) == [(tue.pk, TUESDAY)]
    assert options[0].label == "Tomorrow 10:00–12:00"
    assert options[0].cutoff_at == utc(2026, 3, 3, 14, 0)


def test_santiago_cutoff_on_the_day_daylight_saving_ends_is_that_days_wall_clock():
    """Chile leaves summer time at midnight into Sunday 5 April 2026 (UTC-3 → UTC-4). A Sunday
    slot ordered by 09:00 closes at 13:00 UTC (09:00 at UTC-4), not at 12:00: at 12:30 UTC it is
    08:30 in Santiago and the slot is open; at 13:00 UTC it has closed. Offered the evening before
    (still UTC-3), its cut-off is already the right instant."""
    shop = delivering_shop(time_zone="America/Santiago", currency="CLP")
    sunday = DeliverySlotFactory(shop=shop, weekday=6, starts=time(10), ends=time(12), cutoff=time(9))
    day = date(2026, 4, 5)

    open_ = delivery_slot_options(shop=shop, address=None, subtotal=Decimal("20"), now=utc(2026, 4, 5, 12, 30))
    assert _codes(open_) == [(sunday.pk, day)]
    assert open_[0].cutoff_at == utc(2026, 4, 5, 13, 0)
    assert delivery_slot_options(shop=shop, address=None, subtotal=Decimal("20"), now=utc(2026, 4, 5, 13, 0)) == []

    evening_before = utc(2026, 4, 5, 2, 30)  # Saturday 23:30 at UTC-3
    options = delivery_slot_options(shop=shop, address=None, subtotal=Decimal("20"), now=evening_before)
    assert _codes(options) == [(sunday.pk, day)]
    assert options[0].label == "Tomorrow 10:00–12:00"
    assert options[0].cutoff_at == utc(2026, 4, 5, 13, 0)


def test_current_time_comes_from_the_clock_when_not_given():
    """Without ``now=`` the options follow ``django.utils.timezone.now`` (frozen here)."""
    shop = delivering_shop()
    _ten, two, tue = week_slots(shop)
    with mock.patch("django.utils.timezone.now", return_value=utc(2026, 3, 2, 1, 30)):
        options = delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("20"))
    assert _codes(options) == [(two.pk, MONDAY), (tue.pk, TUESDAY)]


def test_full_and_switched_off_slots_are_not_offered_and_places_left_are_counted():
    """A slot whose capacity is taken by held and confirmed bookings is left out; released
    bookings give their place back; a switched-off slot is never offered."""
    shop = delivering_shop()
    ten, two, tue = week_slots(shop)
    two.capacity = 2
    two.save()
    SlotBookingFactory(slot=two, date=MONDAY, status=SlotBooking.Status.HELD)
    SlotBookingFactory(slot=two, date=MONDAY, status=SlotBooking.Status.CONFIRMED)
    SlotBookingFactory(slot=tue, date=TUESDAY, status=SlotBooking.Status.CONFIRMED)
    SlotBookingFactory(slot=tue, date=TUESDAY, status=SlotBooking.Status.RELEASED)
    now = utc(2026, 3, 2, 0, 0)  # 08:00 in Singapore
    ten.active = False
    ten.save()
    options = delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("20"), now=now)
    assert _codes(options) == [(tue.pk, TUESDAY)]
    assert options[0].capacity_left == 9


def test_no_options_outside_the_zone_or_without_an_active_zone():
    """An address outside the zone, or a shop whose zone is off, gets no slots (pickup only)."""
    shop = delivering_shop()
    week_slots(shop)
    now = utc(2026, 3, 2, 0, 0)
    assert delivery_slot_options(shop=shop, address=far_address(), subtotal=Decimal("20"), now=now) == []
    shop.delivery_zone.active = False
    shop.delivery_zone.save()
    assert delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("20"), now=now) == []


def test_options_are_free_above_the_threshold():
    shop = delivering_shop()
    week_slots(shop)
    options = delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("80"), now=utc(2026, 3, 2, 0, 0))
    assert options and all(o.fee == Decimal("0.00") for o in options)


def test_options_take_three_queries(django_assert_max_num_queries):
    """Zone, slots, and booking counts: the cost does not grow with the number of slots."""
    shop = delivering_shop()
    for hour in range(8, 20, 2):
        DeliverySlotFactory(shop=shop, weekday=0, starts=time(hour), ends=time(hour + 1), cutoff=time(hour - 1))
        DeliverySlotFactory(shop=shop, weekday=1, starts=time(hour), ends=time(hour + 1), cutoff=time(hour - 1))
    with django_assert_max_num_queries(3):
        options = delivery_slot_options(shop=shop, address=address(), subtotal=Decimal("20"), now=utc(2026, 3, 1, 20))
    assert len(options) == 12

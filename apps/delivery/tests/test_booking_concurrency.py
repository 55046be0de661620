"""Slot bookings under real concurrency on PostgreSQL: a slot never takes more orders than its
capacity, and one order booked many times at once holds one place."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.db import connection

from apps.core.tests.concurrency import race, race_errors
from apps.delivery.errors import DeliveryError
from apps.delivery.models import SlotBooking
from apps.delivery.services import slot_book

from .factories import DeliverySlotFactory, address, delivering_shop

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL; CI runs these"),
]

NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 08:00 in Singapore


def _slot(capacity: int):
    shop = delivering_shop()
    slot = DeliverySlotFactory(shop=shop, weekday=0, starts=time(10), ends=time(12), cutoff=time(9), capacity=capacity)
    return shop, slot


def test_thirty_buyers_at_once_fill_a_ten_order_slot_exactly():
    """30 concurrent bookings of a 10-order slot: exactly 10 bookings, 20 clear "full" errors, no
    deadlock or other failure."""
    shop, slot = _slot(10)

    def attempt(i: int):
        return slot_book(
            shop=shop,
            code=f"delivery:{slot.pk}:2026-03-02",
            reference=f"LB-RACE-{i:02d}",
            address=address(),
            subtotal=Decimal("25"),
            now=NOW,
        )

    results = race(30, attempt, expected=(DeliveryError,))

    assert race_errors(results) == []
    winners = [r for status, r in results if status == "ok"]
    losers = [exc for status, exc in results if status == "out"]
    assert len(winners) == 10 and len(losers) == 20
    assert all(exc.code == "slot-full" and "is full" in exc.message for exc in losers), [e.message for e in losers]
    assert SlotBooking.objects.filter(slot=slot, status__in=["held", "confirmed"]).count() == 10
    assert {b.reference for b in winners} == set(SlotBooking.objects.values_list("reference", flat=True))


def test_one_order_booked_ten_times_at_once_holds_one_place():
    """A checkout retried ten times in parallel gets one booking back ten times."""
    shop, slot = _slot(5)

    def attempt(_i: int):
        return slot_book(
            shop=shop,
            code=f"delivery:{slot.pk}:2026-03-02",
            reference="LB-TWICE",
            address=address(),
            subtotal=Decimal("25"),
            now=NOW,
        )

    results = race(10, attempt)

    assert race_errors(results) == []
    assert len({booking.pk for _status, booking in results}) == 1
    assert SlotBooking.objects.count() == 1

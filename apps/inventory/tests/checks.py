"""Assertions shared by the inventory tests."""

from __future__ import annotations

from django.db.models import Sum

from apps.inventory.models import Reservation, StockItem, StockMovement


def assert_ledger_balanced() -> None:
    """Every item's levels equal the sums of its movements and its active reservations."""
    for item in StockItem.objects.all():
        sums = StockMovement.objects.filter(item=item).aggregate(
            on_hand=Sum("quantity"), reserved=Sum("reserved_delta")
        )
        held = Reservation.objects.filter(item=item, status=Reservation.Status.ACTIVE).aggregate(q=Sum("quantity"))
        assert item.on_hand == (sums["on_hand"] or 0), item
        assert item.reserved == (sums["reserved"] or 0) == (held["q"] or 0), item
        assert 0 <= item.reserved <= item.on_hand

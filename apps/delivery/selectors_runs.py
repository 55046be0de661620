"""Reads for the seller's delivery board and run sheets.

``delivery_board(shop=, date=)`` answers in a fixed number of queries however many slots, bookings,
runs and stops the day holds. ``delivery_run_get_for_shop`` raises Http404 for another shop's run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from .models import DeliveryRun, DeliverySlot, RunStop, SlotBooking
from .selectors import slot_cutoff_at


@dataclass
class BoardSlot:
    slot: DeliverySlot
    cutoff_at: datetime  # aware, the shop's time zone
    capacity: int
    held: int
    confirmed: int
    bookings: list[SlotBooking]  # held and confirmed, oldest first
    run: DeliveryRun | None
    stops: list[RunStop] = field(default_factory=list)  # the run's, in route order
    past_cutoff: bool = False

    @property
    def booked(self) -> int:
        return self.held + self.confirmed

    @property
    def capacity_left(self) -> int:
        return max(0, self.capacity - self.booked)

    @property
    def unrouted(self) -> list[SlotBooking]:
        """Confirmed bookings on no run yet (the run is built at the cut-off)."""
        return [b for b in self.bookings if b.status == SlotBooking.Status.CONFIRMED and not _has_stop(b)]

    @property
    def can_build(self) -> bool:
        """Past the cut-off with confirmed bookings not on a run that has not left yet."""
        open_run = self.run is None or self.run.status == DeliveryRun.Status.PLANNED
        return self.past_cutoff and open_run and bool(self.unrouted)

    @property
    def can_start(self) -> bool:
        return self.run is not None and self.run.status == DeliveryRun.Status.PLANNED

    @property
    def weight_grams(self) -> int:
        return sum(stop.booking.weight_grams for stop in self.stops)

    @property
    def items(self) -> int:
        return sum(stop.booking.items for stop in self.stops)


@dataclass
class Board:
    shop: object
    date: Date
    today: Date
    slots: list[BoardSlot]

    @property
    def runs(self) -> list[DeliveryRun]:
        return [s.run for s in self.slots if s.run is not None]


def _has_stop(booking: SlotBooking) -> bool:
    try:
        booking.stop  # noqa: B018  (a reverse one-to-one: raises when there is none)
    except RunStop.DoesNotExist:
        return False
    return True


def delivery_board(*, shop, date: Date, now: datetime | None = None) -> Board:
    """The shop's delivery day: each slot running that weekday (or holding bookings or a run that
    day) with its bookings, capacity left and run (stops in order, courier)."""
    tz = ZoneInfo(shop.time_zone)
    now = now or timezone.now()
    bookings = list(
        SlotBooking.objects.filter(
            shop=shop, date=date, status__in=[SlotBooking.Status.HELD, SlotBooking.Status.CONFIRMED]
        )
        .select_related("stop")
        .order_by("created_at", "pk")
    )
    runs = {
        run.slot_id: run
        for run in DeliveryRun.objects.filter(shop=shop, date=date)
        .select_related("courier")
        .prefetch_related(Prefetch("stops", queryset=RunStop.objects.select_related("booking").order_by("sequence")))
    }
    slot_ids = {b.slot_id for b in bookings} | set(runs)
    slots = (
        DeliverySlot.objects.filter(shop=shop)
        .filter(Q(weekday=date.weekday(), active=True) | Q(pk__in=slot_ids))
        .order_by("starts", "pk")
    )
    board_slots = []
    for slot in slots:
        own = [b for b in bookings if b.slot_id == slot.pk]
        run = runs.get(slot.pk)
        cutoff_at = slot_cutoff_at(slot=slot, day=date, shop=shop)
        board_slots.append(
            BoardSlot(
                slot=slot,
                cutoff_at=cutoff_at,
                capacity=slot.capacity,
                held=sum(b.status == SlotBooking.Status.HELD for b in own),
                confirmed=sum(b.status == SlotBooking.Status.CONFIRMED for b in own),
                bookings=own,
                run=run,
                stops=list(run.stops.all()) if run else [],
                past_cutoff=now >= cutoff_at,
            )
        )
    return Board(shop=shop, date=date, today=now.astimezone(tz).date(), slots=board_slots)


def delivery_run_get_for_shop(*, shop, run_id: int) -> DeliveryRun:
    """The shop's run ``run_id`` with its slot and courier; Http404 for another shop's run."""
    run = DeliveryRun.objects.select_related("slot", "courier", "shop").filter(shop=shop, pk=run_id).first()
    if run is None:
        raise Http404("No such delivery run in this shop.")
    return run


def run_sheet_stops(*, run: DeliveryRun) -> list[RunStop]:
    """The run's stops in route order, with their bookings (address, phone, items, weight)."""
    return list(run.stops.select_related("booking").order_by("sequence"))

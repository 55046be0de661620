"""Same-day delivery as the orders app sees it: following the delivery app's runs and stops, keeping
an order's slot in step with its payment, the logistics partners' delivered/failed calls, and the
late-delivery early warning.

The delivery app (below this one) knows orders only by their number; it tells us what happened
through ``apps.delivery.signals`` (receivers in ``apps.orders.receivers_delivery``), and these
services make the order transitions, always through ``order_transition``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.delivery.errors import DeliveryError
from apps.delivery.models import RunStop, SlotBooking
from apps.delivery.services import slot_book, slot_booking_confirm, slot_booking_release
from apps.delivery.services_runs import run_stop_get, run_stop_mark

from . import states
from .actors import Actor
from .errors import IllegalTransition
from .models import Fulfilment, Order, OrderEvent, OrderWarning
from .services import _status_label, order_event_record, order_transition
from .services_warnings import warning_raise

VIA = "delivery"
# Moves that give an order's place in its slot back.
RELEASING = {states.S.CANCELLED: "order cancelled", states.S.PAYMENT_FAILED: "payment not received"}


# --- the slot follows the payment ---------------------------------------------------------------------


# Refunded in full before it left the shop: the order will not be delivered, its place goes back.
NOT_YET_OUT = frozenset({states.S.PAID, states.S.CONFIRMED, states.S.ACCEPTED, states.S.PACKED})


def order_slot_follow_status(*, order: Order, to_status: str, from_status: str = "") -> SlotBooking | None:
    """Keep a delivery order's slot booking in step with its status (called on every status change,
    inside its transaction): paid → the held place is confirmed; payment failed (the checkout expired)
    or cancelled, or refunded in full before it left the shop → the place is released.

    A payment that arrives after the hold was released takes a place in the same slot again if
    there is still one; if not, the order's timeline says so, for the shop to arrange the delivery."""
    if order.fulfilment != Fulfilment.DELIVERY:
        return None
    if to_status in RELEASING:
        return slot_booking_release(reference=order.number, reason=RELEASING[to_status])
    if to_status == states.S.REFUNDED and from_status in NOT_YET_OUT:
        return slot_booking_release(reference=order.number, reason="order refunded in full")
    if to_status not in (states.S.PAID, states.S.CONFIRMED):
        return None
    booking = slot_booking_confirm(reference=order.number)
    if booking is None or booking.status != SlotBooking.Status.RELEASED:
        return booking
    try:
        return slot_book(
            shop=order.shop,
            code=f"delivery:{booking.slot_id}:{booking.date.isoformat()}",
            reference=order.number,
            address=booking.address,
            subtotal=order.subtotal,
            weight_grams=booking.weight_grams,
            items=booking.items,
            confirmed=True,
        )
    except DeliveryError as exc:
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.NOTE,
            reason=_("The payment came after the delivery slot was given up, and it cannot be booked again: %(why)s")
            % {"why": exc.message},
            via=VIA,
            data={"slot": booking.slot_id, "date": booking.date.isoformat(), "code": exc.code},
        )
        return booking


# --- runs and stops -----------------------------------------------------------------------------------


def _run_label(run, actor_label: str = "") -> str:
    if actor_label:
        return actor_label
    courier = getattr(run, "courier", None)
    return _("Courier %(name)s") % {"name": courier.name} if courier is not None else _("Delivery run")


def orders_out_for_delivery(*, references: list[str], run, actor_label: str = "") -> list[Order]:
    """The courier left with these orders (a run started): each packed order goes out for delivery
    (a failed one goes out again); an order not packed yet stays where it is, and its timeline says
    the courier left without it. Already out: nothing changes. Returns the orders moved."""
    actor = Actor.logistics(label=_run_label(run, actor_label))
    moved = []
    with transaction.atomic():
        orders = Order.objects.select_for_update().filter(number__in=references).order_by("pk")
        for order in orders:
            if order.status == Order.Status.OUT_FOR_DELIVERY:
                continue
            if order.fulfilment == Fulfilment.DELIVERY and order.status in (
                Order.Status.PACKED,
                Order.Status.DELIVERY_FAILED,
            ):
                order_transition(
                    order=order,
                    to=Order.Status.OUT_FOR_DELIVERY,
                    actor=actor,
                    via=VIA,
                    data={"run": run.pk},
                    locked=True,
                )
                moved.append(order)
                continue
            order_event_record(
                order=order,
                kind=OrderEvent.Kind.NOTE,
                actor=actor,
                reason=_("The courier left without this order: it was %(status)s, not packed.")
                % {"status": _status_label(order.status)},
                via=VIA,
                data={"run": run.pk},
            )
    return moved


def order_delivery_done(
    *, reference: str, delivered: bool, reason: str = "", actor_label: str, run=None
) -> Order | None:
    """A stop was done: the order is delivered, or its delivery failed (with the reason). An order that
    cannot make that move raises :class:`IllegalTransition` (the delivery app's call is undone). No
    order by that number (a booking made outside the orders app): nothing to do."""
    order = Order.objects.select_for_update().filter(number=reference).first()
    if order is None:
        return None
    order_transition(
        order=order,
        to=Order.Status.DELIVERED if delivered else Order.Status.DELIVERY_FAILED,
        actor=Actor.logistics(label=actor_label or _run_label(run)),
        reason=reason,
        via=VIA,
        data={"run": run.pk} if run is not None else None,
        locked=True,
    )
    return order


# --- the logistics API ----------------------------------------------------------------------------------


@transaction.atomic
def order_delivery_report(
    *, order: Order, delivered: bool, actor: Actor, reason: str = "", photo=None, via: str = "logistics"
) -> Order:
    """A delivery partner (or the shop's courier) reports an order delivered, or failed with a reason
    and maybe a photo. On a run, the run's stop is marked (``run_stop_mark``: the buyer is emailed,
    the run finishes with its last stop, and the order moves through ``delivery_stop_done``); an order
    handed over outside a run (or sent out again after a failure) moves directly.

    An order not out for delivery raises :class:`IllegalTransition` with the state machine's
    message, a pickup order too; a failed delivery without a reason as well (code
    ``reason-required``). Nothing changes then."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    target = Order.Status.DELIVERED if delivered else Order.Status.DELIVERY_FAILED
    reason = (reason or "").strip()
    if order.fulfilment != Fulfilment.DELIVERY:
        raise IllegalTransition(
            _("Order %(number)s is for %(fulfilment)s: it cannot become %(target)s.")
            % {
                "number": order.number,
                "fulfilment": order.get_fulfilment_display(),
                "target": _status_label(target),
            }
        )
    if states.transition_get(order.status, target) is None:
        raise IllegalTransition(
            _("Order %(number)s is %(status)s: it cannot become %(target)s.")
            % {"number": order.number, "status": _status_label(order.status), "target": _status_label(target)}
        )
    if not delivered and not reason:
        raise IllegalTransition(
            _("Give a reason for moving order %(number)s to %(target)s.")
            % {"number": order.number, "target": _status_label(target)},
            code="reason-required",
        )
    stop = run_stop_get(reference=order.number)
    if stop is not None and stop.status == RunStop.Status.PENDING:
        run_stop_mark(reference=order.number, delivered=delivered, reason=reason, photo=photo, actor_label=actor.label)
    else:
        data = {"photo": "not kept: the order is on no delivery run"} if photo is not None else None
        order_transition(order=order, to=target, actor=actor, reason=reason, via=via, data=data, locked=True)
    order.refresh_from_db()
    return order


@dataclass
class BulkReport:
    """What happened to each order of a bulk call, in the order sent."""

    results: list[dict] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for result in self.results if result["ok"])


def order_delivery_report_bulk(*, items: list[dict], actor: Actor, find) -> BulkReport:
    """Report many outcomes at once (``items``: ``{"number", "outcome": "delivered"|"failed",
    "reason"}``). Each order is reported in its own transaction, so one that cannot move is reported
    with its reason and the others still move. ``find(number)`` returns the caller's order or None
    (another shop's order is not found)."""
    report = BulkReport()
    for item in items:
        number = item["number"]
        order = find(number)
        if order is None:
            report.results.append(
                {
                    "number": number,
                    "ok": False,
                    "code": "not-found",
                    "detail": _("No such order: %(n)s.") % {"n": number},
                }
            )
            continue
        try:
            order = order_delivery_report(
                order=order, delivered=item["outcome"] == "delivered", reason=item.get("reason", ""), actor=actor
            )
        except ApplicationError as exc:  # illegal move, stop already done, run not started…
            report.results.append({"number": number, "ok": False, "code": exc.code, "detail": exc.message})
            continue
        report.results.append({"number": number, "ok": True, "status": order.status})
    return report


# --- the late-delivery early warning ---------------------------------------------------------------------


def _slot_end(booking: SlotBooking) -> datetime:
    zone = ZoneInfo(str(booking.shop.time_zone))
    return datetime.combine(booking.date, booking.slot.ends, tzinfo=zone)


def warnings_scan_delivery_late(*, now: datetime | None = None) -> int:
    """Warn about each order still out for delivery after the end of its slot (the slot's end in the
    shop's time zone): once per order (the warning's key). Returns how many were raised."""
    now = now or timezone.now()
    out = {
        order.number: order
        for order in Order.objects.filter(
            status=Order.Status.OUT_FOR_DELIVERY, fulfilment=Fulfilment.DELIVERY
        ).select_related("shop")
    }
    raised = 0
    if not out:
        return 0
    bookings = SlotBooking.objects.filter(reference__in=list(out)).select_related("slot", "shop")
    for booking in bookings:
        ends = _slot_end(booking)
        if now <= ends:
            continue
        order = out[booking.reference]
        local_end = ends.strftime("%Y-%m-%d %H:%M")
        with transaction.atomic():
            _warning, created = warning_raise(
                kind=OrderWarning.Kind.DELIVERY_LATE,
                key=f"delivery_late:{order.number}",
                message=_("Order %(number)s is still out for delivery after its slot ended (%(end)s, shop time).")
                % {"number": order.number, "end": local_end},
                order=order,
                data={"slot": booking.slot_id, "date": booking.date.isoformat(), "slot_end": ends.isoformat()},
            )
        raised += int(created)
    return raised

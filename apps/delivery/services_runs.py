"""Delivery runs: built at each slot's cut-off, carried by a courier, worked stop by stop.

- ``delivery_run_build`` turns a slot's confirmed bookings on a date into a run whose stops are in
  a short route from the shop (``apps.delivery.routing``), assigns the active courier with the
  fewest runs that day, and emails each buyer (the time window) and the courier (the run sheet).
  It is idempotent: the run is unique per (slot, date); building again returns it, adding (and
  re-routing, while the run has not left) bookings confirmed since.
- ``delivery_runs_build_due`` builds every run whose slot's cut-off has passed today, in each
  shop's own time zone (beat, every minute).
- ``delivery_run_start``: the courier left. Sends ``delivery_run_started`` with the order numbers
  (the orders app moves them to *out for delivery*) and tells the buyers their order is on its way.
- ``run_stop_mark``: one stop delivered, or failed (with a reason). Sends ``delivery_stop_done``,
  emails the buyer; the last stop done finishes the run.

The orders app above this one knows a stop by its order number (``reference``).
"""

from __future__ import annotations

import logging
from datetime import date as Date
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from apps.core.services import email_send
from apps.core.tasks_base import enqueue_on_commit

from .errors import DeliveryError
from .models import Courier, DeliveryRun, DeliverySlot, RunStop, SlotBooking
from .routing import route_length_km, route_order
from .selectors import slot_cutoff_at
from .signals import delivery_run_started, delivery_stop_done

logger = logging.getLogger(__name__)

# DeliveryError codes raised here (besides those in apps.delivery.errors).
RUN_NOT_DUE = "run-not-due"
RUN_NOT_STARTED = "run-not-started"
RUN_FINISHED = "run-finished"
NO_COURIER = "no-courier"
STOP_NOT_FOUND = "stop-not-found"
STOP_ALREADY_DONE = "stop-already-done"
REASON_REQUIRED = "reason-required"

REASON_MAX = RunStop._meta.get_field("reason").max_length
# Sequences are rewritten in two steps when a planned run is re-routed, so that the unique
# (run, sequence) never sees two stops on the same number in between.
_RESEQUENCE_OFFSET = 10_000


# --- building -----------------------------------------------------------------------------------


def delivery_run_build(*, slot: DeliverySlot, date: Date, now: datetime | None = None) -> DeliveryRun | None:
    """Build (or bring up to date) the slot's run on ``date``; None when nothing is confirmed for it.

    Refused before the slot's cut-off on that date (bookings still come in) and for a date that
    is not the slot's weekday. A run that has not left yet takes the bookings confirmed since it
    was built, and is re-routed; a run on the road is left as it is.
    """
    run, _added = _run_build(slot=slot, date=date, now=now)
    return run


@transaction.atomic
def _run_build(*, slot: DeliverySlot, date: Date, now: datetime | None) -> tuple[DeliveryRun | None, int]:
    now = now or timezone.now()
    # The slot's row is the lock slot_book takes too: no booking slips in while the run is built,
    # and two builders of the same run wait for each other.
    slot = DeliverySlot.objects.select_for_update().select_related("shop").get(pk=slot.pk)
    if date.weekday() != slot.weekday:
        raise DeliveryError(
            _("The %(slot)s slot does not run on %(date)s: pick a %(weekday)s.")
            % {"slot": slot, "date": date.isoformat(), "weekday": slot.get_weekday_display()},
            code=RUN_NOT_DUE,
        )
    cutoff_at = slot_cutoff_at(slot=slot, day=date, shop=slot.shop)
    if now < cutoff_at:
        raise DeliveryError(
            _("The %(slot)s slot on %(date)s takes orders until %(cutoff)s: build its run after that.")
            % {"slot": slot, "date": date.isoformat(), "cutoff": slot.cutoff.strftime("%H:%M")},
            code=RUN_NOT_DUE,
        )
    run = DeliveryRun.objects.filter(slot=slot, date=date).select_related("courier").first()
    if run is not None and run.status != DeliveryRun.Status.PLANNED:
        return run, 0
    new_bookings = list(
        SlotBooking.objects.filter(
            slot=slot, date=date, status=SlotBooking.Status.CONFIRMED, stop__isnull=True
        ).order_by("created_at", "pk")
    )
    if not new_bookings:
        return run, 0
    if run is None:
        run = DeliveryRun(
            shop=slot.shop,
            slot=slot,
            date=date,
            courier=_courier_for(shop=slot.shop, date=date),
            built_at=now,
        )
        run.full_clean(validate_constraints=False)  # (slot, date) is free: we hold the slot's lock
        run.save()
    elif run.courier is None:
        run.courier = _courier_for(shop=slot.shop, date=date)
    _drop_released_stops(run)
    kept = list(run.stops.select_related("booking").order_by("sequence"))
    bookings = [stop.booking for stop in kept] + new_bookings
    shop = slot.shop
    order = route_order(start=(float(shop.latitude), float(shop.longitude)), points=[_point(b) for b in bookings])
    run.route_km = round(
        route_length_km(
            start=(float(shop.latitude), float(shop.longitude)), points=[_point(b) for b in bookings], order=order
        ),
        2,
    )
    run.save(update_fields=["route_km", "courier", "updated_at"])
    sequence_of = {bookings[index].pk: position for position, index in enumerate(order, start=1)}
    for stop in kept:
        stop.sequence += _RESEQUENCE_OFFSET
    RunStop.objects.bulk_update(kept, ["sequence"])
    for stop in kept:
        stop.sequence = sequence_of[stop.booking_id]
    RunStop.objects.bulk_update(kept, ["sequence"])
    added = [RunStop(run=run, booking=booking, sequence=sequence_of[booking.pk]) for booking in new_bookings]
    for stop in added:
        stop.full_clean(exclude=["run", "booking"], validate_constraints=False)
    RunStop.objects.bulk_create(added)
    # The buyers' and the courier's emails are written by a task after commit, not while the run is
    # built (a run of 40 stops would otherwise spend most of its time rendering and queueing mail).
    from .tasks import run_built_notify

    enqueue_on_commit(run_built_notify, run_id=run.pk, booking_ids=[b.pk for b in new_bookings], updated=bool(kept))
    return run, len(added)


def delivery_run_built_notify(*, run_id: int, booking_ids: list[int], updated: bool) -> int:
    """Tell the buyers whose orders joined a run when it arrives, and send the courier the run sheet
    (the task after a run is built). Returns how many buyers were written to."""
    run = DeliveryRun.objects.select_related("shop", "slot", "courier").filter(pk=run_id).first()
    if run is None:
        return 0
    bookings = list(SlotBooking.objects.filter(pk__in=booking_ids).order_by("pk"))
    for booking in bookings:
        _email_buyer(booking, run, "delivery/email/run_built.txt", _("Your order %(number)s arrives %(window)s"))
    _email_courier_sheet(run, updated=updated)
    return len(bookings)


def delivery_runs_build_due(*, now: datetime | None = None) -> int:
    """Build every run due now: each active slot whose cut-off today (in its shop's time zone) has
    passed and that has confirmed bookings not yet on a run. Each run is built in its own
    transaction; one that fails is logged and the others still go. Returns how many runs were
    built or took new stops."""
    now = now or timezone.now()
    zones = DeliverySlot.objects.filter(active=True).values_list("shop__time_zone", flat=True).distinct().order_by()
    due: list[tuple[int, Date]] = []
    for zone in zones:
        local = now.astimezone(ZoneInfo(zone))
        slot_ids = (
            SlotBooking.objects.filter(
                slot__active=True,
                slot__shop__time_zone=zone,
                slot__weekday=local.weekday(),
                slot__cutoff__lte=local.time(),
                date=local.date(),
                status=SlotBooking.Status.CONFIRMED,
                stop__isnull=True,
            )
            .values_list("slot_id", flat=True)
            .distinct()
            .order_by("slot_id")
        )
        due += [(slot_id, local.date()) for slot_id in slot_ids]
    built = 0
    for slot_id, day in due:
        try:
            _run, added = _run_build(slot=DeliverySlot(pk=slot_id), date=day, now=now)
        except Exception:
            logger.exception("delivery run for slot %s on %s could not be built", slot_id, day)
            continue
        built += bool(added)
    logger.info("delivery runs due at %s: %s built or extended of %s due", now.isoformat(), built, len(due))
    return built


def _courier_for(*, shop, date: Date) -> Courier | None:
    """The shop's active courier with the fewest runs that day (then by name)."""
    return (
        Courier.objects.filter(shop=shop, active=True)
        .annotate(load=Count("runs", filter=Q(runs__date=date)))
        .order_by("load", "name", "pk")
        .first()
    )


def _point(booking: SlotBooking) -> tuple[float, float] | None:
    if booking.latitude is None or booking.longitude is None:
        return None
    return float(booking.latitude), float(booking.longitude)


def _drop_released_stops(run: DeliveryRun) -> None:
    """Orders given up after the run was built (cancelled, payment failed) are not delivered."""
    run.stops.filter(status=RunStop.Status.PENDING, booking__status=SlotBooking.Status.RELEASED).delete()


# --- on the road --------------------------------------------------------------------------------


@transaction.atomic
def delivery_run_start(
    *, run: DeliveryRun, actor_label: str, principal=None, now: datetime | None = None
) -> DeliveryRun:
    """The courier left with the run: it is on the road, the orders go out for delivery (through
    ``delivery_run_started``) and each buyer is told. Starting a run already on the road changes
    nothing; a finished run cannot start again. A run without a courier takes the shop's least busy
    active one; without any, it is refused. ``actor_label`` (and ``principal``, the shop member or
    API key, when there is one) travel with the signal, so the orders' events say who."""
    run = DeliveryRun.objects.select_for_update(of=("self",)).select_related("shop", "slot", "courier").get(pk=run.pk)
    if run.status == DeliveryRun.Status.STARTED:
        return run
    if run.status == DeliveryRun.Status.FINISHED:
        raise DeliveryError(
            _("This run is finished: every stop was delivered or failed. Deliver again from the order."),
            code=RUN_FINISHED,
        )
    if run.courier is None or not run.courier.active:
        run.courier = _courier_for(shop=run.shop, date=run.date)
        if run.courier is None:
            raise DeliveryError(
                _("No active courier carries this run: add one in the delivery settings, then start the run."),
                code=NO_COURIER,
            )
    _drop_released_stops(run)
    stops = list(run.stops.select_related("booking").order_by("sequence"))
    run.status = DeliveryRun.Status.STARTED
    run.started_at = now or timezone.now()
    run.save(update_fields=["status", "started_at", "courier", "updated_at"])
    references = [stop.booking.reference for stop in stops]
    delivery_run_started.send(
        sender=DeliveryRun, run=run, references=references, actor_label=actor_label, principal=principal
    )
    for stop in stops:
        _email_buyer(stop.booking, run, "delivery/email/run_started.txt", _("Your order %(number)s is on its way"))
    if not stops:  # every order was given up after the run was built: nothing to carry
        _finish(run, now=run.started_at)
    return run


@transaction.atomic
def run_stop_mark(
    *,
    reference: str,
    delivered: bool,
    reason: str = "",
    photo=None,
    actor_label: str,
    principal=None,
    now: datetime | None = None,
) -> RunStop:
    """Record one stop's outcome: delivered, or failed with a reason (the buyer is told either way,
    and ``delivery_stop_done`` tells the orders app). The run must be on the road. Marking a stop
    again with the same outcome changes nothing; another outcome is refused. The last stop done
    finishes the run."""
    reason = (reason or "").strip()
    stop = (
        RunStop.objects.select_for_update()
        .select_related("run", "run__shop", "run__slot", "booking")
        .filter(booking__reference=reference)
        .first()
    )
    if stop is None:
        raise DeliveryError(
            _("Order %(number)s is on no delivery run: check the number, or build the slot's run first.")
            % {"number": reference},
            code=STOP_NOT_FOUND,
        )
    if stop.status != RunStop.Status.PENDING:
        same = (stop.status == RunStop.Status.DELIVERED) == delivered
        if same:
            return stop
        raise DeliveryError(
            _("Order %(number)s was already marked %(status)s; that outcome stands. Deliver again from the order.")
            % {"number": reference, "status": stop.get_status_display().lower()},
            code=STOP_ALREADY_DONE,
        )
    run = DeliveryRun.objects.select_for_update().get(pk=stop.run_id)
    if run.status != DeliveryRun.Status.STARTED:
        raise DeliveryError(
            _("The run carrying order %(number)s has not left yet: start the run when the courier leaves.")
            % {"number": reference},
            code=RUN_NOT_STARTED,
        )
    if not delivered and not reason:
        raise DeliveryError(
            _("Say why the delivery of order %(number)s failed (e.g. nobody home).") % {"number": reference},
            code=REASON_REQUIRED,
        )
    if len(reason) > REASON_MAX:
        raise DeliveryError(_("Keep the reason under %(max)s characters.") % {"max": REASON_MAX}, code=REASON_REQUIRED)
    now = now or timezone.now()
    stop.status = RunStop.Status.DELIVERED if delivered else RunStop.Status.FAILED
    stop.reason = reason
    stop.done_at = now
    if photo is not None:
        stop.photo = photo
    stop.full_clean(exclude=["run", "booking", "photo"], validate_constraints=False)
    stop.save()
    stop.run = run
    delivery_stop_done.send(
        sender=RunStop,
        run=run,
        stop=stop,
        reference=reference,
        delivered=delivered,
        reason=reason,
        actor_label=actor_label,
        principal=principal,
    )
    template = "delivery/email/stop_delivered.txt" if delivered else "delivery/email/stop_failed.txt"
    subject = _("Your order %(number)s was delivered") if delivered else _("We could not deliver order %(number)s")
    _email_buyer(stop.booking, run, template, subject, reason=reason)
    still_to_go = run.stops.filter(status=RunStop.Status.PENDING).exclude(booking__status=SlotBooking.Status.RELEASED)
    if not still_to_go.exists():
        _finish(run, now=now)
    return stop


def _finish(run: DeliveryRun, *, now: datetime) -> None:
    run.status = DeliveryRun.Status.FINISHED
    run.finished_at = now
    run.save(update_fields=["status", "finished_at", "updated_at"])


def run_stop_get(*, reference: str) -> RunStop | None:
    """The stop carrying order ``reference`` (with its run, slot, courier and booking), or None."""
    return (
        RunStop.objects.select_related("run", "run__shop", "run__slot", "run__courier", "booking")
        .filter(booking__reference=reference)
        .first()
    )


# --- emails -------------------------------------------------------------------------------------


def _window(run: DeliveryRun) -> dict:
    return {
        "date": run.date,
        "starts": run.slot.starts.strftime("%H:%M"),
        "ends": run.slot.ends.strftime("%H:%M"),
    }


def _email_buyer(booking: SlotBooking, run: DeliveryRun, template: str, subject: str, **extra) -> None:
    """Email the buyer whose address (copied from the order) names an email; in their language
    when the order said which."""
    address = booking.address or {}
    to = (address.get("email") or "").strip()
    if not to:
        return
    window = _window(run)
    with translation.override(address.get("language") or translation.get_language()):
        when = _("between %(starts)s and %(ends)s on %(date)s") % {
            **window,
            "date": formats.date_format(run.date, "DATE_FORMAT"),
        }
        context = {"booking": booking, "run": run, "shop": run.shop, "address": address, "when": when, **window}
        email_send(
            to=[to],
            subject=str(subject) % {"number": booking.reference, "window": when},
            body=render_to_string(template, {**context, **extra}),
        )


def _email_courier_sheet(run: DeliveryRun, *, updated: bool) -> None:
    if run.courier is None or not run.courier.email:
        return
    stops = list(run.stops.select_related("booking").order_by("sequence"))
    window = _window(run)
    subject = (
        _("Updated run sheet: %(shop)s, %(date)s %(starts)s–%(ends)s")
        if updated
        else _("Run sheet: %(shop)s, %(date)s %(starts)s–%(ends)s")
    )
    email_send(
        to=[run.courier.email],
        subject=subject % {"shop": run.shop.name, **window, "date": run.date.isoformat()},
        body=render_to_string(
            "delivery/email/run_sheet.txt",
            {"run": run, "shop": run.shop, "courier": run.courier, "stops": stops, "updated": updated, **window},
        ),
    )

"""Delivery tasks: thin doors that call one service and own the retries."""

from celery import shared_task

from .services import slot_bookings_expire
from .services_runs import delivery_run_built_notify, delivery_runs_build_due


@shared_task(name="delivery.slot_bookings_expire")
def slot_bookings_expire_due() -> int:
    """Give back the slot places of bookings whose hold has run out (beat, every minute). Safe to run
    twice at once: each booking is released by whichever run locks it first."""
    return slot_bookings_expire()


@shared_task(name="delivery.runs_build_due")
def runs_build_due() -> int:
    """Build the delivery runs of every slot whose cut-off has passed today, in each shop's time
    zone (beat, every minute). Safe to run twice at once: a run is unique per slot and day, and
    its builder holds the slot's lock."""
    return delivery_runs_build_due()


@shared_task(name="delivery.run_built_notify", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def run_built_notify(*, run_id: int, booking_ids: list[int], updated: bool) -> int:
    """Email the buyers of a newly built (or grown) run and its courier's run sheet."""
    return delivery_run_built_notify(run_id=run_id, booking_ids=booking_ids, updated=updated)

"""Inventory tasks: thin doors that call one service."""

from celery import shared_task

from .services import reservations_expire


@shared_task(name="inventory.reservations_expire")
def reservations_expire_due() -> int:
    """Release the checkouts' holds whose expiry has passed (run by beat every minute). Safe to run
    twice at once: each hold is released by whichever run locks it first."""
    return reservations_expire()

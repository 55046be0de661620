"""Orders tasks: thin doors that call one service and own the retries."""

from celery import shared_task
from django.db import OperationalError

from .services import checkout_payment_cancel_now, checkouts_expire, order_refund_in_full


@shared_task(name="orders.checkouts_expire")
def checkouts_expire_due() -> int:
    """Release the stock of card checkouts not paid in time (beat, every minute)."""
    return checkouts_expire()


@shared_task(name="orders.checkout_payment_cancel", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def checkout_payment_cancel(*, number: str) -> str:
    return checkout_payment_cancel_now(number=number)


@shared_task(name="orders.order_refund_unfulfillable", autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def order_refund_unfulfillable(*, order_id: int) -> str:
    """Refund an order paid after its items sold out (its payment came in after the hold expired)."""
    return order_refund_in_full(order_id=order_id, reason="the items sold out before the payment arrived")


# --- tax documents (apps.orders.services_documents) ---------------------------------------------
# A database or mail server briefly away is retried with backoff; a business error is not.


@shared_task(
    name="orders.invoice_deliver",
    autoretry_for=(OSError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
    acks_late=True,
)
def order_invoice_deliver(*, order_id: int) -> str:
    """Issue a paid or confirmed order's tax invoice and email it to the buyer, once."""
    from .services_documents import invoice_deliver

    return invoice_deliver(order_id=order_id)


@shared_task(
    name="orders.credit_note_deliver",
    autoretry_for=(OSError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
    acks_late=True,
)
def order_credit_note_deliver(*, order_id: int, refund_reference: str, amount: str, currency: str, reason: str) -> str:
    """Issue the credit note of one refund and email it to the buyer, once."""
    from apps.core.money import Money

    from .services_documents import credit_note_deliver

    return credit_note_deliver(
        order_id=order_id, refund_reference=refund_reference, amount=Money(amount, currency), reason=reason
    )


# --- early warnings (apps.orders.services_warnings) ---------------------------------------------

WARNING_WEBHOOK_MAX_RETRIES = 5


@shared_task(name="orders.warnings_scan_overdue")
def warnings_scan_overdue_due() -> int:
    """Warn about orders not accepted or not dispatched in their shop's time (beat, every 5 minutes)."""
    from .services_warnings import warnings_scan_overdue

    return warnings_scan_overdue()


@shared_task(name="orders.warnings_scan_payment_failures")
def warnings_scan_payment_failures_due() -> int | None:
    """Warn when too many card payments failed lately (beat, every 5 minutes); the new warning's id."""
    from .services_warnings import warnings_scan_payment_failures

    warning = warnings_scan_payment_failures()
    return warning.pk if warning else None


@shared_task(name="orders.warnings_scan_delivery_late")
def warnings_scan_delivery_late_due() -> int:
    """Warn about orders still out for delivery after their slot ended (beat, every 5 minutes)."""
    from .services_delivery import warnings_scan_delivery_late

    return warnings_scan_delivery_late()


@shared_task(
    bind=True,
    name="orders.warning_notify",
    max_retries=WARNING_WEBHOOK_MAX_RETRIES,
    autoretry_for=(OSError, OperationalError),
    retry_backoff=True,
    acks_late=True,
)
def warning_notify(self, *, warning_id: int) -> str:
    """Email a new warning (once) and post it to the warnings webhook. A failed post is retried with
    exponential backoff (``WEBHOOK_RETRY_BASE_SECONDS``, doubling; the email is not sent again);
    each failure is logged, and after the last retry the post is given up."""
    import logging

    from django.conf import settings

    from apps.core.webhooks import WebhookError

    from .services_warnings import warning_email_send, warning_webhook_post

    emailed = warning_email_send(warning_id=warning_id)
    try:
        posted = warning_webhook_post(warning_id=warning_id)
    except WebhookError as exc:
        log = logging.getLogger("apps.orders.warnings")
        attempt = self.request.retries + 1
        if self.request.retries >= self.max_retries:
            log.error("warning %s: webhook failed for good after %d attempts: %s", warning_id, attempt, exc)
            return f"{emailed}; webhook failed"
        log.warning("warning %s: webhook failed (attempt %d), retrying: %s", warning_id, attempt, exc)
        raise self.retry(exc=exc, countdown=settings.WEBHOOK_RETRY_BASE_SECONDS * 2**self.request.retries) from exc
    return f"{emailed}; {posted}"


# --- the order pipeline (apps.orders.services_intake) ---------------------------------------------


@shared_task(bind=True, name="orders.intake_process", acks_late=True, reject_on_worker_lost=True, max_retries=None)
def intake_process(self, *, intake_id: int) -> str:
    """Take an incoming order through its remaining pipeline steps. Acked only when done, so a
    worker that dies mid-step leaves the message for another worker (each step is idempotent); a
    transient failure comes back after the service's backoff until it dead-letters the intake."""
    from .services_intake import intake_pipeline_run

    outcome = intake_pipeline_run(intake_id=intake_id)
    # Run in process (no broker: the demo, tests): retry at once; the service caps the attempts.
    while outcome.retry_in is not None and self.request.is_eager:
        outcome = intake_pipeline_run(intake_id=intake_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return f"{outcome.status} at {outcome.step}" if outcome.step else outcome.status


# --- batch order files (apps.orders.services_files) ------------------------------------------------


@shared_task(
    name="orders.order_file_process",
    autoretry_for=(OSError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
    acks_late=True,
    reject_on_worker_lost=True,
    # A file of 20,000 orders takes minutes, more than the default limits; still under the broker's
    # visibility timeout, so the message is not handed to a second worker while this one works.
    soft_time_limit=1800,
    time_limit=1900,
)
def order_file_process(*, file_id: int) -> str:
    """Read a batch file and submit its orders one by one. Safe to run again: orders already
    submitted are found, not doubled, and the report is rebuilt."""
    from .selectors_files import order_file_get
    from .services_files import order_file_process as process

    order_file = process(order_file=order_file_get(pk=file_id))
    return f"{order_file.status}: {order_file.accepted} accepted, {order_file.duplicates} duplicates, {order_file.rejected} rejected"

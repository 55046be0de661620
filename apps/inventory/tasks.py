"""Inventory tasks: thin doors that call one service and own the retries."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from apps.core.webhooks import WebhookError

from .alerts import alert_email_deliver, alert_webhook_deliver
from .counts import stock_count_fail, stock_count_process
from .services import reservations_expire

WEBHOOK_MAX_RETRIES = 5


@shared_task(name="inventory.reservations_expire")
def reservations_expire_due() -> int:
    """Release the checkouts' holds whose expiry has passed (run by beat every minute). Safe to run
    twice at once: each hold is released by whichever run locks it first."""
    return reservations_expire()


@shared_task(name="inventory.alert_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def alert_email(*, alert_id: int) -> str:
    """Email an inventory alert to the shop's stock handlers (once, whatever the retries)."""
    return alert_email_deliver(alert_id=alert_id)


@shared_task(bind=True, name="inventory.alert_webhook", max_retries=WEBHOOK_MAX_RETRIES)
def alert_webhook(self, *, alert_id: int) -> str:
    """Post an inventory alert to the shop's webhook, retried with exponential backoff (by default
    30 s, 1, 2, 4, 8 min: ``WEBHOOK_RETRY_BASE_SECONDS``); each failure is logged and recorded on
    the alert, the last one marks it failed."""
    final = self.request.retries >= self.max_retries
    try:
        return alert_webhook_deliver(alert_id=alert_id, final_attempt=final)
    except WebhookError as exc:
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=settings.WEBHOOK_RETRY_BASE_SECONDS * 2**self.request.retries) from exc


@shared_task(
    bind=True,
    name="inventory.stock_count_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,
    time_limit=660,
)
def stock_count_run(self, *, count_id: int) -> dict:
    """Apply an uploaded stock count. A lost worker's message comes back and the count starts over
    (harmless: lines already applied match the books)."""
    try:
        return stock_count_process(count_id=count_id)
    except SoftTimeLimitExceeded:
        stock_count_fail(count_id=count_id)
        raise


@shared_task(name="inventory.anomaly_scan_nightly")
def anomaly_scan_nightly() -> int:
    """Score every shop's movements of the last two days and record the unusual ones (run by beat
    nightly; each shop's model is fitted fresh). Returns the number of anomalies created."""
    from .anomalies import anomalies_scan_all  # scikit-learn loads only in the worker that runs this

    return sum(len(scan.anomalies) for scan in anomalies_scan_all())

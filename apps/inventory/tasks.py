"""Inventory tasks: thin doors that call one service and own the retries."""

from celery import shared_task

from apps.core.webhooks import WebhookError

from .alerts import alert_email_deliver, alert_webhook_deliver
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
    """Post an inventory alert to the shop's webhook, retried with exponential backoff (30 s, 1, 2,
    4, 8 min); each failure is logged and recorded on the alert, the last one marks it failed."""
    final = self.request.retries >= self.max_retries
    try:
        return alert_webhook_deliver(alert_id=alert_id, final_attempt=final)
    except WebhookError as exc:
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc

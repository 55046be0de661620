"""Core tasks: email delivery and the worker heartbeat."""

from __future__ import annotations

import base64
import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from .request_context import get_request_id

logger = logging.getLogger(__name__)

HEARTBEAT_CACHE_KEY = "core:worker-heartbeat"


@shared_task(
    name="core.email_deliver",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def email_deliver(*, to, subject, body, html_body=None, from_email=None, attachments=None) -> int:
    """Send one email through the configured backend; retried with backoff on connection errors.
    ``attachments``: (file name, base64 content, MIME type) each, as ``email_send`` queues them."""
    message = EmailMultiAlternatives(
        subject=subject, body=body, from_email=from_email or settings.DEFAULT_FROM_EMAIL, to=to
    )
    if html_body:
        message.attach_alternative(html_body, "text/html")
    for name, content, mimetype in attachments or []:
        message.attach(name, base64.b64decode(content), mimetype)
    sent = message.send()
    logger.info("email %r sent to %d recipient(s)", subject, len(to))
    return sent


@shared_task(name="core.worker_heartbeat")
def worker_heartbeat(token: str = "beat") -> dict:  # noqa: S107  (a label, not a secret)
    """Record that a worker is alive (run by beat every minute; ops read the cache key).

    Stores the time, the token and the request id the task ran under, so a test or an operator can
    see that a task really went through the broker and a worker.
    """
    record = {"token": token, "at": timezone.now().isoformat(), "request_id": get_request_id()}
    cache.set(f"{HEARTBEAT_CACHE_KEY}:{token}", record, timeout=3600)
    return record


@shared_task(name="core.idempotency_records_purge")
def idempotency_records_purge_due() -> int:
    """Forget API answers kept for Idempotency-Key replays once they are older than
    ``IDEMPOTENCY_KEY_TTL_HOURS`` (beat, hourly)."""
    from .idempotency import idempotency_records_purge

    return idempotency_records_purge()

"""Messaging tasks: thin doors that call one service (safe to run twice: the service re-checks
under a row lock and emails once per quiet period)."""

from celery import shared_task

from .services_notify import conversation_notify_if_due, notifications_send_due


@shared_task(name="messaging.conversation_notify", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def conversation_notify(*, conversation_id: int, side: str) -> str:
    """Queued ``MESSAGING_NOTIFY_AFTER_SECONDS`` after a message: email ``side`` if it is still unread."""
    return conversation_notify_if_due(conversation_id=conversation_id, side=side)


@shared_task(name="messaging.notifications_sweep")
def notifications_sweep() -> int:
    """Run by beat every 5 minutes: email every side whose quiet period passed and that a lost task
    missed. Returns the number of emails sent."""
    return notifications_send_due()

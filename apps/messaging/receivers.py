"""Receivers of the messaging signals (connected in ``MessagingConfig.ready``): they only queue
tasks, after the transaction commits."""

from __future__ import annotations

from django.db import transaction

from apps.core.request_context import get_request_id, new_request_id
from apps.core.tasks_base import REQUEST_ID_HEADER


def notify_on_message_sent(sender, *, message, conversation, **kwargs) -> None:
    """Check, once the quiet period has passed, whether the other side still has not read it."""
    from .services_notify import notify_after, sides_to_notify
    from .tasks import conversation_notify

    countdown = int(notify_after().total_seconds())
    request_id = get_request_id() or new_request_id()
    for side in sides_to_notify(message.side):

        def send(side=side):
            conversation_notify.apply_async(
                kwargs={"conversation_id": conversation.pk, "side": side},
                countdown=countdown,
                headers={REQUEST_ID_HEADER: request_id},
            )

        transaction.on_commit(send)

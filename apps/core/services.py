"""Core writes: the staff audit log and outgoing email (always sent by Celery after commit)."""

from __future__ import annotations

import base64
from typing import Any

from django.db import transaction

from .models import AuditLogEntry
from .request_context import get_request_id
from .tasks_base import enqueue_on_commit


@transaction.atomic
def audit_log_record(
    *,
    actor: Any,
    action: str,
    obj: Any,
    changes: dict[str, Any] | None = None,
    reason: str = "",
    source: str = "admin",
    ip_address: str | None = None,
) -> AuditLogEntry:
    """Append one entry to the audit log for a change ``actor`` made to ``obj``."""
    entry = AuditLogEntry(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=changes or {},
        reason=reason,
        source=source,
        ip_address=ip_address,
        request_id=get_request_id() or "",
    )
    entry.full_clean()
    entry.save()
    return entry


def email_send(
    *,
    to: list[str],
    subject: str,
    body: str,
    html_body: str | None = None,
    from_email: str | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None,
) -> None:
    """Queue an email; it leaves only if the surrounding transaction commits.

    ``attachments``: (file name, content, MIME type) each; the content travels base64-encoded in
    the task's JSON message."""
    from .tasks import email_deliver

    kwargs = {}
    if attachments:
        kwargs["attachments"] = [
            (name, base64.b64encode(content).decode("ascii"), mimetype) for name, content, mimetype in attachments
        ]
    enqueue_on_commit(
        email_deliver, to=list(to), subject=subject, body=body, html_body=html_body, from_email=from_email, **kwargs
    )

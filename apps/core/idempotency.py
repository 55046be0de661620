"""Idempotency keys for API writes: a retried POST does its work once.

A client that may retry a request (a timeout, a dropped connection) sends a key of its own choosing
in the ``Idempotency-Key`` header. :func:`idempotent_response` runs the request's work once per
(caller, route, key) and stores the answer; the same key again, from the same caller, on the same
route and with the same body, gets the stored answer (marked ``Idempotent-Replayed: true``) and
nothing is done twice. The same key with a different body is refused (422): the client is reusing
a key by mistake. Two requests with the same key at the same moment queue on the key's row: the
second waits for the first and gets its answer.

Only successful answers are stored: when the work raises (a validation error, a conflict), nothing
is kept, so the client can fix the request and send it again with the same key. Keys are kept for
``IDEMPOTENCY_KEY_TTL_HOURS`` (a key older than that starts afresh).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import ApplicationError
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = IdempotencyRecord._meta.get_field("key").max_length


class IdempotencyKeyInvalid(ApplicationError):
    status_code = 400
    code = "idempotency-key-invalid"
    title = "The Idempotency-Key header is not valid"


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used for another request"


@dataclass(frozen=True)
class StoredResponse:
    """An answer to replay: status, JSON body and the headers worth keeping (e.g. ``Location``)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


def request_fingerprint(data: Any) -> str:
    """The SHA-256 of the request body as parsed JSON (key order and spacing do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_clean(raw: str | None) -> str | None:
    """The header's key, or None when the request has none; :class:`IdempotencyKeyInvalid` when
    it is empty, too long or not printable ASCII."""
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > KEY_MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid(
            _("Send an Idempotency-Key of 1 to %(max)s printable ASCII characters, e.g. a UUID.")
            % {"max": KEY_MAX_LENGTH}
        )
    return key


def _replay(record: IdempotencyRecord, fingerprint: str) -> StoredResponse:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            _(
                "The Idempotency-Key %(key)s was already used for a request with another body. Use a new key for "
                "a new request; resend the same body to get the first answer again."
            )
            % {"key": record.key}
        )
    return StoredResponse(
        status=record.response_status, body=record.response_body, headers=record.response_headers, replayed=True
    )


def idempotent_response(
    *, key: str, principal: str, scope: str, fingerprint: str, run: Callable[[], StoredResponse]
) -> StoredResponse:
    """Run ``run`` once per (``principal``, ``scope``, ``key``) and keep its answer; replay it for
    the same key and ``fingerprint``. ``run`` does its writes in this same transaction, so the
    answer is stored exactly when the work is committed."""
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    with transaction.atomic():
        existing = (
            IdempotencyRecord.objects.select_for_update().filter(principal=principal, scope=scope, key=key).first()
        )
        if existing is not None:
            if existing.created_at >= timezone.now() - ttl:
                return _replay(existing, fingerprint)
            existing.delete()
        record = IdempotencyRecord(
            principal=principal[:100], scope=scope[:200], key=key, request_hash=fingerprint, response_status=0
        )
        try:
            # A request with the same key running now holds this row: the insert waits for it.
            with transaction.atomic():
                record.save()
        except IntegrityError:
            existing = IdempotencyRecord.objects.select_for_update().get(principal=principal, scope=scope, key=key)
            return _replay(existing, fingerprint)
        response = run()
        record.response_status = response.status
        record.response_body = response.body
        record.response_headers = dict(response.headers)
        record.save(update_fields=["response_status", "response_body", "response_headers"])
        return response


def idempotency_records_purge(*, older_than: timedelta | None = None) -> int:
    """Forget keys older than ``IDEMPOTENCY_KEY_TTL_HOURS`` (or ``older_than``); returns how many."""
    cutoff = timezone.now() - (older_than or timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS))
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted

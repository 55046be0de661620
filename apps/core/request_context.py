"""The id of the request (or task) being handled, for logs and for tasks the request enqueues."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Accept ids from a load balancer or client only when they look like ids (no log injection).
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:=\-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """Return ``value`` if it is a safe id, else a fresh one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return new_request_id()


def get_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None):
    """Set the current id; returns a token for :func:`reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)

"""The error type every business rule raises.

Each app subclasses :class:`ApplicationError`; views turn it into a form error or message, the API
into an RFC 9457 problem document with ``status`` and ``code``.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A broken business rule, with a message a user can act on."""

    status_code = 400
    code = "application-error"
    title = "The request could not be completed"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        return str(self.message)


class NotFound(ApplicationError):
    status_code = 404
    code = "not-found"
    title = "Not found"


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission-denied"
    title = "Permission denied"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    title = "Conflict"

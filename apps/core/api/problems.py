"""RFC 9457 problem details for every API error.

Every error the API returns, from DRF validation to an unknown route or a crash, is a JSON object
with ``type``, ``title``, ``status``, ``detail`` and ``instance``, served as
``application/problem+json``. Validation errors add ``errors``: a list of ``{"field", "message"}``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ApplicationError
from apps.core.request_context import get_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
}


def problem_document(
    *, status_code: int, code: str, detail: str, title: str | None = None, instance: str = "", **extra: Any
) -> dict[str, Any]:
    body = {
        "type": f"{settings.PROBLEM_TYPE_BASE_URL}{code}",
        "title": title or _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": get_request_id(),
    }
    body.update(extra)
    return body


def _flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dict/list to a flat ``[{"field": "a.b", "message": "..."}]``."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or ""
            out.extend(_flatten_errors(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out.extend(_flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
            else:
                out.extend(_flatten_errors(value, prefix))
        return out
    return [{"field": prefix, "message": str(detail)}]


def _code_for(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes.replace("_", "-")
    return "validation-error" if isinstance(exc, exceptions.ValidationError) else "error"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""

    if isinstance(exc, ApplicationError):
        body = problem_document(
            status_code=exc.status_code,
            code=exc.code,
            title=exc.title,
            detail=exc.message,
            instance=instance,
            **exc.extra,
        )
        return Response(body, status=exc.status_code, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real crash: Django's handler500 answers with a problem document

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        body = problem_document(
            status_code=response.status_code,
            code="validation-error",
            title="Your request has invalid fields",
            detail=detail or "Invalid input.",
            instance=instance,
            errors=errors,
        )
    else:
        body = problem_document(
            status_code=response.status_code,
            code=_code_for(exc),
            detail=str(exc.detail),
            instance=instance,
        )
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(request, status_code: int, code: str, detail: str) -> JsonResponse:
    """A problem document from plain Django (URL not found, server error, MFA needed)."""
    body = problem_document(status_code=status_code, code=code, detail=detail, instance=request.get_full_path())
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")

"""Core pages: health checks, metrics and error pages."""

from __future__ import annotations

import ipaddress
import secrets

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from .api.problems import is_api_request, problem_response
from .selectors import readiness_checks


@never_cache
@require_GET
def healthz_live(request):
    """The process answers: no database, no Redis."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz_ready(request):
    """Database and Redis reachable, migrations applied; 503 naming each failing check."""
    results = readiness_checks()
    ok = all(r.ok for r in results)
    body = {
        "status": "ok" if ok else "fail",
        "checks": {r.name: {"ok": r.ok, "detail": r.detail} for r in results},
    }
    if not ok:
        body["failing"] = [r.name for r in results if not r.ok]
    return JsonResponse(body, status=200 if ok else 503)


def _metrics_caller_allowed(request) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and secrets.compare_digest(header[7:].strip(), token):
        return True
    try:
        # REMOTE_ADDR, never X-Forwarded-For: Prometheus scrapes instances directly.
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for network in settings.METRICS_ALLOWED_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


@never_cache
def metrics(request):
    """Prometheus exposition, only for allowed networks or the bearer token."""
    if not _metrics_caller_allowed(request):
        response = HttpResponse(
            "Forbidden: metrics need an allowed network or a bearer token.\n", status=403, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return ExportToDjangoView(request)


def error_400(request, exception=None):
    if is_api_request(request):
        return problem_response(request, 400, "bad-request", "The request could not be understood.")
    return render(request, "400.html", status=400)


def error_403(request, exception=None):
    if is_api_request(request):
        return problem_response(request, 403, "permission-denied", "You do not have permission to do this.")
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    if is_api_request(request):
        return problem_response(request, 404, "not-found", f"Nothing is at {request.path}.")
    return render(request, "404.html", status=404)


def error_500(request):
    if is_api_request(request):
        return problem_response(
            request,
            500,
            "server-error",
            "Something went wrong on our side. It has been logged; quote the request id if you contact support.",
        )
    return render(request, "500.html", status=500)


def csrf_failure(request, reason=""):
    if is_api_request(request):
        return problem_response(request, 403, "csrf-failed", "CSRF check failed: reload the page and try again.")
    return render(request, "403_csrf.html", status=403)

"""Outgoing webhooks: URLs that shops give us, and posting JSON to them safely.

A shop-supplied URL is a way into our network if we post wherever it points (server-side request
forgery): only http(s) URLs are accepted, and unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` is set,
every address the host resolves to must be public (no loopback, private, link-local, e.g. the cloud
metadata service, or reserved ranges). The check runs when the URL is saved and again before every
post, since DNS can change in between. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

USER_AGENT = "LocalBazaar-Webhook/1.0"


class WebhookError(Exception):
    """Posting failed (refused destination, network error, or a non-2xx answer); ``str()`` says why."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def webhook_url_validate(url: str) -> None:
    """Raise ``ValidationError`` unless ``url`` is an http(s) URL whose host resolves to addresses
    we may post to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Enter an http:// or https:// URL."), code="webhook-scheme")
    if parts.username or parts.password:
        raise ValidationError(_("Leave the user name and password out of the URL."), code="webhook-credentials")
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ValidationError(
            _("The host %(host)s could not be found.") % {"host": parts.hostname}, code="webhook-host"
        ) from None
    if not all(_public(info[4][0]) for info in infos):
        raise ValidationError(
            _("The URL must point to a public internet address, not a private or local one."), code="webhook-private"
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def webhook_post_json(url: str, payload: dict, *, timeout: float | None = None) -> int:
    """POST ``payload`` as JSON to ``url``; return the HTTP status. Raises :class:`WebhookError`
    for a refused destination, a network failure, a timeout or any answer outside 2xx."""
    try:
        webhook_url_validate(url)
    except ValidationError as exc:
        raise WebhookError(f"destination refused: {exc.messages[0]}") from None
    request = urllib.request.Request(  # noqa: S310  (http/https only: checked by webhook_url_validate)
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        method="POST",
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout or settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(f"could not reach the URL: {reason}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"HTTP {status}")
    return status

"""Shop integrations authenticate with an API key: ``Authorization: Api-Key <key>``.

``Authorization: Bearer <key>`` is accepted too when the key looks like ours (``lb_…``), so tools
that only speak Bearer tokens work. A key acts for its own shop only (``ShopPermission`` checks
that and the key's scopes). Unknown or revoked keys get a 401 problem document that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apps.shops.models import ApiKey, Shop
from apps.shops.selectors import api_key_find
from apps.shops.services import API_KEY_PREFIX, api_key_touch

API_KEY_KEYWORD = "Api-Key"
BEARER_KEYWORD = "Bearer"


@dataclass(frozen=True, eq=False)
class ApiKeyPrincipal:
    """``request.user`` for a request made with an API key: the integration, not a person."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    @property
    def shop(self) -> Shop:
        return self.api_key.shop

    def is_verified(self) -> bool:
        # A key is one factor by design; it never passes for an MFA-verified person.
        return False

    def get_username(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return f"API key {self.api_key.name} ({self.api_key.prefix}) of {self.api_key.shop.slug}"


def _presented_key(request) -> str | None:
    """The secret from ``Api-Key <key>`` or ``Bearer lb_…``; None when the header is for someone else."""
    parts = get_authorization_header(request).split()
    if not parts:
        return None
    scheme = parts[0].decode("latin-1").lower()
    ours_as_bearer = (
        scheme == BEARER_KEYWORD.lower() and len(parts) == 2 and parts[1].startswith(f"{API_KEY_PREFIX}_".encode())
    )
    if scheme != API_KEY_KEYWORD.lower() and not ours_as_bearer:
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(
            _("Send the key as “Authorization: Api-Key <key>”, with no spaces in the key."),
            code="invalid_api_key",
        )
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise exceptions.AuthenticationFailed(_("This API key is not valid."), code="invalid_api_key") from exc


class ApiKeyAuthentication(BaseAuthentication):
    """``request.user`` is an :class:`ApiKeyPrincipal`, ``request.auth`` the :class:`ApiKey`."""

    def authenticate(self, request):
        raw = _presented_key(request)
        if raw is None:
            return None
        key = api_key_find(raw_key=raw)
        if key is None:
            raise exceptions.AuthenticationFailed(
                _(
                    "This API key is not valid or has been revoked. A shop owner can create a new key "
                    "in the seller portal under API keys."
                ),
                code="invalid_api_key",
            )
        api_key_touch(key=key)
        return ApiKeyPrincipal(api_key=key), key

    def authenticate_header(self, request) -> str | None:
        # A 401 (with this challenge) for requests that presented a key; requests with no
        # credentials keep DRF's 403 "not-authenticated" that session clients already handle.
        if _has_key_header(request):
            return f'{API_KEY_KEYWORD} realm="LocalBazaar API"'
        return None


def _has_key_header(request) -> bool:
    try:
        return _presented_key(request) is not None
    except exceptions.AuthenticationFailed:
        return True


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the scheme in the OpenAPI schema (``components.securitySchemes.ApiKeyAuth``)."""

    target_class = "apps.shops.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "A shop API key created in the seller portal (API keys), shown once. Send "
                "`Authorization: Api-Key <key>` (or `Authorization: Bearer <key>`). A key acts for its "
                "own shop only, within its scopes: `catalog:read`, `catalog:write`, `stock`, `orders`, "
                "`logistics`."
            ),
        }

"""Who may act on a shop through the API: the permission matrix, applied to keys and members alike.

Shop-scoped routes carry the shop in the URL (``/api/v1/shops/<shop_slug>/…``). The acting
principal is resolved for that shop, then :func:`apps.shops.access.principal_allows` decides:

- an API key acts only for its own shop (any other slug: 404, as if the shop did not exist) and
  only within its scopes (403 naming the scope it lacks);
- a signed-in person acts through their membership (non-members: 404), by their role (403), and,
  like in the seller portal, only with MFA verified when they must use it.

Usage: ``permission_classes = [shop_permission(Perm.CATALOG_EDIT, read=Perm.CATALOG_VIEW)]`` or
``permission_classes = [ShopPermission]`` with ``required_perm`` on the view (a permission, or a
``{"GET": …, "POST": …}`` mapping by HTTP method).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.accounts.selectors import user_requires_mfa
from apps.shops.access import SCOPE_PERMS, principal_allows
from apps.shops.errors import ShopPermissionDenied
from apps.shops.models import ApiKey, Membership
from apps.shops.permissions import Perm
from apps.shops.selectors import dedicated_shop_slug, membership_get


def _not_found() -> exceptions.NotFound:
    return exceptions.NotFound(_("No such shop."))


def shop_principal_get(*, request, shop_slug: str) -> ApiKey | Membership:
    """The API key or membership acting for ``shop_slug``; 404 when it may not act there at all."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is not None:
        pinned = dedicated_shop_slug()
        if key.shop.slug != shop_slug or (pinned and pinned != shop_slug):
            raise _not_found()
        return key
    user = request.user
    if not user or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    try:
        membership = membership_get(user=user, shop_slug=shop_slug)
    except Http404 as exc:
        raise _not_found() from exc
    if user_requires_mfa(user=user) and not getattr(user, "is_verified", lambda: False)():
        raise ShopPermissionDenied(
            _("Verify with two-factor authentication first, then try again."), code="mfa-required"
        )
    return membership


def _denied(principal: ApiKey | Membership, perm: str) -> ShopPermissionDenied:
    label = Perm(perm).label
    if isinstance(principal, ApiKey):
        scopes = sorted(scope for scope, perms in SCOPE_PERMS.items() if Perm(perm) in perms)
        return ShopPermissionDenied(
            _("This API key may not do this (%(perm)s): it needs the scope %(scopes)s. Create a key with it.")
            % {"perm": label, "scopes": " or ".join(scopes)},
            code="scope-missing",
        )
    return ShopPermissionDenied(
        _("Your role in this shop does not allow this (%(perm)s). Ask the shop owner.") % {"perm": label}
    )


class ShopPermission(BasePermission):
    """Resolves the principal for the URL's ``shop_slug`` and checks the required permission.

    On success the view gets ``view.shop`` and ``view.principal`` (the ApiKey or Membership).
    """

    perm: str | None = None
    read_perm: str | None = None

    def _required_perm(self, request, view) -> str:
        if request.method in SAFE_METHODS and self.read_perm:
            return self.read_perm
        perm = self.perm or getattr(view, "required_perm", None)
        if isinstance(perm, dict):
            perm = perm.get(request.method)
        if not perm:
            raise ImproperlyConfigured(f"{type(view).__name__} needs a permission for {request.method}.")
        return perm

    def has_permission(self, request, view) -> bool:
        shop_slug = view.kwargs.get("shop_slug")
        if not shop_slug:
            raise ImproperlyConfigured(f"{type(view).__name__} is shop-scoped but its URL has no <shop_slug>.")
        perm = self._required_perm(request, view)
        principal = shop_principal_get(request=request, shop_slug=shop_slug)
        if not principal_allows(principal, perm):
            raise _denied(principal, perm)
        view.principal = principal
        view.shop = principal.shop
        return True


def shop_permission(perm: str, *, read: str | None = None) -> type[ShopPermission]:
    """A :class:`ShopPermission` requiring ``perm`` (and ``read`` instead for GET/HEAD/OPTIONS)."""
    return type(
        f"ShopPermission[{perm}]",
        (ShopPermission,),
        {"perm": perm, "read_perm": read},
    )


class IsAuthenticatedPerson(BasePermission):
    """The API's default: a signed-in person. An API key is refused (403) wherever a view has not
    opted in to keys (``ShopPermission`` or ``AllowAny``), so no view mistakes a key for a user."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            raise exceptions.PermissionDenied(
                _(
                    "API keys cannot use this endpoint: it is for signed-in people. Keys work on their "
                    "shop's routes, under /api/v1/shops/<shop>/."
                ),
                code="api-key-not-accepted",
            )
        return bool(request.user and request.user.is_authenticated)

"""The one mechanism that enforces the permission matrix, for every door.

- HTML views: ``@seller_view(Perm.X)`` resolves ``/sell/<shop_slug>/…`` to the user's membership
  (404 for a shop they are not a member of) and checks the role (403 with a message otherwise).
- API views: ``ShopPermission`` (``apps.shops.api.permissions``) calls :func:`principal_allows`
  for a shop API key (its scopes) or a signed-in member (their role).
- Admin: ``ShopScopedAdminMixin`` (``apps.shops.admin``) limits platform support staff by the same
  matrix when they act inside a shop.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils.translation import gettext as _

from .errors import ShopPermissionDenied
from .models import ApiKey, ApiScope, Membership
from .permissions import Perm, role_allows
from .selectors import membership_get

# What each API key scope lets an integration do, in terms of the same permissions.
SCOPE_PERMS: dict[str, frozenset[Perm]] = {
    ApiScope.CATALOG_READ: frozenset({Perm.CATALOG_VIEW}),
    ApiScope.CATALOG_WRITE: frozenset({Perm.CATALOG_VIEW, Perm.CATALOG_EDIT, Perm.CATALOG_IMPORT}),
    ApiScope.STOCK: frozenset({Perm.STOCK_VIEW, Perm.STOCK_ADJUST}),
    ApiScope.ORDERS: frozenset({Perm.ORDERS_VIEW, Perm.ORDERS_FULFIL, Perm.ORDERS_MANAGE}),
    ApiScope.LOGISTICS: frozenset({Perm.ORDERS_VIEW, Perm.ORDERS_FULFIL}),
    ApiScope.MESSAGES: frozenset({Perm.MESSAGES_VIEW, Perm.MESSAGES_REPLY}),
    ApiScope.LOYALTY: frozenset({Perm.BOOSTS_MANAGE}),
}


def principal_allows(principal: Membership | ApiKey, perm: str) -> bool:
    """True when a member (by role) or an API key (by scopes) may do ``perm`` in its shop."""
    if isinstance(principal, ApiKey):
        return principal.is_active and any(Perm(perm) in SCOPE_PERMS.get(s, frozenset()) for s in principal.scopes)
    return role_allows(principal.role, perm)


def check_shop_permission(principal: Membership | ApiKey, perm: str) -> None:
    if not principal_allows(principal, perm):
        raise ShopPermissionDenied(
            _("Your role in this shop does not allow this (%(perm)s). Ask the shop owner.") % {"perm": Perm(perm).label}
        )


def seller_view(perm: str):
    """Decorate a seller-portal view taking ``shop_slug``: sets ``request.shop`` and
    ``request.membership``; 404 for non-members, 403 when the role lacks ``perm``."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, shop_slug: str, *args, **kwargs):
            membership = membership_get(user=request.user, shop_slug=shop_slug)
            try:
                check_shop_permission(membership, perm)
            except ShopPermissionDenied as exc:
                raise DjangoPermissionDenied(exc.message) from exc
            request.membership = membership
            request.shop = membership.shop
            return view(request, *args, **kwargs)

        wrapper.shop_permission = perm
        return wrapper

    return decorator

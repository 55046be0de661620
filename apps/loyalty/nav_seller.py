"""The seller portal's "Loyalty boosts" link: a context processor, so the shops app's navigation
links to the boosts without importing loyalty.

Only on seller pages (``@seller_view`` set ``request.membership``) for a role that may fund boosts
(``boosts.manage``). It costs the page no query.
"""

from __future__ import annotations

from django.urls import reverse

from apps.shops.access import principal_allows
from apps.shops.permissions import Perm


def seller_boosts_link(request) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None or not hasattr(membership, "role") or not principal_allows(membership, Perm.BOOSTS_MANAGE):
        return {}
    return {"seller_boosts_url": reverse("loyalty_seller:list", args=[membership.shop.slug])}

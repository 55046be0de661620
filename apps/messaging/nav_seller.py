"""The seller portal's "Messages (N)" link: a context processor, so the shops app's navigation
links to the inbox without importing messaging.

Only on seller pages (``@seller_view`` set ``request.membership``) for a role that may read
messages. It costs the page no query: the navigation loads the unread count from ``unread_url``
with htmx (one cheap count query, refreshed every 30 seconds), so every seller page keeps its
pinned query count; ``unread`` is there for a template that wants it inline (one query, on use).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.functional import cached_property

from apps.shops.access import principal_allows
from apps.shops.permissions import Perm

from .selectors import unread_count_for_shop


class SellerInboxLink:
    def __init__(self, shop):
        self.shop = shop

    @cached_property
    def url(self) -> str:
        return reverse("messaging_seller:inbox", args=[self.shop.slug])

    @cached_property
    def unread_url(self) -> str:
        return reverse("messaging_seller:unread-count", args=[self.shop.slug])

    @cached_property
    def unread(self) -> int:
        return unread_count_for_shop(shop=self.shop)


def seller_inbox_link(request) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None or not hasattr(membership, "role") or not principal_allows(membership, Perm.MESSAGES_VIEW):
        return {}
    return {"seller_inbox": SellerInboxLink(membership.shop)}

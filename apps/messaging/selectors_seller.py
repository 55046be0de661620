"""Reads for the seller's shared inbox that the core selectors do not cover: who in the shop may be
assigned a conversation, and the shop's blocked buyers. Every getter takes the shop and raises 404
for another shop's ids."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from apps.shops.models import Membership, Shop
from apps.shops.permissions import Perm, Role, role_allows

from .models import BuyerBlock


def _reader_roles() -> list[str]:
    return [role.value for role in Role if role_allows(role, Perm.MESSAGES_VIEW)]


def message_readers_for_shop(*, shop: Shop) -> QuerySet[Membership]:
    """The shop's members whose role may read messages (the people a conversation can be assigned to)."""
    return (
        Membership.objects.select_related("user")
        .filter(shop=shop, role__in=_reader_roles())
        .order_by("user__first_name", "user__last_name", "user__email")
    )


def message_reader_get(*, shop: Shop, user_id: int) -> Membership | None:
    """The member with this user id if they may read the shop's messages, else None."""
    return message_readers_for_shop(shop=shop).filter(user_id=user_id).first()


def buyer_blocks_for_shop(*, shop: Shop) -> QuerySet[BuyerBlock]:
    """The buyers the shop no longer takes messages from, most recently blocked first."""
    return BuyerBlock.objects.select_related("buyer", "blocked_by").filter(shop=shop).order_by("-created_at", "-id")


def buyer_block_get_for_shop(*, shop: Shop, pk: int) -> BuyerBlock:
    """One of the shop's blocks, or 404 (another shop's block does not exist here)."""
    block = buyer_blocks_for_shop(shop=shop).filter(pk=pk).first()
    if block is None:
        raise Http404("No such blocked buyer.")
    return block


def buyer_block_for(*, shop: Shop, buyer) -> BuyerBlock | None:
    """The shop's block on this buyer, if any."""
    return BuyerBlock.objects.filter(shop=shop, buyer=buyer).first()

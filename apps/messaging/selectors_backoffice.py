"""Reads for the back office's moderation pages (platform staff only; the views check that)."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from .models import BuyerBlock, Conversation, ConversationReport

REPORT_TABS = ("open", "all")


def reports_for_staff(*, show: str = "open") -> QuerySet[ConversationReport]:
    """Reports, open ones first, newest first within each group; ``show="open"`` only the open."""
    reports = ConversationReport.objects.select_related(
        "conversation__shop", "conversation__buyer", "reporter", "resolved_by"
    ).annotate(
        open_first=Case(
            When(status=ConversationReport.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    if show == "open":
        reports = reports.filter(status=ConversationReport.Status.OPEN)
    return reports.order_by("open_first", "-created_at", "-id")


def report_get_for_staff(*, pk: int) -> ConversationReport:
    return get_object_or_404(ConversationReport.objects.select_related("conversation__shop"), pk=pk)


def reports_for_conversation(*, conversation: Conversation) -> list[ConversationReport]:
    return list(conversation.reports.select_related("reporter", "resolved_by").order_by("-created_at", "-id"))


def buyer_block_for(*, conversation: Conversation) -> BuyerBlock | None:
    """The shop's block on this conversation's buyer, if any."""
    return (
        BuyerBlock.objects.select_related("blocked_by")
        .filter(shop_id=conversation.shop_id, buyer_id=conversation.buyer_id)
        .first()
    )

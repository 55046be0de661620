"""Email notifications about unread messages: one email per conversation per quiet period.

When a message is sent, the other side gets a task that runs ``MESSAGING_NOTIFY_AFTER_SECONDS``
later (default 15 minutes); a beat task every 5 minutes catches anything a lost task missed. Both
call :func:`conversation_notify_if_due`, which emails a side only when, at that moment:

- it has a message from the other side that is still unread and at least the quiet period old;
- it has not unsubscribed from this conversation;
- it was not emailed about this conversation since it last read it (``<side>_notified_at`` is
  compared with ``<side>_last_read_at`` under a row lock, so racing tasks send one email).

Three messages in a row give one email; once the side reads the conversation, the next unread
message may give another. The buyer side is the conversation's buyer; the shop side is the member
it is assigned to, or every member whose role may read messages.

Each email links back to the conversation and carries a one-click unsubscribe link for that
conversation: a token signed with ``django.core.signing`` (no sign-in needed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core.services import email_send
from apps.shops.models import Membership
from apps.shops.permissions import Perm, role_allows

from .models import Conversation, Message, Side

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "messaging.unsubscribe"
NOTIFIED_SIDES = (Side.BUYER, Side.SHOP)
# The sweep looks at conversations with a message in this window (older ones were handled).
SWEEP_LOOKBACK = timedelta(days=3)


class UnsubscribeTokenInvalid(Exception):
    """The unsubscribe link was altered, cut short or was never ours."""


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str
    name: str


def notify_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "MESSAGING_NOTIFY_AFTER_SECONDS", 900)))


def sides_to_notify(sender_side: str) -> list[str]:
    """Who hears about a message from ``sender_side``: the other party (both, for support)."""
    return [side for side in NOTIFIED_SIDES if side != sender_side]


# --- unsubscribe tokens ------------------------------------------------------------------------------


def unsubscribe_token_make(*, conversation: Conversation, side: str) -> str:
    """A signed token naming the conversation and the side that stops getting its emails."""
    if side not in NOTIFIED_SIDES:
        raise ValueError(f"No emails go to the side {side!r}.")
    return signing.dumps({"c": conversation.pk, "s": str(side)}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(*, token: str) -> tuple[int, str]:
    """(conversation id, side) from a token; :class:`UnsubscribeTokenInvalid` when it was tampered with."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise UnsubscribeTokenInvalid(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or data.get("s") not in NOTIFIED_SIDES:
        raise UnsubscribeTokenInvalid("Unexpected token content.")
    return data["c"], data["s"]


def unsubscribe_url(*, conversation: Conversation, side: str) -> str:
    token = unsubscribe_token_make(conversation=conversation, side=side)
    return f"{settings.SITE_URL}{reverse('messaging_unsubscribe:unsubscribe', kwargs={'token': token})}"


# --- who and where -------------------------------------------------------------------------------------


def shop_recipients(*, conversation: Conversation) -> list[Recipient]:
    """The assigned member when the conversation is assigned (and may still read messages), else
    every active member of the shop whose role may read messages."""
    members = [
        m
        for m in Membership.objects.filter(shop_id=conversation.shop_id).select_related("user").order_by("user__email")
        if m.user.is_active and role_allows(m.role, Perm.MESSAGES_VIEW)
    ]
    if conversation.assigned_to_id:
        assigned = [m for m in members if m.user_id == conversation.assigned_to_id]
        members = assigned or members
    return [Recipient(m.user.email, m.user.preferred_language, m.user.display_name) for m in members if m.user.email]


def buyer_recipients(*, conversation: Conversation) -> list[Recipient]:
    buyer = conversation.buyer
    if not buyer.is_active or not buyer.email:
        return []
    return [Recipient(buyer.email, buyer.preferred_language, buyer.display_name)]


def conversation_url(*, conversation: Conversation, side: str) -> str:
    """The conversation's page for ``side`` (the buyer's messages or the shop's inbox)."""
    try:
        if side == Side.BUYER:
            path = reverse("messaging:thread", kwargs={"pk": conversation.pk})
        else:
            path = reverse(
                "messaging_seller:conversation",
                kwargs={"shop_slug": conversation.shop.slug, "conversation_id": conversation.pk},
            )
    except NoReverseMatch:  # the pages' URLs are not mounted (e.g. an API-only deployment)
        logger.warning("no %s page for conversation %s to link to", side, conversation.pk)
        return settings.SITE_URL + "/"
    return f"{settings.SITE_URL}{path}"


# --- the check and the email -------------------------------------------------------------------------


def _last_read(conversation: Conversation, side: str) -> datetime | None:
    return conversation.buyer_last_read_at if side == Side.BUYER else conversation.shop_last_read_at


def _notified(conversation: Conversation, side: str) -> datetime | None:
    return conversation.buyer_notified_at if side == Side.BUYER else conversation.shop_notified_at


def _unsubscribed(conversation: Conversation, side: str) -> bool:
    return conversation.buyer_unsubscribed if side == Side.BUYER else conversation.shop_unsubscribed


def _unread_for(conversation: Conversation, side: str):
    """Messages ``side`` has not read yet (from the other party or support), oldest first."""
    unread = Message.objects.filter(conversation=conversation).exclude(side=side)
    last_read = _last_read(conversation, side)
    if last_read is not None:
        unread = unread.filter(created_at__gt=last_read)
    return unread.order_by("created_at", "id")


@transaction.atomic
def conversation_notify_if_due(*, conversation_id: int, side: str, now: datetime | None = None) -> str:
    """Email ``side`` about this conversation if a message has waited unread for the quiet period
    and they were not emailed about it since they last read it. Returns what happened: ``sent``,
    ``not-due`` (nothing unread, or not waiting long enough yet), ``already-notified``,
    ``unsubscribed``, ``no-recipients`` or ``gone``."""
    if side not in NOTIFIED_SIDES:
        raise ValueError(f"No emails go to the side {side!r}.")
    now = now or timezone.now()
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("shop", "buyer", "product", "order")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        return "gone"
    if _unsubscribed(conversation, side):
        return "unsubscribed"
    notified, last_read = _notified(conversation, side), _last_read(conversation, side)
    if notified is not None and (last_read is None or notified >= last_read):
        return "already-notified"
    unread = list(_unread_for(conversation, side)[:6])
    if not unread or unread[0].created_at > now - notify_after():
        return "not-due"
    recipients = (
        buyer_recipients(conversation=conversation)
        if side == Side.BUYER
        else shop_recipients(conversation=conversation)
    )
    if not recipients:
        return "no-recipients"
    unread_total = _unread_for(conversation, side).count()
    context = {
        "conversation": conversation,
        "side": side,
        "messages": unread[:5],
        "more": max(unread_total - 5, 0),
        "unread_total": unread_total,
        "conversation_url": conversation_url(conversation=conversation, side=side),
        "unsubscribe_url": unsubscribe_url(conversation=conversation, side=side),
    }
    for recipient in recipients:
        with translation.override(recipient.language):
            context["recipient"] = recipient
            if side == Side.BUYER:
                subject = _("%(shop)s sent you a message on LocalBazaar") % {"shop": conversation.shop.name}
            else:
                subject = _("[%(shop)s] Unread message from %(buyer)s") % {
                    "shop": conversation.shop.name,
                    "buyer": conversation.buyer.display_name,
                }
            email_send(
                to=[recipient.email],
                subject=subject,
                body=render_to_string("messaging/email/unread_messages.txt", context),
            )
    field = "buyer_notified_at" if side == Side.BUYER else "shop_notified_at"
    Conversation.objects.filter(pk=conversation.pk).update(**{field: now})
    return "sent"


def conversations_due_for_notification(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """(conversation id, side) pairs that look due (re-checked under lock when notified): a recent
    message from the other party unread for the quiet period, subscribed, not notified since read."""
    now = now or timezone.now()
    cutoff = now - notify_after()
    due: list[tuple[int, str]] = []
    recent = Conversation.objects.filter(last_message_at__gte=now - SWEEP_LOOKBACK)
    for side in NOTIFIED_SIDES:
        prefix = "buyer" if side == Side.BUYER else "shop"
        waiting = Message.objects.filter(conversation=OuterRef("pk"), created_at__lte=cutoff).exclude(side=side)
        never_read = Q(**{f"{prefix}_last_read_at__isnull": True}) & Q(Exists(waiting))
        unread_since = Q(Exists(waiting.filter(created_at__gt=OuterRef(f"{prefix}_last_read_at"))))
        not_notified = Q(**{f"{prefix}_notified_at__isnull": True}) | Q(
            **{f"{prefix}_notified_at__lt": F(f"{prefix}_last_read_at")}
        )
        pks = (
            recent.filter(**{f"{prefix}_unsubscribed": False})
            .filter(not_notified)
            .filter(never_read | unread_since)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        due.extend((pk, str(side)) for pk in pks)
    return due


def notifications_send_due(*, now: datetime | None = None) -> int:
    """Notify every side that is due (the beat's catch-all); returns how many emails went out
    (one per conversation and side, whatever the number of recipients)."""
    sent = 0
    for conversation_id, side in conversations_due_for_notification(now=now):
        if conversation_notify_if_due(conversation_id=conversation_id, side=side, now=now) == "sent":
            sent += 1
    return sent

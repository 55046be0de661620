"""Reads for conversations and messages, always scoped to who is asking.

The getters raise ``Http404`` for a conversation the buyer or shop is not part of, so another
user's (or another shop's) conversation id looks exactly like one that does not exist.

Unread: a side has unread messages when ``last_message_at`` is later than its ``*_last_read_at``
(sending marks one's own side read, so only the other side's and support's messages count).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.http import Http404

from apps.shops.models import Shop

from .models import Conversation, Message, Side

INBOX_FILTERS = ("all", "unread", "with_order", "archived", "mine")
BUYER_UNREAD_CACHE_SECONDS = 30


def buyer_unread_cache_key(user_id: int) -> str:
    """Where the header's unread count for a buyer is cached (services drop it when it may change)."""
    return f"messaging:unread:buyer:{user_id}"


def _unread_q(side: str) -> Q:
    field = f"{side}_last_read_at"
    return Q(**{f"{field}__isnull": True}) | Q(last_message_at__gt=F(field))


def _with_unread(qs: QuerySet[Conversation], side: str) -> QuerySet[Conversation]:
    return qs.annotate(unread=ExpressionWrapper(_unread_q(side), output_field=BooleanField()))


def _thread_related(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return qs.select_related("shop", "buyer", "product", "order", "assigned_to")


def conversation_get_for_buyer(*, buyer, pk: int) -> Conversation:
    conversation = _thread_related(Conversation.objects.filter(buyer=buyer, pk=pk)).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def conversation_get_for_shop(*, shop: Shop, pk: int) -> Conversation:
    conversation = _thread_related(Conversation.objects.filter(shop=shop, pk=pk)).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def conversation_get_for_staff(*, pk: int) -> Conversation:
    """Platform support may read any conversation (the caller checked the user is staff)."""
    conversation = _thread_related(Conversation.objects.filter(pk=pk)).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def conversation_for_subject(*, buyer, shop: Shop, subject_key: str) -> Conversation | None:
    """The buyer's conversation with ``shop`` about ``subject_key``, if there is one."""
    return Conversation.objects.filter(buyer=buyer, shop=shop, subject_key=subject_key).first()


def conversations_for_buyer(*, buyer) -> QuerySet[Conversation]:
    """The buyer's conversations, newest first, each with ``unread`` (one query per page)."""
    qs = Conversation.objects.filter(buyer=buyer).select_related("shop", "product", "order")
    return _with_unread(qs, Side.BUYER).order_by("-last_message_at", "-id")


def inbox_for_shop(*, shop: Shop, show: str = "all", user=None, query: str = "") -> QuerySet[Conversation]:
    """The shop's shared inbox, newest first, each conversation with ``unread`` (for the shop).

    ``show``: ``all`` (not archived), ``unread``, ``with_order``, ``archived`` or ``mine`` (assigned
    to ``user``); anything else means ``all``. ``query`` matches the buyer's name or email, the order
    number, the product's title and the messages' text.
    """
    qs = _with_unread(
        Conversation.objects.filter(shop=shop).select_related("buyer", "product", "order", "assigned_to"),
        Side.SHOP,
    )
    if show == "archived":
        qs = qs.filter(archived_by_shop=True)
    elif show == "mine":
        qs = qs.filter(assigned_to=user) if user is not None else qs.none()
    else:
        qs = qs.filter(archived_by_shop=False)
        if show == "unread":
            qs = qs.filter(_unread_q(Side.SHOP))
        elif show == "with_order":
            qs = qs.filter(order__isnull=False)
    query = " ".join((query or "").split())[:200]
    if query:
        qs = qs.filter(
            Q(buyer__email__icontains=query)
            | Q(buyer__first_name__icontains=query)
            | Q(buyer__last_name__icontains=query)
            | Q(order__number__iexact=query)
            | Q(product__title__icontains=query)
            | Exists(Message.objects.filter(conversation=OuterRef("pk"), body__icontains=query))
        )
    return qs.order_by("-last_message_at", "-id")


def messages_for_conversation(*, conversation: Conversation, after_id: int | None = None) -> QuerySet[Message]:
    """The thread in order (oldest first); with ``after_id``, only the messages after that one."""
    qs = Message.objects.filter(conversation=conversation).select_related("sender")
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    return qs.order_by("created_at", "id")


THREAD_WINDOW = 50  # a thread page shows the latest messages; earlier ones on demand


def thread_latest(*, conversation: Conversation, show_all: bool = False) -> tuple[list[Message], int]:
    """The thread as a page shows it, oldest first: the latest ``THREAD_WINDOW`` messages (all of
    them with ``show_all``), and how many earlier ones are left out. Two queries at most."""
    if show_all:
        return list(messages_for_conversation(conversation=conversation)), 0
    latest = list(
        Message.objects.filter(conversation=conversation)
        .select_related("sender")
        .order_by("-created_at", "-id")[: THREAD_WINDOW + 1]
    )
    if len(latest) <= THREAD_WINDOW:
        return latest[::-1], 0
    latest = latest[:THREAD_WINDOW]
    earlier = Message.objects.filter(conversation=conversation, pk__lt=latest[-1].pk).count()
    return latest[::-1], earlier


def unread_count_for_buyer(*, user) -> int:
    """How many of the buyer's conversations have messages the buyer has not read (one query)."""
    return Conversation.objects.filter(buyer=user).filter(_unread_q(Side.BUYER)).count()


def unread_count_for_buyer_cached(*, user) -> int:
    """``unread_count_for_buyer``, cached briefly; services drop the cached count when it changes."""
    key = buyer_unread_cache_key(user.pk)
    count = cache.get(key)
    if count is None:
        count = unread_count_for_buyer(user=user)
        cache.set(key, count, getattr(settings, "MESSAGING_UNREAD_CACHE_SECONDS", BUYER_UNREAD_CACHE_SECONDS))
    return count


def unread_count_for_shop(*, shop: Shop) -> int:
    """How many conversations in the shop's inbox (not archived) have unread messages."""
    return Conversation.objects.filter(shop=shop, archived_by_shop=False).filter(_unread_q(Side.SHOP)).count()


def message_is_read(message: Message, conversation: Conversation) -> bool:
    """Read receipt: the other side has read up to the message (support's messages: the buyer has)."""
    other = conversation.shop_last_read_at if message.side == Side.BUYER else conversation.buyer_last_read_at
    return other is not None and other >= message.created_at


def message_attachment_get_for_user(*, user, message_id: int) -> Message:
    """A message with an image, for a user who may read its conversation (its buyer, a member of the
    shop whose role may read messages, or platform support whose session passed MFA); 404 otherwise."""
    from django.http import Http404

    from apps.shops.access import principal_allows
    from apps.shops.models import Membership
    from apps.shops.permissions import Perm

    message = Message.objects.select_related("conversation").exclude(attachment="").filter(pk=message_id).first()
    if message is None:
        raise Http404
    conversation = message.conversation
    if conversation.buyer_id == user.pk:
        return message
    if user.is_staff and getattr(user, "is_verified", lambda: False)():
        return message
    membership = Membership.objects.filter(user=user, shop_id=conversation.shop_id).first()
    if membership is not None and principal_allows(membership, Perm.MESSAGES_VIEW):
        return message
    raise Http404


def message_attachment_get_for_shop(*, shop, conversation_id: int, message_id: int) -> Message:
    """A message with an image in one of ``shop``'s conversations (the API's door); 404 otherwise."""
    from django.http import Http404

    message = (
        Message.objects.exclude(attachment="")
        .filter(pk=message_id, conversation_id=conversation_id, conversation__shop=shop)
        .first()
    )
    if message is None:
        raise Http404
    return message


def own_messages_newly_read(*, conversation: Conversation, side: str, after_id: int, limit: int = 50) -> list[Message]:
    """``side``'s own messages after ``after_id`` that the other side has read by now (the thread's
    poller updates their receipts without a reload; ``after_id`` is the newest one it already shows
    as read)."""
    other_read = conversation.shop_last_read_at if side == Side.BUYER else conversation.buyer_last_read_at
    if other_read is None:
        return []
    return list(
        Message.objects.filter(conversation=conversation, side=side, pk__gt=after_id, created_at__lte=other_read)
        .only("pk")
        .order_by("pk")[:limit]
    )

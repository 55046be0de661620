"""Writes for conversations, messages, reports and blocks.

Every function is keyword-only and runs in one transaction. A broken rule raises
:class:`~apps.messaging.errors.MessagingError` (or a subclass) with a message the user can act on:
empty or too long text, a wrong or too large image, a blocked buyer, sending too fast, editing too
late. ``message_send`` sends ``message_sent`` inside its transaction (receivers queue their work
with ``enqueue_on_commit``).

Unread state: a side has unread messages when the conversation's ``last_message_at`` is later than
that side's ``*_last_read_at``. Sending counts as having read up to one's own message.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.core.images import validate_uploaded_image
from apps.shops.models import Membership, Shop
from apps.shops.permissions import Perm, role_allows

from .errors import MessagingError, RateLimited, SenderBlocked
from .models import BuyerBlock, Conversation, ConversationReport, Message, Side
from .selectors import buyer_unread_cache_key
from .signals import message_sent

MAX_BODY_CHARS = 4000
MAX_REASON_CHARS = 500
PREVIEW_CHARS = 160
READ_SIDES = (Side.BUYER, Side.SHOP)
IMAGE_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def _forget_buyer_unread(buyer_id: int) -> None:
    transaction.on_commit(lambda: cache.delete(buyer_unread_cache_key(buyer_id)))


# --- checks --------------------------------------------------------------------------------------


def _clean_body(body: str, *, has_image: bool) -> str:
    body = (body or "").strip()
    if not body and not has_image:
        raise MessagingError(_("Write a message (or attach an image) before sending."), code="message-empty")
    if len(body) > MAX_BODY_CHARS:
        raise MessagingError(
            _("Your message is %(length)d characters long; the limit is %(max)d. Shorten it or send it in two parts.")
            % {"length": len(body), "max": MAX_BODY_CHARS},
            code="message-too-long",
        )
    return body


def _check_image(attachment) -> None:
    max_bytes = int(getattr(settings, "MESSAGING_IMAGE_MAX_BYTES", 5_000_000))
    if attachment.size > max_bytes:
        raise MessagingError(
            _("This image is %(size).1f MB; the limit is %(max).1f MB. Attach a smaller photo.")
            % {"size": attachment.size / 1_000_000, "max": max_bytes / 1_000_000},
            code="image-too-large",
        )
    try:
        validate_uploaded_image(attachment)
    except ValidationError as exc:
        raise MessagingError(" ".join(exc.messages), code="image-invalid") from exc


def _image_name(attachment) -> str:
    """An unguessable file name (the image URL is the only key to it), keeping the real extension."""
    from PIL import Image

    position = attachment.tell() if hasattr(attachment, "tell") else 0
    try:
        with Image.open(attachment) as image:
            extension = IMAGE_EXTENSIONS.get(image.format or "", "")
    finally:
        attachment.seek(position)
    extension = extension or PurePath(getattr(attachment, "name", "") or "").suffix.lstrip(".").lower() or "img"
    return f"{uuid.uuid4().hex}.{extension}"


def _check_side(side: str, *, allowed=tuple(Side)) -> str:
    if side not in {str(s) for s in allowed}:
        raise MessagingError(
            _("Unknown side %(side)r: use one of %(sides)s.") % {"side": side, "sides": ", ".join(allowed)},
            code="invalid-side",
        )
    return str(side)


def _is_blocked(*, shop_id: int, buyer_id: int) -> bool:
    return BuyerBlock.objects.filter(shop_id=shop_id, buyer_id=buyer_id).exists()


_RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def rate_limit_parse(spec: str) -> tuple[int, int]:
    """``"20/10m"`` → (20 messages, 600 seconds); also ``"5/m"``, ``"100/h"``, ``"3/30s"``."""
    match = _RATE_RE.match(spec or "")
    if not match:
        raise ValueError(f"MESSAGING_RATE_LIMIT must look like '20/10m', not {spec!r}")
    count, number, unit = match.groups()
    return int(count), int(number or 1) * _RATE_UNITS[unit]


def _rate_limit_take(sender) -> None:
    """Count one message for ``sender``; refuse when it would exceed the limit in the window.

    The window slides in buckets (a tenth of it, at least a second): the counts of the buckets that
    make up the window are summed. The counter is incremented first, so two simultaneous sends
    cannot both take the last slot.
    """
    limit, window = rate_limit_parse(getattr(settings, "MESSAGING_RATE_LIMIT", "20/10m"))
    bucket_seconds = max(1, window // 10)
    buckets = math.ceil(window / bucket_seconds)
    now = time.time()
    current = int(now // bucket_seconds)
    prefix = f"messaging:rate:{sender.pk}:"
    key = f"{prefix}{current}"
    cache.add(key, 0, timeout=window + bucket_seconds)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + bucket_seconds)
    keys = [f"{prefix}{current - i}" for i in range(buckets)]
    counts = cache.get_many(keys)
    if sum(int(v) for v in counts.values()) <= limit:
        return
    with contextlib.suppress(ValueError):  # the bucket expired meanwhile: nothing to give back
        cache.decr(key)
    # The oldest bucket still holding messages leaves the window first.
    oldest = min((int(k.rsplit(":", 1)[1]) for k, v in counts.items() if int(v) > 0), default=current)
    retry_after = max(1, int((oldest + buckets) * bucket_seconds - now))
    minutes = max(1, math.ceil(retry_after / 60))
    raise RateLimited(
        ngettext(
            "You are sending messages too fast: try again in %(minutes)d minute.",
            "You are sending messages too fast: try again in %(minutes)d minutes.",
            minutes,
        )
        % {"minutes": minutes},
        extra={"retry_after": retry_after},
    )


def _preview(body: str, *, has_image: bool) -> str:
    text = " ".join((body or "").split())
    if not text and has_image:
        return _("[Image]")
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _lock(conversation: Conversation) -> Conversation:
    """Lock the row and bring ``conversation`` up to date with it (counters, times, flags)."""
    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
    for field in Conversation._meta.concrete_fields:
        setattr(conversation, field.attname, getattr(locked, field.attname))
    return conversation


# --- conversations and messages ------------------------------------------------------------------


def subject_key_for(*, product=None, order=None) -> str:
    if order is not None:
        return f"order:{order.pk}"
    if product is not None:
        return f"product:{product.pk}"
    return "shop"


@transaction.atomic
def conversation_start(*, buyer, shop: Shop, body: str, product=None, order=None, attachment=None) -> Conversation:
    """Start a conversation with ``shop`` about the shop, a product or an order and send the first
    message, or continue the buyer's existing conversation about the same subject."""
    if product is not None and order is not None:
        raise MessagingError(_("Ask about a product or about an order, not both at once."), code="subject-invalid")
    if product is not None and product.shop_id != shop.pk:
        raise MessagingError(_("This product is not sold by %(shop)s.") % {"shop": shop.name}, code="subject-invalid")
    if order is not None and (order.shop_id != shop.pk or order.buyer_id != buyer.pk):
        raise MessagingError(
            _("You can only message %(shop)s about your own orders from this shop.") % {"shop": shop.name},
            code="subject-invalid",
        )
    if _is_blocked(shop_id=shop.pk, buyer_id=buyer.pk):
        raise SenderBlocked(_("%(shop)s does not take messages from you.") % {"shop": shop.name})
    subject_key = subject_key_for(product=product, order=order)
    conversation = Conversation.objects.filter(buyer=buyer, shop=shop, subject_key=subject_key).first()
    if conversation is None:
        conversation = Conversation(
            buyer=buyer,
            shop=shop,
            subject_key=subject_key,
            subject=subject_key.split(":", 1)[0],
            product=product,
            order=order,
            last_message_at=timezone.now(),
        )
        conversation.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                conversation.save()
        except IntegrityError:
            # Two first messages at once (double click, two tabs): the other one made it; continue it.
            conversation = Conversation.objects.get(buyer=buyer, shop=shop, subject_key=subject_key)
    message_send(conversation=conversation, sender=buyer, side=Side.BUYER, body=body, attachment=attachment)
    return conversation


@transaction.atomic
def message_send(*, conversation: Conversation, sender, side: str, body: str = "", attachment=None) -> Message:
    """Append a message from the buyer, the shop (the caller checked ``messages.reply``) or support."""
    side = _check_side(side)
    if side == Side.BUYER and (sender is None or sender.pk != conversation.buyer_id):
        raise MessagingError(_("Only the buyer of this conversation can write as the buyer."), code="not-the-buyer")
    body = _clean_body(body, has_image=bool(attachment))
    if attachment:
        _check_image(attachment)
    if side == Side.BUYER and _is_blocked(shop_id=conversation.shop_id, buyer_id=conversation.buyer_id):
        raise SenderBlocked(_("This shop does not take messages from you any more."))
    if side != Side.STAFF and sender is not None:
        _rate_limit_take(sender)
    _lock(conversation)
    now = timezone.now()
    if conversation.last_message_at and now < conversation.last_message_at:
        now = conversation.last_message_at  # clocks of two web nodes: the thread never goes backwards
    message = Message(conversation=conversation, sender=sender, side=side, body=body, created_at=now)
    if attachment:
        attachment.name = _image_name(attachment)
        message.attachment = attachment
    message.full_clean(exclude=["attachment", "sender"])  # sender: none for an API key
    message.save()
    conversation.last_message_at = now
    conversation.last_message_preview = _preview(body, has_image=bool(attachment))
    conversation.messages_count += 1
    fields = ["last_message_at", "last_message_preview", "messages_count", "updated_at"]
    if side == Side.BUYER:
        conversation.last_buyer_message_at = conversation.buyer_last_read_at = now
        conversation.archived_by_shop = False
        fields += ["last_buyer_message_at", "buyer_last_read_at", "archived_by_shop"]
    elif side == Side.SHOP:
        conversation.last_shop_message_at = conversation.shop_last_read_at = now
        fields += ["last_shop_message_at", "shop_last_read_at"]
    conversation.save(update_fields=fields)
    _forget_buyer_unread(conversation.buyer_id)
    message_sent.send(sender=Message, message=message, conversation=conversation)
    return message


def edit_window() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "MESSAGING_EDIT_WINDOW_SECONDS", 300)))


def message_editable(message: Message, *, user, now: datetime | None = None) -> bool:
    """True while ``user`` (its sender) may still edit ``message``."""
    now = now or timezone.now()
    return user is not None and message.sender_id == user.pk and now - message.created_at <= edit_window()


@transaction.atomic
def message_edit(*, message: Message, editor, body: str) -> Message:
    """Change a message's text: only its sender, within ``MESSAGING_EDIT_WINDOW_SECONDS``."""
    if editor is None or message.sender_id != editor.pk:
        raise MessagingError(_("Only the person who sent a message can edit it."), code="not-the-sender")
    if timezone.now() - message.created_at > edit_window():
        minutes = max(1, round(edit_window().total_seconds() / 60))
        raise MessagingError(
            ngettext(
                "Messages can only be edited in the first %(minutes)d minute. Send a new message instead.",
                "Messages can only be edited in the first %(minutes)d minutes. Send a new message instead.",
                minutes,
            )
            % {"minutes": minutes},
            code="edit-window-closed",
        )
    message.body = _clean_body(body, has_image=bool(message.attachment))
    message.edited_at = timezone.now()
    message.full_clean(exclude=["attachment", "sender"])  # sender: none for an API key
    message.save(update_fields=["body", "edited_at"])
    conversation = _lock(message.conversation)
    is_last = (
        not Message.objects.filter(conversation=conversation)
        .filter(Q(created_at__gt=message.created_at) | Q(created_at=message.created_at, pk__gt=message.pk))
        .exists()
    )
    if is_last:
        conversation.last_message_preview = _preview(message.body, has_image=bool(message.attachment))
        conversation.save(update_fields=["last_message_preview", "updated_at"])
    return message


def conversation_mark_read(*, conversation: Conversation, side: str, at: datetime | None = None) -> Conversation:
    """``side`` (buyer or shop) has read the conversation up to ``at`` (default: now). Never moves
    the read mark backwards. One query."""
    side = _check_side(side, allowed=READ_SIDES)
    at = at or timezone.now()
    field = f"{side}_last_read_at"
    current = getattr(conversation, field)
    if current is not None and current >= at:
        return conversation
    updated = Conversation.objects.filter(
        Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": at}), pk=conversation.pk
    )
    if updated.update(**{field: at}):
        setattr(conversation, field, at)
        if side == Side.BUYER:
            cache.delete(buyer_unread_cache_key(conversation.buyer_id))
    return conversation


@transaction.atomic
def conversation_archive(*, conversation: Conversation, archived: bool) -> Conversation:
    """Archive (or bring back) a conversation in the shop's inbox; the buyer's next message brings it back."""
    conversation.archived_by_shop = bool(archived)
    conversation.save(update_fields=["archived_by_shop", "updated_at"])
    return conversation


@transaction.atomic
def conversation_assign(*, conversation: Conversation, member_user) -> Conversation:
    """Assign the conversation to a member of the shop who may read messages (None: unassign)."""
    if member_user is not None:
        membership = Membership.objects.filter(shop_id=conversation.shop_id, user=member_user).first()
        if membership is None or not role_allows(membership.role, Perm.MESSAGES_VIEW):
            raise MessagingError(
                _("%(user)s is not a member of this shop who can read messages. Choose someone else.")
                % {"user": getattr(member_user, "display_name", member_user)},
                code="assignee-invalid",
            )
    conversation.assigned_to = member_user
    conversation.save(update_fields=["assigned_to", "updated_at"])
    return conversation


@transaction.atomic
def conversation_unsubscribe(*, conversation: Conversation, side: str, subscribed: bool = False) -> Conversation:
    """Stop (or, with ``subscribed=True``, restart) unread-message emails for one side of one conversation."""
    side = _check_side(side, allowed=READ_SIDES)
    field = f"{side}_unsubscribed"
    setattr(conversation, field, not subscribed)
    conversation.save(update_fields=[field, "updated_at"])
    return conversation


# --- abuse ---------------------------------------------------------------------------------------


@transaction.atomic
def conversation_report(*, conversation: Conversation, reporter, side: str, reason: str) -> ConversationReport:
    """Report a conversation to LocalBazaar support. Reporting again while a report by the same
    person is open returns that report."""
    side = _check_side(side, allowed=READ_SIDES)
    if side == Side.BUYER and (reporter is None or reporter.pk != conversation.buyer_id):
        raise MessagingError(_("Only the buyer of this conversation can report it as the buyer."), code="not-the-buyer")
    reason = " ".join((reason or "").split())
    if not reason:
        raise MessagingError(_("Say briefly what is wrong, so support can act on your report."), code="reason-empty")
    if len(reason) > MAX_REASON_CHARS:
        raise MessagingError(
            _("Keep the reason under %(max)d characters.") % {"max": MAX_REASON_CHARS}, code="reason-too-long"
        )
    existing = conversation.reports.filter(reporter=reporter, status=ConversationReport.Status.OPEN).first()
    if existing is not None:
        return existing
    report = ConversationReport(conversation=conversation, reporter=reporter, reporter_side=side, reason=reason)
    report.full_clean()
    report.save()
    return report


@transaction.atomic
def report_resolve(*, report: ConversationReport, staff_user, status: str, note: str = "") -> ConversationReport:
    """Close a report as dismissed or actioned (platform staff only)."""
    if staff_user is None or not staff_user.is_staff:
        raise MessagingError(_("Only LocalBazaar support can resolve reports."), code="not-staff")
    if status not in (ConversationReport.Status.DISMISSED, ConversationReport.Status.ACTIONED):
        raise MessagingError(_("Choose whether the report is dismissed or acted upon."), code="status-invalid")
    report = ConversationReport.objects.select_for_update().get(pk=report.pk)
    if report.status != ConversationReport.Status.OPEN:
        raise MessagingError(
            _("This report was already resolved (%(status)s).") % {"status": report.get_status_display()},
            code="report-resolved",
        )
    report.status = status
    report.note = (note or "").strip()
    report.resolved_by = staff_user
    report.resolved_at = timezone.now()
    report.full_clean()
    report.save(update_fields=["status", "note", "resolved_by", "resolved_at", "updated_at"])
    return report


@transaction.atomic
def buyer_block(*, shop: Shop, buyer, blocked_by, reason: str = "") -> BuyerBlock:
    """The shop stops taking messages from ``buyer`` (blocking twice keeps the first block)."""
    if Membership.objects.filter(shop=shop, user=buyer).exists():
        raise MessagingError(_("Members of the shop cannot be blocked."), code="block-invalid")
    existing = BuyerBlock.objects.filter(shop=shop, buyer=buyer).first()
    if existing is not None:
        return existing
    block = BuyerBlock(shop=shop, buyer=buyer, blocked_by=blocked_by, reason=(reason or "").strip())
    block.full_clean(exclude=["blocked_by"] if blocked_by is None else None, validate_constraints=False)
    try:
        with transaction.atomic():
            block.save()
    except IntegrityError:
        block = BuyerBlock.objects.get(shop=shop, buyer=buyer)
    return block


@transaction.atomic
def buyer_unblock(*, shop: Shop, buyer) -> None:
    """The shop takes messages from ``buyer`` again."""
    BuyerBlock.objects.filter(shop=shop, buyer=buyer).delete()

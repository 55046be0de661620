"""Seller portal: the shop's shared inbox and one conversation.

The inbox lists the shop's conversations (all, unread, with an order, assigned to me, archived),
searchable by buyer, last message, order number and product title, and refreshes itself every
10 seconds with htmx (a plain link without JavaScript). A conversation shows the thread with read
receipts and, for members who may reply, the reply form, assignment, archiving and "Block this
buyer"; opening it marks it read for the shop, and new messages appear without a reload.

Scoped by ``@seller_view`` (404 outside the user's shops, 403 without ``messages.view``); every
conversation is read with ``conversation_get_for_shop``, so another shop's conversation id is 404.
Writes go through the messaging services; a broken rule is shown with the service's message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from .models import Conversation, Side
from .selectors import (
    conversation_get_for_shop,
    inbox_for_shop,
    message_is_read,
    messages_for_conversation,
    own_messages_newly_read,
    thread_latest,
    unread_count_for_shop,
)
from .selectors_seller import (
    buyer_block_for,
    buyer_block_get_for_shop,
    buyer_blocks_for_shop,
    message_reader_get,
    message_readers_for_shop,
)
from .services import (
    buyer_block,
    buyer_unblock,
    conversation_archive,
    conversation_assign,
    conversation_mark_read,
    conversation_report,
    conversation_unsubscribe,
    message_send,
)

CONVERSATIONS_PER_PAGE = 50
BLOCKS_PER_PAGE = 50
INBOX_REFRESH_SECONDS = 10
THREAD_REFRESH_SECONDS = 5
SHOW = {
    "all": gettext_lazy("All"),
    "unread": gettext_lazy("Unread"),
    "with_order": gettext_lazy("With an order"),
    "mine": gettext_lazy("Assigned to me"),
    "archived": gettext_lazy("Archived"),
}


def _conversation_url(request, conversation_id: int) -> str:
    return reverse("messaging_seller:conversation", args=[request.shop.slug, conversation_id])


def _poll_url(request, conversation: Conversation, after: int, read: int = 0) -> str:
    """The thread's poller: messages after ``after``, and receipts of the shop's own messages the
    buyer read after ``read`` (the newest one the page already shows as read)."""
    url = reverse("messaging_seller:new-messages", args=[request.shop.slug, conversation.pk])
    return f"{url}?after={after}&read={read}"


def _last_read_own(thread) -> int:
    return max((m.pk for m in thread if m.side == Side.SHOP and getattr(m, "is_read", False)), default=0)


def _back(request, default: str) -> str:
    """Where a POST returns to: the ``back`` field when it is a page of this shop's inbox."""
    back = request.POST.get("back") or ""
    inbox = reverse("messaging_seller:inbox", args=[request.shop.slug])
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) and back.startswith(inbox):
        return back
    return default


@seller_view(Perm.MESSAGES_VIEW)
@require_GET
def inbox(request):
    """The shop's conversations, newest first; htmx polls it and swaps only the list."""
    show = request.GET.get("show", "all")
    if show not in SHOW:
        show = "all"
    query = (request.GET.get("q") or "").strip()[:100]
    page = Paginator(
        inbox_for_shop(shop=request.shop, show=show, user=request.user, query=query), CONVERSATIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    can_reply = principal_allows(request.membership, Perm.MESSAGES_REPLY)
    context = {
        "shop": request.shop,
        "membership": request.membership,
        "page": page,
        "conversations": page.object_list,
        "show": show,
        "tabs": list(SHOW.items()),
        "query": query,
        "can_reply": can_reply,
        "readers": list(message_readers_for_shop(shop=request.shop)) if can_reply else [],
        "back": request.get_full_path(),
        "refresh_seconds": INBOX_REFRESH_SECONDS,
    }
    if request.headers.get("HX-Request"):
        return render(request, "messaging/seller/_inbox_list.html", context)
    return render(request, "messaging/seller/inbox.html", context)


@seller_view(Perm.MESSAGES_VIEW)
@require_GET
@never_cache
def unread_count(request):
    """The seller navigation's "(N)" after "Messages": how many inbox conversations are unread."""
    return render(request, "messaging/seller/_unread_count.html", {"unread": unread_count_for_shop(shop=request.shop)})


def _conversation_page(request, conversation: Conversation, *, body: str = "", reply_error: str = ""):
    can_reply = principal_allows(request.membership, Perm.MESSAGES_REPLY)
    thread, earlier_count = thread_latest(conversation=conversation, show_all=request.GET.get("all") == "1")
    for message in thread:
        message.is_read = message_is_read(message, conversation)
    return render(
        request,
        "messaging/seller/conversation.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "conversation": conversation,
            "thread": thread,
            "earlier_count": earlier_count,
            "viewer_side": Side.SHOP,
            "poll_url": _poll_url(request, conversation, thread[-1].pk if thread else 0, _last_read_own(thread)),
            "poll_seconds": THREAD_REFRESH_SECONDS,
            "can_reply": can_reply,
            "readers": list(message_readers_for_shop(shop=request.shop)) if can_reply else [],
            "blocked": buyer_block_for(shop=request.shop, buyer=conversation.buyer),
            "body": body,
            "reply_error": reply_error,
        },
        status=400 if reply_error else 200,
    )


@seller_view(Perm.MESSAGES_VIEW)
@require_GET
def conversation_detail(request, conversation_id: int):
    """The thread; opening it marks it read for the shop."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    conversation = conversation_mark_read(conversation=conversation, side=Side.SHOP)
    return _conversation_page(request, conversation)


@seller_view(Perm.MESSAGES_VIEW)
@require_GET
def conversation_new_messages(request, conversation_id: int):
    """The messages after ``?after=<id>`` (htmx polls this): they are on screen now, so the shop has
    read them. Answers the poller again with the newest id, so the next poll asks for what follows."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    raw = request.GET.get("after") or "0"
    if not raw.isdigit() or len(raw) > 18:
        return HttpResponseBadRequest(_("after must be a message id."))
    after = int(raw)
    raw_read = request.GET.get("read") or "0"
    read = int(raw_read) if raw_read.isdigit() and len(raw_read) < 18 else 0
    new = list(messages_for_conversation(conversation=conversation, after_id=after))
    if new:
        conversation = conversation_mark_read(conversation=conversation, side=Side.SHOP)
    for message in new:
        message.is_read = message_is_read(message, conversation)
    receipts = own_messages_newly_read(conversation=conversation, side=Side.SHOP, after_id=read)
    read = max([read, _last_read_own(new), *(m.pk for m in receipts)])
    new_ids = {m.pk for m in new}
    return render(
        request,
        "messaging/_thread.html",
        {
            "conversation": conversation,
            "thread": new,
            "read_receipts": [m for m in receipts if m.pk not in new_ids],
            "viewer_side": Side.SHOP,
            "poll_url": _poll_url(request, conversation, new[-1].pk if new else after, read),
            "poll_seconds": THREAD_REFRESH_SECONDS,
        },
    )


@seller_view(Perm.MESSAGES_REPLY)
@require_POST
def conversation_reply(request, conversation_id: int):
    """Reply as the shop (text, an optional image, or both)."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    body = request.POST.get("body") or ""
    try:
        message_send(
            conversation=conversation,
            sender=request.user,
            side=Side.SHOP,
            body=body,
            attachment=request.FILES.get("attachment"),
        )
    except ApplicationError as exc:
        conversation.refresh_from_db()
        return _conversation_page(request, conversation, body=body[:5000], reply_error=exc.message)
    return redirect(_conversation_url(request, conversation.pk))


@seller_view(Perm.MESSAGES_REPLY)
@require_POST
def conversation_assign_view(request, conversation_id: int):
    """Assign the conversation to a member who may read messages (empty: nobody)."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    back = _back(request, _conversation_url(request, conversation.pk))
    raw = (request.POST.get("member") or "").strip()
    member_user = None
    if raw:
        reader = message_reader_get(shop=request.shop, user_id=int(raw)) if raw.isdigit() and len(raw) < 19 else None
        if reader is None:
            messages.error(request, _("Choose a member of the shop who can read messages."))
            return redirect(back)
        member_user = reader.user
    try:
        conversation_assign(conversation=conversation, member_user=member_user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if member_user is None:
            messages.success(request, _("The conversation is no longer assigned."))
        else:
            messages.success(request, _("Conversation assigned to %(name)s.") % {"name": member_user.display_name})
    return redirect(back)


@seller_view(Perm.MESSAGES_REPLY)
@require_POST
def conversation_archive_view(request, conversation_id: int):
    """Archive (``archived=1``) or bring back (``archived=0``); a new buyer message brings it back too."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    archived = request.POST.get("archived", "1") != "0"
    try:
        conversation_archive(conversation=conversation, archived=archived)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Conversation archived: it comes back when the buyer writes again.")
            if archived
            else _("Conversation moved back to the inbox."),
        )
    return redirect(_back(request, _conversation_url(request, conversation.pk)))


@seller_view(Perm.MESSAGES_REPLY)
@require_POST
def conversation_block(request, conversation_id: int):
    """Block this conversation's buyer: the shop takes no more messages from them."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    try:
        buyer_block(
            shop=request.shop,
            buyer=conversation.buyer,
            blocked_by=request.user,
            reason=(request.POST.get("reason") or "").strip()[:300],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(name)s is blocked: they can no longer message the shop. Unblock them from the blocked buyers list.")
            % {"name": conversation.buyer.display_name},
        )
    return redirect(_conversation_url(request, conversation.pk))


@seller_view(Perm.MESSAGES_VIEW)
@require_POST
def conversation_report_view(request, conversation_id: int):
    """Report the conversation to LocalBazaar (spam, abuse…); platform staff review it."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    try:
        conversation_report(
            conversation=conversation,
            reporter=request.user,
            side=Side.SHOP,
            reason=(request.POST.get("reason") or "").strip()[:500],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Thank you: LocalBazaar support will review this conversation."))
    return redirect(_conversation_url(request, conversation.pk))


@seller_view(Perm.MESSAGES_REPLY)
@require_POST
def conversation_notifications(request, conversation_id: int):
    """Turn the shop's email notifications for this conversation off (``subscribed=0``) or back on."""
    conversation = conversation_get_for_shop(shop=request.shop, pk=conversation_id)
    subscribed = request.POST.get("subscribed") == "1"
    try:
        conversation_unsubscribe(conversation=conversation, side=Side.SHOP, subscribed=subscribed)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The shop is emailed again about unread messages here.")
            if subscribed
            else _("No more emails about this conversation."),
        )
    return redirect(_conversation_url(request, conversation.pk))


@seller_view(Perm.MESSAGES_VIEW)
@require_GET
def blocked_list(request):
    """The buyers the shop blocked, with who blocked them, when and why."""
    page = Paginator(buyer_blocks_for_shop(shop=request.shop), BLOCKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/seller/blocked.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "page": page,
            "blocks": page.object_list,
            "can_reply": principal_allows(request.membership, Perm.MESSAGES_REPLY),
        },
    )


@seller_view(Perm.MESSAGES_REPLY)
@require_POST
def blocked_unblock(request, block_id: int):
    """Take messages from this buyer again."""
    block = buyer_block_get_for_shop(shop=request.shop, pk=block_id)
    try:
        buyer_unblock(shop=request.shop, buyer=block.buyer)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s can message the shop again.") % {"name": block.buyer.display_name})
    return redirect("messaging_seller:blocked", shop_slug=request.shop.slug)

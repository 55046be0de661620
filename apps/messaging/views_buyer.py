"""The buyer's messages: the list of conversations, starting one (about the shop, a product or an
order), the thread with replies, edits and reports, and the fragment htmx polls for new messages.

Thin doors: reads through ``selectors``, writes through ``services``; a ``MessagingError`` becomes a
form error, never a 500. Another user's conversation id is a 404.
"""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from apps.catalog.selectors import products_public
from apps.orders.selectors import order_get_for_buyer
from apps.shops.selectors import shop_get_public

from .errors import MessagingError
from .forms import EditForm, MessageForm, ReportForm, add_service_error
from .models import Message, Side
from .selectors import (
    conversation_for_subject,
    conversation_get_for_buyer,
    conversations_for_buyer,
    message_is_read,
    messages_for_conversation,
    own_messages_newly_read,
    thread_latest,
    unread_count_for_buyer_cached,
)
from .services import (
    conversation_mark_read,
    conversation_report,
    conversation_start,
    message_edit,
    message_editable,
    message_send,
    subject_key_for,
)

CONVERSATIONS_PER_PAGE = 20
POLL_SECONDS = 5


def _thread_url(conversation, message_id: int | None = None) -> str:
    url = reverse("messaging:thread", args=[conversation.pk])
    return f"{url}#m{message_id}" if message_id else url


def _decorate(messages_list: list[Message], conversation, user) -> list[Message]:
    """Mark each message with what the buyer's page shows: its own, read by the shop, editable."""
    for message in messages_list:
        message.is_own = message.side == Side.BUYER
        message.is_read = message.is_own and message_is_read(message, conversation)
        message.can_edit = message.is_own and message_editable(message, user=user)
    return messages_list


def _thread_context(request, conversation, *, form=None) -> dict:
    latest, earlier_count = thread_latest(conversation=conversation, show_all=request.GET.get("all") == "1")
    thread = _decorate(latest, conversation, request.user)
    return {
        "conversation": conversation,
        "thread": thread,
        "earlier_count": earlier_count,
        "form": form or MessageForm(),
        **_thread_parts(conversation, thread[-1].pk if thread else 0, _last_read_own(thread)),
    }


def _thread_parts(conversation, last_id: int, read_id: int = 0) -> dict:
    """What ``messaging/_thread.html`` needs besides the messages: the viewer's side and the poller
    (which also says up to which of the buyer's own messages the page shows "Read")."""
    return {
        "viewer_side": Side.BUYER,
        "edit_url_name": "messaging:edit",
        "poll_url": reverse("messaging:since", args=[conversation.pk, last_id]) + f"?read={read_id}",
        "poll_seconds": POLL_SECONDS,
    }


def _last_read_own(thread: list[Message]) -> int:
    return max((m.pk for m in thread if getattr(m, "is_read", False)), default=0)


@login_required
@require_GET
def inbox(request):
    """The buyer's conversations, newest first, with the unread ones marked."""
    page = Paginator(conversations_for_buyer(buyer=request.user), CONVERSATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "messaging/buyer/inbox.html", {"page": page, "conversations": page.object_list})


def _subject_from_query(request):
    """The shop and the product or order a new conversation is about, from ``?shop=&product=&order=``."""
    shop = product = order = None
    number = (request.GET.get("order") or "").strip()
    if number:
        order = order_get_for_buyer(buyer=request.user, number=number)
        shop = order.shop
    slug = (request.GET.get("shop") or "").strip()
    if slug:
        shop_from_slug = shop_get_public(slug=slug)
        if shop is not None and shop_from_slug.pk != shop.pk:
            raise Http404("That order is from another shop.")
        shop = shop_from_slug
    product_id = (request.GET.get("product") or "").strip()
    if product_id and order is None:
        if not product_id.isdigit():
            raise Http404("No such product.")
        product = get_object_or_404(products_public().select_related("shop"), pk=int(product_id))
        if shop is not None and product.shop_id != shop.pk:
            raise Http404("That product is from another shop.")
        shop = product.shop
    if shop is None:
        raise Http404("Choose a shop to message.")
    return shop, product, order


@login_required
@require_http_methods(["GET", "POST"])
def conversation_new(request):
    """Write to a shop about the shop, a product or an order; an existing conversation about the
    same subject is continued instead of starting another."""
    shop, product, order = _subject_from_query(request)
    existing = conversation_for_subject(
        buyer=request.user, shop=shop, subject_key=subject_key_for(product=product, order=order)
    )
    if existing is not None and request.method == "GET":
        return redirect(_thread_url(existing))
    form = MessageForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            conversation = conversation_start(
                buyer=request.user,
                shop=shop,
                product=product,
                order=order,
                body=form.cleaned_data["body"],
                attachment=form.cleaned_data["attachment"],
            )
        except MessagingError as exc:
            add_service_error(form, exc)
        else:
            flash.success(request, _("Your message was sent to %(shop)s.") % {"shop": shop.name})
            return redirect(_thread_url(conversation))
    return render(
        request,
        "messaging/buyer/new.html",
        {"shop": shop, "product": product, "order": order, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def thread(request, pk: int):
    """The conversation: messages oldest first, a reply form. Opening it marks it read."""
    conversation = conversation_get_for_buyer(buyer=request.user, pk=pk)
    if request.method == "POST":
        form = MessageForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                message = message_send(
                    conversation=conversation,
                    sender=request.user,
                    side=Side.BUYER,
                    body=form.cleaned_data["body"],
                    attachment=form.cleaned_data["attachment"],
                )
            except MessagingError as exc:
                add_service_error(form, exc)
            else:
                return redirect(_thread_url(conversation, message.pk))
        return render(
            request, "messaging/buyer/thread.html", _thread_context(request, conversation, form=form), status=400
        )
    context = _thread_context(request, conversation)
    if context["thread"]:
        conversation_mark_read(conversation=conversation, side=Side.BUYER, at=context["thread"][-1].created_at)
    return render(request, "messaging/buyer/thread.html", context)


@login_required
@require_GET
def since(request, pk: int, last_id: int):
    """The messages after ``last_id`` and a new poller (htmx swaps both in); 204 when none."""
    conversation = conversation_get_for_buyer(buyer=request.user, pk=pk)
    raw = request.GET.get("read") or "0"
    read_id = int(raw) if raw.isdigit() and len(raw) < 18 else 0
    new = _decorate(
        list(messages_for_conversation(conversation=conversation, after_id=last_id)), conversation, request.user
    )
    # The buyer's own messages the shop has read since the page last showed a receipt.
    receipts = own_messages_newly_read(conversation=conversation, side=Side.BUYER, after_id=read_id)
    if not new and not receipts:
        return HttpResponse(status=204)
    if new:
        conversation_mark_read(conversation=conversation, side=Side.BUYER, at=new[-1].created_at)
    read_id = max([read_id, _last_read_own(new), *(m.pk for m in receipts)])
    new_ids = {m.pk for m in new}
    return render(
        request,
        "messaging/_thread.html",
        {
            "conversation": conversation,
            "thread": new,
            "read_receipts": [m for m in receipts if m.pk not in new_ids],
            **_thread_parts(conversation, new[-1].pk if new else last_id, read_id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def message_edit_view(request, pk: int, message_id: int):
    """Correct one's own message within the edit window."""
    conversation = conversation_get_for_buyer(buyer=request.user, pk=pk)
    message = get_object_or_404(Message.objects.filter(conversation=conversation, side=Side.BUYER), pk=message_id)
    message.conversation = conversation
    form = EditForm(request.POST or None, initial={"body": message.body})
    if request.method == "POST" and form.is_valid():
        try:
            message_edit(message=message, editor=request.user, body=form.cleaned_data["body"])
        except MessagingError as exc:
            add_service_error(form, exc)
        else:
            flash.success(request, _("Your message was changed."))
            return redirect(_thread_url(conversation, message.pk))
    return render(
        request,
        "messaging/buyer/edit.html",
        {"conversation": conversation, "message": message, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def report(request, pk: int):
    """Report the conversation to LocalBazaar support."""
    conversation = conversation_get_for_buyer(buyer=request.user, pk=pk)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            conversation_report(
                conversation=conversation, reporter=request.user, side=Side.BUYER, reason=form.cleaned_data["reason"]
            )
        except MessagingError as exc:
            add_service_error(form, exc)
        else:
            flash.success(request, _("Thank you. LocalBazaar support will look at this conversation."))
            return redirect(_thread_url(conversation))
    return render(
        request,
        "messaging/buyer/report.html",
        {"conversation": conversation, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def unread_badge(request):
    """The header's "(N)" of conversations with unread messages (loaded by htmx, so no page pays a
    query for it); empty when there are none."""
    count = unread_count_for_buyer_cached(user=request.user)
    return HttpResponse(f" ({count})" if count else "", content_type="text/html; charset=utf-8")

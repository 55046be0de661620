"""Seller portal: the shop's order queue (needs action first, filters, bulk actions), one order with
the moves its status and the member's role allow, its lines (refund some units, cancel a line the
shop cannot supply), refunds of any amount, taking pay-on-pickup payments at the counter, and the
order's timeline.

Scoped by ``@seller_view`` (404 outside the user's shops, 403 without the permission); orders are read
with ``order_get_for_shop``, so another shop's order number is 404. Every move goes through
``order_transition`` (or a service built on it) with the member as the actor: the buttons shown are
the ones the state machine and the role allow, and a tampered POST is refused with the same message.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.core.money import Money
from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from . import states
from .actors import Actor
from .models import Channel, Order
from .selectors import (
    QUEUE_ACTION,
    QUEUE_ALL,
    order_actions,
    order_bulk_actions,
    order_get_for_shop,
    order_money_taken,
    order_queue,
    order_status_counts,
    order_timeline,
)
from .selectors_documents import documents_for_order
from .services import order_payment_collect, order_refund
from .services_fulfilment import (
    LINE_CANCELLABLE,
    order_line_cancel,
    order_lines_refund,
    order_move,
    orders_transition_bulk,
)

ORDERS_PER_PAGE = 50
VIA = "seller"


def _detail(request, order_number: str):
    return redirect("orders_seller:detail", shop_slug=request.shop.slug, number=order_number)


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def order_list(request):
    view = request.GET.get("view", QUEUE_ACTION)
    if view not in (QUEUE_ACTION, QUEUE_ALL):
        view = QUEUE_ACTION
    status = request.GET.get("status", "")
    if status not in Order.Status.values:
        status = ""
    channel = request.GET.get("channel", "")
    if channel not in Channel.values:
        channel = ""
    query = (request.GET.get("q") or "").strip()[:100]
    counts = order_status_counts(shop=request.shop)
    page = Paginator(
        order_queue(shop=request.shop, view=view, status=status, channel=channel, query=query), ORDERS_PER_PAGE
    ).get_page(request.GET.get("page"))
    tabs = [
        (QUEUE_ACTION, "", _("Needs action"), counts.get(QUEUE_ACTION, 0)),
        (QUEUE_ALL, "", _("All"), counts.get(QUEUE_ALL, 0)),
        *((QUEUE_ALL, value, label, counts[value]) for value, label in Order.Status.choices if counts.get(value)),
    ]
    return render(
        request,
        "orders/seller/order_list.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "page": page,
            "orders": page.object_list,
            "view": view,
            "status": status,
            "channel": channel,
            "channels": Channel.choices,
            "query": query,
            "tabs": tabs,
            "bulk_actions": order_bulk_actions(principal=request.membership),
            "back": request.get_full_path(),
        },
    )


@seller_view(Perm.ORDERS_VIEW)
@require_POST
def order_bulk(request):
    """Accept, pack, mark ready, hand over or cancel the checked orders; one message says what
    happened to each."""
    list_url = reverse("orders_seller:list", args=[request.shop.slug])
    back = request.POST.get("back") or ""
    if not (url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) and back.startswith(list_url)):
        back = list_url
    to = request.POST.get("to", "")
    try:
        result = orders_transition_bulk(
            shop=request.shop,
            numbers=request.POST.getlist("numbers"),
            to=to,
            actor=Actor.member(request.membership),
            reason=(request.POST.get("reason") or "")[:500],
            via=VIA,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    parts = []
    if result.done:
        parts.append(_bulk_done(to, len(result.done)))
    parts += [
        _("%(number)s could not: %(message)s") % {"number": number, "message": message}
        for number, message in result.failed
    ]
    (messages.warning if result.failed else messages.success)(request, "; ".join(parts))
    return redirect(back)


def _bulk_done(to: str, count: int) -> str:
    texts = {
        Order.Status.ACCEPTED: ngettext("%(count)s accepted", "%(count)s accepted", count),
        Order.Status.PACKED: ngettext("%(count)s packed", "%(count)s packed", count),
        Order.Status.READY_FOR_PICKUP: ngettext("%(count)s ready for pickup", "%(count)s ready for pickup", count),
        Order.Status.OUT_FOR_DELIVERY: ngettext("%(count)s handed over", "%(count)s handed over", count),
        Order.Status.CANCELLED: ngettext("%(count)s cancelled", "%(count)s cancelled", count),
    }
    return texts[to] % {"count": count}


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def order_detail(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    can_manage = principal_allows(request.membership, Perm.ORDERS_MANAGE)
    left_to_refund = order.total - order.amount_refunded
    refundable = (
        can_manage and left_to_refund > 0 and order.status in states.REFUNDABLE and order_money_taken(order=order)
    )
    lines = list(order.lines.all())
    for line in lines:
        line.refundable = 0 if line.status == "cancelled" else line.quantity - line.quantity_refunded
    dispatch_by = order.placed_at + timedelta(hours=request.shop.dispatch_hours)
    return render(
        request,
        "orders/seller/order_detail.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "order": order,
            "lines": lines,
            "refunds": list(order.refunds_recorded.all()),
            "left_to_refund": left_to_refund,
            "can_manage": can_manage,
            "refundable": refundable,
            "lines_cancellable": can_manage and order.status in LINE_CANCELLABLE,
            "actions": order_actions(order=order, actor=Actor.member(request.membership)),
            "timeline": order_timeline(order=order, audience="seller"),
            "dispatch_by": dispatch_by,
            "overdue": order.status in states.NOT_DISPATCHED and timezone.now() > dispatch_by,
            "refund_key": uuid.uuid4().hex[:16],
            "documents": documents_for_order(order=order),
            "money_taken": order_money_taken(order=order) if order.points_used else None,
        },
    )


@seller_view(Perm.ORDERS_VIEW)
@require_POST
def order_move_view(request, number: str):
    """One move of the order (accept, pack, ready, hand over, delivered, complete, cancel, returned).
    The state machine and the member's role decide; a refused move shows why."""
    order = order_get_for_shop(shop=request.shop, number=number)
    to = (request.POST.get("to") or "")[:20]
    reason = (request.POST.get("reason") or "")[:500]
    actor = Actor.member(request.membership)
    try:
        order = order_move(
            order=order,
            to=to,
            actor=actor,
            reason=reason,
            refund=request.POST.get("refund") == "on",
            refund_key=(request.POST.get("refund_key") or "")[:32],
            via=VIA,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Order %(number)s is now %(status)s.") % {"number": order.number, "status": order.get_status_display()},
        )
    return _detail(request, order.number)


@seller_view(Perm.ORDERS_MANAGE)
@require_POST
def order_collect(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    try:
        order_payment_collect(order=order, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Payment taken at the counter for order %(number)s.") % {"number": order.number})
    return _detail(request, order.number)


@seller_view(Perm.ORDERS_MANAGE)
@require_POST
def order_refund_view(request, number: str):
    """Refund any amount of what is left (the free-amount form)."""
    order = order_get_for_shop(shop=request.shop, number=number)
    try:
        amount = Decimal((request.POST.get("amount") or "").strip())
        if not amount.is_finite() or amount.as_tuple().exponent < -2:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        messages.error(request, _("Enter the amount to refund, such as 12.50."))
        return _detail(request, order.number)
    try:
        order_refund(
            order=order,
            amount=Money(amount, order.currency),
            reason=(request.POST.get("reason") or "").strip()[:300],
            actor=request.user,
            goods_returned=request.POST.get("goods_returned") == "on",
            refund_key=(request.POST.get("refund_key") or "")[:32],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Refund made on order %(number)s.") % {"number": order.number})
    return _detail(request, order.number)


@seller_view(Perm.ORDERS_MANAGE)
@require_POST
def order_lines_refund_view(request, number: str):
    """Refund chosen units of the order's lines (``qty-<line id>`` fields); the amount follows from
    the unit prices."""
    order = order_get_for_shop(shop=request.shop, number=number)
    quantities: dict[int, int] = {}
    for line in order.lines.all():
        raw = (request.POST.get(f"qty-{line.pk}") or "").strip()
        if not raw:
            continue
        if not raw.isdigit() or len(raw) > 4:
            messages.error(request, _("Enter a whole number of items to refund, 0 or more."))
            return _detail(request, order.number)
        quantities[line.pk] = int(raw)
    try:
        order_lines_refund(
            order=order,
            quantities=quantities,
            actor=Actor.member(request.membership),
            reason=(request.POST.get("reason") or "")[:300],
            goods_returned=request.POST.get("goods_returned") == "on",
            refund_key=(request.POST.get("refund_key") or "")[:32],
            via=VIA,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Items refunded on order %(number)s.") % {"number": order.number})
    return _detail(request, order.number)


@seller_view(Perm.ORDERS_MANAGE)
@require_POST
def order_line_cancel_view(request, number: str):
    """Cancel one line the shop cannot supply (before packing): refunded, stock back."""
    order = order_get_for_shop(shop=request.shop, number=number)
    raw = (request.POST.get("line") or "").strip()
    if not raw.isdigit() or len(raw) > 18:
        messages.error(request, _("Choose the item to cancel."))
        return _detail(request, order.number)
    try:
        order_line_cancel(
            order=order,
            line_id=int(raw),
            actor=Actor.member(request.membership),
            reason=(request.POST.get("reason") or "")[:300],
            via=VIA,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Item cancelled and refunded on order %(number)s.") % {"number": order.number})
    return _detail(request, order.number)

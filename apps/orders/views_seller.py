"""Seller portal: the shop's orders, one order with its refunds, taking pay-on-pickup payments at the
counter, and refunds (full or partial; stock back only when the seller has the goods again).

Scoped by ``@seller_view`` (404 outside the user's shops, 403 without the permission); orders are read
with ``order_get_for_shop``, so another shop's order number is 404.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.core.money import Money
from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from .errors import CheckoutError
from .models import Order
from .selectors import order_get_for_shop, orders_for_shop
from .services import order_payment_collect, order_refund

ORDERS_PER_PAGE = 50


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def order_list(request):
    status = request.GET.get("status", "")
    if status not in Order.Status.values:
        status = ""
    query = (request.GET.get("q") or "").strip()[:100]
    page = Paginator(orders_for_shop(shop=request.shop, status=status, query=query), ORDERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "orders/seller/order_list.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "page": page,
            "orders": page.object_list,
            "status": status,
            "statuses": Order.Status.choices,
            "query": query,
        },
    )


@seller_view(Perm.ORDERS_VIEW)
@require_GET
def order_detail(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    return render(
        request,
        "orders/seller/order_detail.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "order": order,
            "lines": list(order.lines.all()),
            "refunds": list(order.refunds_recorded.all()),
            "left_to_refund": order.total - order.amount_refunded,
            "can_manage": principal_allows(request.membership, Perm.ORDERS_MANAGE),
            "refund_key": uuid.uuid4().hex[:16],
        },
    )


@seller_view(Perm.ORDERS_MANAGE)
@require_POST
def order_collect(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    try:
        order_payment_collect(order=order, actor=request.user)
    except CheckoutError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Payment taken at the counter for order %(number)s.") % {"number": order.number})
    return redirect("orders_seller:detail", shop_slug=request.shop.slug, number=order.number)


@seller_view(Perm.ORDERS_MANAGE)
@require_POST
def order_refund_view(request, number: str):
    order = order_get_for_shop(shop=request.shop, number=number)
    try:
        amount = Decimal((request.POST.get("amount") or "").strip())
        if not amount.is_finite() or amount.as_tuple().exponent < -2:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        messages.error(request, _("Enter the amount to refund, such as 12.50."))
        return redirect("orders_seller:detail", shop_slug=request.shop.slug, number=order.number)
    try:
        order_refund(
            order=order,
            amount=Money(amount, order.currency),
            reason=(request.POST.get("reason") or "").strip()[:300],
            actor=request.user,
            goods_returned=request.POST.get("goods_returned") == "on",
            refund_key=(request.POST.get("refund_key") or "")[:32],
        )
    except CheckoutError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Refund made on order %(number)s.") % {"number": order.number})
    return redirect("orders_seller:detail", shop_slug=request.shop.slug, number=order.number)

"""Seller portal: the shop's payout ledger (``/sell/<shop>/payouts/``): what the platform owes the
shop per currency, one row per order (sale, commission, refunds, net), and one order's lines.

Scoped by ``@seller_view`` (404 outside the user's shops, 403 without ``orders.manage``: owners and
managers); reads go through selectors that take ``shop=request.shop``.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.shops.access import seller_view
from apps.shops.permissions import Perm

from .selectors import (
    payout_balance,
    payout_lines_for_shop,
    payout_order_row_exact,
    payout_orders_for_shop,
    platform_commission_rate,
)

ORDERS_PER_PAGE = 50
LINES_PER_PAGE = 100


@seller_view(Perm.ORDERS_MANAGE)
@require_GET
def payouts(request):
    reference = (request.GET.get("order") or "").strip()[:100]
    context = {
        "shop": request.shop,
        "membership": request.membership,
        "balance": sorted(payout_balance(shop=request.shop).items()),
        "commission_percent": platform_commission_rate() * 100,
        "reference": reference,
    }
    if reference:
        page = Paginator(payout_lines_for_shop(shop=request.shop, reference=reference), LINES_PER_PAGE)
        context["lines"] = page.get_page(request.GET.get("page"))
    else:
        orders = Paginator(payout_orders_for_shop(shop=request.shop), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
        orders.object_list = [payout_order_row_exact(row) for row in orders.object_list]
        context["orders"] = orders
    return render(request, "payments/seller/payouts.html", context)

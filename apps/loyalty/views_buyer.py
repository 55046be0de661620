"""The buyer's loyalty pages: their points (balance, pending, tier and the way to the next, what
expires soon, the statement) and the header's balance, which htmx loads after the page.

Thin doors: every read goes through ``selectors``; a GET never writes (a buyer without an account
sees zeros). The statement links an entry to the buyer's order page when its reference is an order
number (this app knows orders only by their number).
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from .models import LedgerEntry
from .selectors import balance_for_user, earnings_pending_for_user, loyalty_summary, statement_for_user
from .units import points_to_money

STATEMENT_PER_PAGE = 50
PENDING_SHOWN = 20
# The orders app numbers orders "LB" and eight letters or digits.
ORDER_NUMBER = re.compile(r"^LB[A-Z0-9]{8}$")


def _order_links(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    for entry in entries:
        entry.order_url = reverse("orders:order", args=[entry.reference]) if ORDER_NUMBER.match(entry.reference) else ""
    return entries


@login_required
@require_GET
def loyalty_home(request):
    """Balance and pending points with their value, the tier and the progress to the next one, every
    tier's rate, points expiring in the notice period, how points work, and the statement (50 entries
    a page). The same few queries however long the statement."""
    summary = loyalty_summary(user=request.user)
    page = Paginator(statement_for_user(user=request.user), STATEMENT_PER_PAGE).get_page(request.GET.get("page"))
    pending = list(earnings_pending_for_user(user=request.user)[:PENDING_SHOWN]) if summary.pending else []
    for tier in [summary.tier, *summary.tiers]:
        tier.rate_percent = tier.rate * 100
        tier.threshold = points_to_money(tier.min_spend, summary.currency)
    return render(
        request,
        "loyalty/buyer/home.html",
        {
            "summary": summary,
            "page": page,
            "entries": _order_links(list(page.object_list)),
            "pending_orders": pending,
            "point_value": points_to_money(1, summary.currency),
            "hundred_points": points_to_money(100, summary.currency),
            "lifetime_months": round(settings.LOYALTY_POINTS_LIFETIME_DAYS / Decimal("30.4")),
            "tier_window_months": round(settings.LOYALTY_TIER_WINDOW_DAYS / Decimal("30.4")),
            "notice_days": settings.LOYALTY_EXPIRY_NOTICE_DAYS,
            "first_bonus": settings.LOYALTY_FIRST_PURCHASE_BONUS,
        },
    )


@login_required
@require_GET
def balance_badge(request):
    """The header's "(N)" of available points, loaded by htmx so that no page pays a query for it."""
    return render(request, "loyalty/buyer/_badge.html", {"balance": balance_for_user(user=request.user)})

"""Builders for loyalty tests: buyers that earn, release and redeem through the services (so the
ledger and the balances always agree), at times the test chooses."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.loyalty.models import Earning, LoyaltyAccount
from apps.loyalty.services import EarningLine, earning_record, earning_release
from apps.shops.tests.factories import ShopFactory

_numbers = itertools.count(1)


def order_number() -> str:
    return f"LB-T{next(_numbers):06d}"


def earn(
    user,
    paid: str | Decimal = "100.00",
    *,
    currency: str = "SGD",
    shop=None,
    lines: list[EarningLine] | None = None,
    reference: str | None = None,
    placed_at: datetime | None = None,
) -> Earning:
    """``user`` places an order that earns pending points (``lines``: one line without a product)."""
    paid = Decimal(paid)
    return earning_record(
        user=user,
        reference=reference or order_number(),
        shop=shop or ShopFactory(currency=currency),
        currency=currency,
        paid=paid,
        lines=lines if lines is not None else [EarningLine(None, paid)],
        placed_at=placed_at or timezone.now(),
    )


def earn_available(user, paid: str | Decimal = "100.00", *, at: datetime | None = None, **kwargs) -> Earning:
    """``user`` places an order that is delivered at ``at``: its points are available from then (and
    expire ``LOYALTY_POINTS_LIFETIME_DAYS`` later)."""
    at = at or timezone.now()
    earning = earn(user, paid, placed_at=kwargs.pop("placed_at", at), **kwargs)
    return earning_release(reference=earning.reference, now=at)


def account_of(user) -> LoyaltyAccount:
    return LoyaltyAccount.objects.select_related("tier").get(user=user)


def buyer(**kwargs):
    return UserFactory(**kwargs)

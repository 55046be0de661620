"""Payments reads. Buyer-side getters take the user and raise 404 for another buyer's card;
seller-side reads take the shop."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, DecimalField, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from apps.accounts.models import User
from apps.shops.models import Shop

from .models import Payment, PayoutEntry, Refund, SavedCard
from .stripe_gateway import card_payments_configured

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))
Kind = PayoutEntry.Kind
CENT = Decimal("0.01")


def payments_card_enabled() -> bool:
    """Whether checkout may offer card payment (and the cards page may add cards): False on a
    deployment without Stripe keys, where the demo uses pay on pickup."""
    return card_payments_configured()


def stripe_publishable_key() -> str:
    """The key Stripe.js needs in the browser ("" when cards are off)."""
    return settings.STRIPE_PUBLISHABLE_KEY if payments_card_enabled() else ""


def platform_commission_rate() -> Decimal:
    """``PLATFORM_COMMISSION_RATE`` as a Decimal fraction (0.08 = 8%)."""
    try:
        rate = Decimal(str(settings.PLATFORM_COMMISSION_RATE))
    except ArithmeticError as exc:
        raise ImproperlyConfigured("PLATFORM_COMMISSION_RATE must be a decimal such as 0.08.") from exc
    if not rate.is_finite() or not Decimal(0) <= rate < 1:
        raise ImproperlyConfigured(f"PLATFORM_COMMISSION_RATE must be at least 0 and below 1 (got {rate}).")
    return rate


# --- payments --------------------------------------------------------------------------------------


def payment_get_by_reference(*, reference: str) -> Payment | None:
    return Payment.objects.filter(reference=reference).select_related("saved_card").first()


def payment_get_by_intent(*, intent_id: str) -> Payment | None:
    return Payment.objects.filter(stripe_payment_intent_id=intent_id).first()


def payment_get_for_buyer(*, user: User, reference: str) -> Payment:
    """The buyer's own payment; 404 for anyone else's."""
    payment = Payment.objects.filter(buyer=user, reference=reference).first() if user.is_authenticated else None
    if payment is None:
        raise Http404("No such payment.")
    return payment


def refunds_for_payment(*, payment: Payment) -> QuerySet[Refund]:
    return Refund.objects.filter(payment=payment).order_by("created_at", "pk")


# --- saved cards -----------------------------------------------------------------------------------


def saved_cards_for_user(*, user: User) -> QuerySet[SavedCard]:
    """The buyer's saved cards, the default one first."""
    return SavedCard.objects.filter(user=user).order_by("-is_default", "-created_at", "-pk")


def saved_card_get_for_user(*, user: User, card_id: int) -> SavedCard:
    """One of the buyer's saved cards; 404 for another buyer's card (as if it did not exist)."""
    card = SavedCard.objects.filter(user=user, pk=card_id).first()
    if card is None:
        raise Http404("No such saved card.")
    return card


def saved_card_default_for_user(*, user: User) -> SavedCard | None:
    """The card 1-Click uses, or None."""
    return SavedCard.objects.filter(user=user, is_default=True).first()


# --- the payout ledger -----------------------------------------------------------------------------


def payout_balance(*, shop: Shop) -> dict[str, Decimal]:
    """What the platform owes ``shop``, per currency: the sum of its ledger lines (sales less
    commission and refunds plus commission given back). One query."""
    rows = PayoutEntry.objects.filter(shop=shop).values("currency").annotate(total=Sum("amount")).order_by("currency")
    return {row["currency"]: _exact(row["total"]) for row in rows}


def payout_lines_for_shop(*, shop: Shop, reference: str | None = None) -> QuerySet[PayoutEntry]:
    """The shop's ledger lines, newest first; only one order's with ``reference``."""
    qs = PayoutEntry.objects.filter(shop=shop)
    if reference:
        qs = qs.filter(reference=reference)
    return qs.order_by("-created_at", "-pk")


def payout_boost_total(*, shop: Shop, reference: str) -> Decimal:
    """What ``shop``'s payout ledger carries for the loyalty boosts of order ``reference`` (≤ 0)."""
    total = PayoutEntry.objects.filter(shop=shop, reference=reference, kind=Kind.LOYALTY_BOOST).aggregate(
        total=Sum("amount")
    )["total"]
    return _exact(total)


def _exact(value) -> Decimal:
    """A ledger sum to the cent. PostgreSQL sums NUMERIC exactly; SQLite (the demo) sums through
    floats, so its totals are rounded back to the two places every entry has."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def payout_order_row_exact(row: dict) -> dict:
    """A row of :func:`payout_orders_for_shop` with its sums to the cent (see ``_exact``)."""
    keys = ("sale", "commission", "refunds", "commission_back", "boosts", "net")
    return {**row, **{key: _exact(row[key]) for key in keys}}


def _kind_sum(kind: str):
    return Coalesce(Sum("amount", filter=Q(kind=kind)), ZERO)


def payout_orders_for_shop(*, shop: Shop) -> QuerySet:
    """One row per order (and currency): ``reference``, ``currency``, ``sale``, ``commission``,
    ``refunds``, ``commission_back``, ``boosts`` (loyalty boosts the shop funded), ``net`` (what the shop is owed for it), ``lines`` and
    ``last_at``; the most recent order first. One query."""
    return (
        PayoutEntry.objects.filter(shop=shop)
        .values("reference", "currency")
        .annotate(
            sale=_kind_sum(Kind.SALE),
            commission=_kind_sum(Kind.COMMISSION),
            refunds=_kind_sum(Kind.REFUND),
            commission_back=_kind_sum(Kind.COMMISSION_REFUND),
            boosts=_kind_sum(Kind.LOYALTY_BOOST),
            net=Sum("amount"),
            lines=Count("pk"),
            last_at=Max("created_at"),
        )
        .order_by("-last_at", "reference")
    )

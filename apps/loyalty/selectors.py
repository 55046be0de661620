"""Reads of loyalty: a buyer's summary (balance, pending, tier and progress, points expiring soon),
their statement, what they may redeem on a total, the ledger check, and a shop's boosts with the
points they funded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from apps.catalog.models import Product
from apps.core.money import Money

from .models import Boost, BoostAward, Earning, LedgerEntry, LoyaltyAccount, Redemption, Tier
from .units import point_value, points_to_money


def account_for_user(*, user) -> LoyaltyAccount | None:
    """The buyer's account, or None before they ever earned or looked."""
    if user is None or not user.is_authenticated:
        return None
    return LoyaltyAccount.objects.select_related("tier").filter(user=user).first()


def balance_for_user(*, user) -> int:
    """Available points (0 without an account): one query, for the header badge and checkout."""
    if user is None or not user.is_authenticated:
        return 0
    return LoyaltyAccount.objects.filter(user=user).values_list("balance", flat=True).first() or 0


@dataclass(frozen=True)
class LoyaltySummary:
    balance: int
    pending: int
    currency: str
    balance_value: Money
    pending_value: Money
    tier: Tier
    next_tier: Tier | None
    spend_12m: int
    # Money still to spend (in ``currency``) to reach ``next_tier``, and the way there in percent.
    to_next: Money | None
    progress_percent: int
    expiring_points: int
    expiring_by: datetime | None
    tiers: list[Tier]


def entries_unused_by(*, at: datetime) -> QuerySet[LedgerEntry]:
    """Available entries that count towards what expires by ``at``: lots expiring by then and every
    non-lot entry (first in, first out; see models). Summed per account, what is left of the lots."""
    return LedgerEntry.objects.filter(bucket=LedgerEntry.Bucket.AVAILABLE).filter(
        Q(expires_at__isnull=True) | Q(expires_at__lte=at)
    )


def points_due_by(*, account_ids: list[int], at: datetime) -> dict[int, int]:
    """Points of each account whose lots expire by ``at`` and are not used yet (accounts with none
    are left out). One grouped query."""
    rows = (
        entries_unused_by(at=at)
        .filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(total=Sum("points"))
        .order_by()
    )
    return {row["account_id"]: row["total"] for row in rows if row["total"] > 0}


def loyalty_summary(*, user, now: datetime | None = None) -> LoyaltySummary:
    """Everything the loyalty page's head shows. A buyer without an account sees the base tier and
    zeros (nothing is written by reading)."""
    now = now or timezone.now()
    tiers = list(Tier.objects.order_by("min_spend"))
    account = account_for_user(user=user)
    if account is None:
        tier, balance, pending, spend, currency, account_id = tiers[0], 0, 0, 0, "SGD", None
    else:
        tier, balance, pending = account.tier, account.balance, account.pending
        spend, currency, account_id = account.spend_12m, account.currency, account.pk
    higher = [t for t in tiers if t.min_spend > tier.min_spend]
    next_tier = higher[0] if higher else None
    to_next = None
    progress = 100
    if next_tier is not None:
        missing = max(0, next_tier.min_spend - spend)
        to_next = Money(Decimal(missing) * point_value(currency), currency)
        span = max(1, next_tier.min_spend - tier.min_spend)
        progress = max(0, min(100, int((spend - tier.min_spend) * 100 / span)))
    expiring, expiring_by = 0, None
    if account_id is not None and balance > 0:
        horizon = now + timedelta(days=settings.LOYALTY_EXPIRY_NOTICE_DAYS)
        expiring = min(balance, points_due_by(account_ids=[account_id], at=horizon).get(account_id, 0))
        if expiring:
            expiring_by = (
                LedgerEntry.objects.filter(
                    account_id=account_id,
                    bucket=LedgerEntry.Bucket.AVAILABLE,
                    expires_at__gt=now,
                    expires_at__lte=horizon,
                )
                .order_by("expires_at")
                .values_list("expires_at", flat=True)
                .first()
            )
    return LoyaltySummary(
        balance=balance,
        pending=pending,
        currency=currency,
        balance_value=points_to_money(max(balance, 0), currency),
        pending_value=points_to_money(pending, currency),
        tier=tier,
        next_tier=next_tier,
        spend_12m=spend,
        to_next=to_next,
        progress_percent=progress,
        expiring_points=expiring,
        expiring_by=expiring_by,
        tiers=tiers,
    )


def statement_for_user(*, user) -> QuerySet[LedgerEntry]:
    """The buyer's ledger, newest first (paginate it)."""
    return LedgerEntry.objects.filter(account__user=user).order_by("-created_at", "-id")


def earnings_pending_for_user(*, user) -> QuerySet[Earning]:
    """Orders whose points are still pending (shown under the balance)."""
    return Earning.objects.filter(account__user=user, status=Earning.Status.PENDING).select_related("shop")


def redemption_for_order(*, reference: str) -> Redemption | None:
    return Redemption.objects.filter(reference=reference).first()


def earning_for_order(*, reference: str) -> Earning | None:
    """What order ``reference`` earns (points, status, what refunds took back), or None when it
    earned nothing yet (not paid or confirmed) or never will (a walk-in customer's order)."""
    return Earning.objects.filter(reference=reference).first()


@dataclass(frozen=True)
class LoyaltyTotals:
    available: int
    pending: int
    accounts_by_tier: dict[str, int]


def loyalty_totals() -> LoyaltyTotals:
    """Points all buyers hold (available, pending) and accounts per tier code: two queries."""
    sums = LoyaltyAccount.objects.aggregate(available=Coalesce(Sum("balance"), 0), pending=Coalesce(Sum("pending"), 0))
    by_tier = dict(LoyaltyAccount.objects.values_list("tier__code").annotate(n=Count("pk")).order_by())
    return LoyaltyTotals(available=sums["available"], pending=sums["pending"], accounts_by_tier=by_tier)


# --- the ledger check --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    account_id: int
    user_email: str
    what: str
    recorded: int
    ledger: int

    def __str__(self) -> str:
        return f"account {self.account_id} ({self.user_email}): {self.what} is {self.recorded}, the ledger says {self.ledger}"


def ledger_drift() -> tuple[int, list[Drift]]:
    """Every account whose available balance or pending points differ from the sum of its ledger
    (``manage.py loyalty_check``): (accounts checked, drifts). One grouped query over the ledger."""
    sums = LedgerEntry.objects.values("account_id").annotate(
        available=Coalesce(Sum("points", filter=Q(bucket=LedgerEntry.Bucket.AVAILABLE)), 0),
        pending=Coalesce(Sum("points", filter=Q(bucket=LedgerEntry.Bucket.PENDING)), 0),
    )
    ledger = {row["account_id"]: (row["available"], row["pending"]) for row in sums}
    checked = 0
    drifts: list[Drift] = []
    for account_id, email, balance, pending in LoyaltyAccount.objects.values_list(
        "pk", "user__email", "balance", "pending"
    ).iterator(chunk_size=5000):
        checked += 1
        available_sum, pending_sum = ledger.get(account_id, (0, 0))
        if balance != available_sum:
            drifts.append(Drift(account_id, email, "the available balance", balance, available_sum))
        if pending != pending_sum:
            drifts.append(Drift(account_id, email, "the pending points", pending, pending_sum))
    return checked, drifts


def ledger_entry_count() -> int:
    return LedgerEntry.objects.count()


def earning_drift() -> tuple[int, list[Drift]]:
    """Every order whose earning or redemption differs from the ledger entries with its number
    (``manage.py loyalty_check``): (orders checked, drifts). Three grouped queries.

    An order's earning side is its EARN and BONUS entries and the REVERSE entries that take points
    (refunds, cancellation) and must add up to ``Earning.points``; its redemption side is its REDEEM
    entries and the REVERSE entries that give points back, and must add up to minus the points spent
    and not given back. Ledger entries of an order without an earning (or redemption) drift too."""
    Kind = LedgerEntry.Kind
    earn_side = Q(kind__in=[Kind.EARN, Kind.BONUS]) | Q(kind=Kind.REVERSE, points__lt=0)
    redeem_side = Q(kind=Kind.REDEEM) | Q(kind=Kind.REVERSE, points__gt=0)
    sums = (
        LedgerEntry.objects.exclude(reference="")
        .values("reference", "account_id", "account__user__email")
        .annotate(
            earned=Coalesce(Sum("points", filter=earn_side), 0),
            redeemed=Coalesce(Sum("points", filter=redeem_side), 0),
            earn_entries=Count("pk", filter=earn_side),
            redeem_entries=Count("pk", filter=redeem_side),
        )
    )
    ledger = {(row["reference"], row["account_id"]): row for row in sums}
    earnings = Earning.objects.values_list("reference", "account_id", "account__user__email").annotate(
        points=F("base_points") + F("boost_points") + F("bonus_points") - F("points_reversed")
    )
    redemptions = Redemption.objects.values_list("reference", "account_id", "account__user__email").annotate(
        points=F("points") - F("points_returned")
    )
    drifts: list[Drift] = []
    seen_earnings: set[tuple[str, int]] = set()
    seen_redemptions: set[tuple[str, int]] = set()
    for reference, account_id, email, points in earnings.iterator(chunk_size=5000):
        seen_earnings.add((reference, account_id))
        row = ledger.get((reference, account_id))
        in_ledger = row["earned"] if row else 0
        if points != in_ledger:
            drifts.append(Drift(account_id, email, f"the points earned on order {reference}", points, in_ledger))
    for reference, account_id, email, points in redemptions.iterator(chunk_size=5000):
        seen_redemptions.add((reference, account_id))
        row = ledger.get((reference, account_id))
        in_ledger = -row["redeemed"] if row else 0
        if points != in_ledger:
            drifts.append(Drift(account_id, email, f"the points spent on order {reference}", points, in_ledger))
    for key, row in ledger.items():
        email = row["account__user__email"]
        if row["earn_entries"] and key not in seen_earnings:
            drifts.append(Drift(key[1], email, f"the points earned on order {key[0]}", 0, row["earned"]))
        if row["redeem_entries"] and key not in seen_redemptions:
            drifts.append(Drift(key[1], email, f"the points spent on order {key[0]}", 0, -row["redeemed"]))
    return len(seen_earnings | seen_redemptions), drifts


# --- shops' boosts -------------------------------------------------------------------------------------


def boosts_for_shop(*, shop) -> QuerySet[Boost]:
    """The shop's boosts, newest first, each with ``awarded`` (points its orders still carry, i.e.
    what the shop funds) and ``orders`` (how many orders it boosted)."""
    return (
        Boost.objects.filter(shop=shop)
        .select_related("product")
        .annotate(
            awarded=Coalesce(Sum(F("awards__points") - F("awards__points_reversed")), 0),
            orders=Count("awards"),
        )
        .order_by("-starts_at", "-id")
    )


def boost_get_for_shop(*, shop, boost_id) -> Boost:
    """One of the shop's boosts; another shop's (or none) is a 404."""
    boost = boosts_for_shop(shop=shop).filter(pk=boost_id).first() if str(boost_id).isdigit() else None
    if boost is None:
        raise Http404("No such boost")
    return boost


def boost_awards_for_shop(*, shop, boost: Boost | None = None) -> QuerySet[BoostAward]:
    """The orders the shop's boosts added points to, newest first."""
    awards = BoostAward.objects.filter(boost__shop=shop).select_related("boost__product", "earning")
    if boost is not None:
        awards = awards.filter(boost=boost)
    return awards.order_by("-created_at", "-id")


def boost_product_choices(*, shop, include: int | None = None) -> QuerySet[Product]:
    """The shop's products a boost can be put on (not archived; ``include``: a product to keep
    listed anyway, the one an existing boost is on), by title."""
    products = Product.objects.filter(shop=shop)
    keep = ~Q(status=Product.Status.ARCHIVED)
    if include is not None:
        keep |= Q(pk=include)
    return products.filter(keep).order_by("title", "pk")


def boost_funded_value(*, points: int, currency: str) -> Money:
    """What ``points`` of boosts cost the shop in its currency."""
    return points_to_money(points, currency)


def boosts_running(*, at: datetime) -> QuerySet[Boost]:
    """Boosts switched on whose window holds ``at``."""
    return Boost.objects.filter(active=True, starts_at__lte=at).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))


def best_boosts_running(*, shop, product_ids: set[int], at: datetime) -> dict[int, Boost]:
    """Each of the shop's products' best boost running at ``at`` (the highest rate; the newest on a tie)."""
    boosts = boosts_running(at=at).filter(shop=shop, product_id__in=product_ids).order_by("extra_rate", "pk")
    return {boost.product_id: boost for boost in boosts}  # the last, the best, wins


def live_boost_for_product(*, product, at: datetime | None = None) -> Boost | None:
    """The best boost running on ``product`` now (product pages show the extra points)."""
    return boosts_running(at=at or timezone.now()).filter(product=product).order_by("-extra_rate", "-pk").first()

"""Every write to loyalty: earning, releasing, reducing and reversing an order's points; redeeming
and giving points back; staff adjustments; the nightly expiry (with its warnings) and tier review.

Each service locks the buyer's ``LoyaltyAccount`` row (``SELECT … FOR UPDATE``) before it reads the
balance and appends ledger entries, so two checkouts redeeming at the same moment are served one
after the other and the second sees what the first left. The account's ``balance`` and ``pending``
move in the same transaction as the entries (``_write``).

The orders app calls these with plain values (an order number, the money paid, the lines); this app
never imports orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core.money import Money
from apps.core.services import email_send
from apps.payments.selectors import payout_boost_total
from apps.payments.services import payout_record_boost

from .errors import LoyaltyError, NotEnoughPoints
from .models import Boost, BoostAward, Earning, LedgerEntry, LoyaltyAccount, Redemption, Tier, TierChange
from .selectors import best_boosts_running, entries_unused_by, points_due_by
from .units import money_to_points, point_value, points_to_money

Kind = LedgerEntry.Kind
Bucket = LedgerEntry.Bucket
MAX_POINTS = 10_000_000  # far above any balance: a bigger number is a typing error or tampering


def _language(account: LoyaltyAccount) -> str:
    """The buyer's language: ledger reasons are written in it (they show on the statement as written)."""
    return getattr(account.user, "preferred_language", "") or settings.LANGUAGE_CODE


def _account_language(account_id: int) -> str:
    language = LoyaltyAccount.objects.filter(pk=account_id).values_list("user__preferred_language", flat=True).first()
    return language or settings.LANGUAGE_CODE


def _lifetime() -> timedelta:
    return timedelta(days=settings.LOYALTY_POINTS_LIFETIME_DAYS)


DEFAULT_TIERS = [
    # code, name, 12-month spend in points' worth (a point is about one US cent), rebate rate
    ("bronze", "Bronze", 0, Decimal("0.0100")),
    ("silver", "Silver", 30_000, Decimal("0.0200")),
    ("gold", "Gold", 100_000, Decimal("0.0300")),
]


def tiers_default_ensure(**kwargs) -> int:
    """Make the starting tiers when there are none at all (a new database, or one a test emptied);
    tiers staff edited are left alone. Returns how many were made. Connected to ``post_migrate``."""
    if Tier.objects.exists():
        return 0
    made = 0
    for code, name, min_spend, rate in DEFAULT_TIERS:
        _tier, created = Tier.objects.get_or_create(
            code=code, defaults={"name": name, "min_spend": min_spend, "rate": rate}
        )
        made += created
    return made


def _base_tier() -> Tier:
    tier = Tier.objects.order_by("min_spend").first()
    if tier is None:  # the migration makes bronze, silver and gold; someone deleted them all
        # Buyers' first accounts made at the same moment make it once (the unique code decides).
        tier, _created = Tier.objects.get_or_create(
            code="bronze", defaults={"name": "Bronze", "min_spend": 0, "rate": Decimal("0.0100")}
        )
    return tier


def points_parse(value) -> int:
    """A number of points typed by a person (or sent by a form): a whole number from 0 up; raises
    ``LoyaltyError`` saying what is wrong otherwise (negative, a fraction, text, absurdly large)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, bool):
        raise LoyaltyError(_("Enter the points as a whole number."), code="points-invalid")
    text = str(value).strip()
    try:
        number = Decimal(text)
    except ArithmeticError:
        raise LoyaltyError(_("Enter the points as a whole number."), code="points-invalid") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise LoyaltyError(_("Enter the points as a whole number."), code="points-invalid")
    if number < 0:
        raise LoyaltyError(_("The number of points cannot be negative."), code="points-negative")
    if number > MAX_POINTS:
        raise LoyaltyError(_("That is more points than any account holds."), code="points-invalid")
    return int(number)


# --- the account and its ledger ----------------------------------------------------------------------


def account_get_or_create(*, user) -> LoyaltyAccount:
    """The buyer's account, made (in the base tier) the first time it is needed."""
    account = LoyaltyAccount.objects.filter(user=user).select_related("tier").first()
    if account is not None:
        return account
    tier = _base_tier()  # outside the savepoint: only the unique buyer may say "made meanwhile" below
    try:
        with transaction.atomic():
            return LoyaltyAccount.objects.create(user=user, tier=tier, tier_since=timezone.now())
    except IntegrityError:  # made by a concurrent request
        return LoyaltyAccount.objects.select_related("tier").get(user=user)


def _lock(*, user=None, account_id: int | None = None) -> LoyaltyAccount:
    """The account's row, locked until the transaction ends (made first when missing)."""
    locked = LoyaltyAccount.objects.select_for_update(of=("self",)).select_related("tier", "user")
    if account_id is not None:
        return locked.get(pk=account_id)
    account = locked.filter(user=user).first()
    if account is None:
        account_get_or_create(user=user)
        account = locked.get(user=user)
    return account


def _write(account: LoyaltyAccount, entries: list[LedgerEntry], *, now: datetime | None = None) -> list[LedgerEntry]:
    """Append ``entries`` to the (locked) account's ledger and move its bucket totals with them."""
    entries = [e for e in entries if e.points]
    if not entries:
        return []
    now = now or timezone.now()
    for entry in entries:
        entry.account = account
        entry.created_at = now
    LedgerEntry.objects.bulk_create(entries)
    account.balance += sum(e.points for e in entries if e.bucket == Bucket.AVAILABLE)
    account.pending += sum(e.points for e in entries if e.bucket == Bucket.PENDING)
    account.save(update_fields=["balance", "pending", "currency", "updated_at"])
    return entries


# --- earning -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarningLine:
    """One line of an order, as earning needs it: the product and the money paid for the line."""

    product_id: int | None
    amount: Decimal


@transaction.atomic
def earning_record(
    *,
    user,
    reference: str,
    shop,
    currency: str,
    paid: Decimal,
    lines: list[EarningLine],
    placed_at: datetime,
) -> Earning:
    """An order was paid (or confirmed, to be paid on pickup): it earns pending points.

    ``paid`` is the money paid (points redeemed on the order do not earn). Points: the account's tier
    rate of ``paid``, plus each boosted product's extra rate of what was paid for it (funded by the
    shop), plus the first-purchase bonus on the buyer's first order that is not reversed. All are
    rounded down to whole points. Recording the same order again returns the first earning."""
    existing = Earning.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    if paid < 0:
        raise LoyaltyError(f"Order {reference}: the paid amount cannot be negative.")
    account = _lock(user=user)
    existing = Earning.objects.filter(reference=reference).first()  # recorded while we waited for the lock
    if existing is not None:
        return existing
    rate = account.tier.rate
    base = money_to_points(paid * rate, currency)
    boosts = best_boosts_running(shop=shop, product_ids={ln.product_id for ln in lines if ln.product_id}, at=placed_at)
    boosted: dict[int, Decimal] = {}  # per boost, the money paid for its product (on one or more lines)
    for line in lines:
        boost = boosts.get(line.product_id)
        if boost is not None:
            boosted[boost.pk] = boosted.get(boost.pk, Decimal(0)) + line.amount * boost.extra_rate
    awards = {boost_id: money_to_points(value, currency) for boost_id, value in boosted.items()}
    awards = {boost_id: points for boost_id, points in awards.items() if points}
    boost_points = sum(awards.values())
    # The first order the buyer paid money for (one paid entirely with points, or reversed, doesn't count).
    first = not Earning.objects.filter(account=account, paid__gt=0).exclude(status=Earning.Status.REVERSED).exists()
    bonus = settings.LOYALTY_FIRST_PURCHASE_BONUS if first and paid > 0 else 0
    earning = Earning.objects.create(
        account=account,
        reference=reference,
        shop=shop,
        currency=currency,
        paid=paid,
        tier=account.tier,
        rate=rate,
        base_points=base,
        boost_points=boost_points,
        bonus_points=bonus,
        placed_at=placed_at,
    )
    BoostAward.objects.bulk_create(
        [BoostAward(boost_id=boost_id, earning=earning, points=points) for boost_id, points in awards.items()]
    )
    account.currency = currency
    with translation.override(_language(account)):
        reason = _("Order %(number)s at %(shop)s") % {"number": reference, "shop": shop.name}
        if boost_points:
            reason += " " + _("(%(points)s boost points funded by the shop)") % {"points": boost_points}
        bonus_reason = _("First purchase bonus")
    _write(
        account,
        [
            LedgerEntry(
                kind=Kind.EARN, bucket=Bucket.PENDING, points=base + boost_points, reference=reference, reason=reason
            ),
            LedgerEntry(
                kind=Kind.BONUS,
                bucket=Bucket.PENDING,
                points=bonus,
                reference=reference,
                reason=bonus_reason,
            ),
        ],
    )
    return earning


def _earning_locked(reference: str) -> Earning | None:
    return Earning.objects.select_for_update().filter(reference=reference).first()


@transaction.atomic
def earning_release(*, reference: str, now: datetime | None = None) -> Earning | None:
    """The order was delivered or collected: its pending points become available (each lot expires
    ``LOYALTY_POINTS_LIFETIME_DAYS`` from now). Nothing happens for an order that earned nothing,
    was reversed or was released before."""
    earning = _earning_locked(reference)
    if earning is None or earning.status != Earning.Status.PENDING:
        return earning
    now = now or timezone.now()
    account = _lock(account_id=earning.account_id)
    earned = earning.base_points + earning.boost_points - earning.points_reversed
    expires_at = now + _lifetime()
    with translation.override(_language(account)):
        reason = _("Order %(number)s arrived: points available") % {"number": reference}
    entries = []
    for kind, points in ((Kind.EARN, earned), (Kind.BONUS, earning.bonus_points)):
        if points > 0:
            entries += [
                LedgerEntry(kind=kind, bucket=Bucket.PENDING, points=-points, reference=reference, reason=reason),
                LedgerEntry(
                    kind=kind,
                    bucket=Bucket.AVAILABLE,
                    points=points,
                    reference=reference,
                    reason=reason,
                    expires_at=expires_at,
                ),
            ]
    _write(account, entries, now=now)
    earning.status = Earning.Status.AVAILABLE
    earning.available_at = now
    earning.save(update_fields=["status", "available_at", "updated_at"])
    _boost_payout_follow(earning)
    return earning


def _bucket(earning: Earning) -> str:
    return Bucket.PENDING if earning.status == Earning.Status.PENDING else Bucket.AVAILABLE


@transaction.atomic
def earning_reduce(*, reference: str, refunded: Decimal, reason: str = "") -> Earning | None:
    """Money was given back on the order: ``refunded`` is all the money refunded on it so far. The
    earned points (rebate and boosts) shrink in proportion to what the buyer keeps, rounded down;
    all of it refunded reverses the earning with its bonus. Safe to call again with the same total."""
    earning = _earning_locked(reference)
    if earning is None or earning.status == Earning.Status.REVERSED:
        return earning
    if not earning.paid:  # paid entirely with points: it earned nothing that a refund could shrink
        return earning
    refunded = min(max(Decimal(refunded), Decimal(0)), earning.paid)
    if not reason:
        with translation.override(_account_language(earning.account_id)):
            reason = (
                _("Order %(number)s refunded") if refunded >= earning.paid else _("Part of order %(number)s refunded")
            ) % {"number": reference}
    if refunded >= earning.paid:
        return _reverse(earning, refunded=refunded, reason=reason)
    kept = earning.paid - refunded
    earned = earning.base_points + earning.boost_points

    def keep(points: int) -> int:
        return int((Decimal(points) * kept / earning.paid).to_integral_value(rounding=ROUND_FLOOR))

    take = (earned - earning.points_reversed) - keep(earned)
    if take > 0:
        account = _lock(account_id=earning.account_id)
        _write(
            account,
            [
                LedgerEntry(
                    kind=Kind.REVERSE,
                    bucket=_bucket(earning),
                    points=-take,
                    reference=reference,
                    reason=reason,
                )
            ],
        )
        earning.points_reversed += take
        for award in earning.boost_awards.select_for_update():
            award.points_reversed = award.points - keep(award.points)
            award.save(update_fields=["points_reversed"])
    earning.refunded = refunded
    earning.save(update_fields=["refunded", "points_reversed", "updated_at"])
    _boost_payout_follow(earning)
    return earning


def _reverse(earning: Earning, *, refunded: Decimal | None, reason: str) -> Earning:
    left = earning.points
    if left:
        account = _lock(account_id=earning.account_id)
        _write(
            account,
            [
                LedgerEntry(
                    kind=Kind.REVERSE, bucket=_bucket(earning), points=-left, reference=earning.reference, reason=reason
                )
            ],
        )
    earning.points_reversed = earning.base_points + earning.boost_points + earning.bonus_points
    if refunded is not None:
        earning.refunded = refunded
    earning.status = Earning.Status.REVERSED
    earning.save(update_fields=["points_reversed", "refunded", "status", "updated_at"])
    for award in earning.boost_awards.select_for_update():
        if award.points_reversed != award.points:
            award.points_reversed = award.points
            award.save(update_fields=["points_reversed"])
    _boost_payout_follow(earning)
    return earning


def _boost_payout_follow(earning: Earning) -> None:
    """The shop pays for the boost points its buyer holds: once they became available, the shop's
    payout ledger carries minus their worth for the order, and refunds that take some back give
    that part back (each change one line, keyed by the points kept, so a repeat writes nothing)."""
    if earning.available_at is None or not earning.boost_points:
        return
    kept = sum(award.points - award.points_reversed for award in earning.boost_awards.all())
    target = -points_to_money(kept, earning.currency).amount
    current = payout_boost_total(shop=earning.shop, reference=earning.reference)
    if target != current:
        payout_record_boost(
            shop=earning.shop,
            reference=earning.reference,
            amount=Money(target - current, earning.currency),
            entry_key=f"boost-kept-{kept}",
        )


@transaction.atomic
def earning_reverse(*, reference: str, reason: str) -> Earning | None:
    """The order was cancelled or its goods came back: everything it earned is taken back (pending
    or, if it was already available, from the balance, which may then go below zero until the
    buyer earns again). Safe to call again."""
    earning = _earning_locked(reference)
    if earning is None or earning.status == Earning.Status.REVERSED:
        return earning
    return _reverse(earning, refunded=None, reason=reason)


# --- redeeming -------------------------------------------------------------------------------------------


def points_available_locked(*, user) -> int:
    """The buyer's available points, with their account locked until the transaction ends (so an
    automatic redemption spends exactly what is there)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("points_available_locked needs a transaction")
    return max(0, _lock(user=user).balance)


@dataclass(frozen=True)
class RedemptionPart:
    """Points to spend on one order: ``cap`` is the order's total (points never pay more)."""

    reference: str
    points: int
    cap: Decimal


def points_max(*, balance: int, currency: str, total: Decimal) -> int:
    """The most points that can pay towards ``total``: the balance, and no more than the total is worth."""
    return max(0, min(balance, money_to_points(total, currency)))


def points_allocate(*, points: int, currency: str, totals: list[Decimal]) -> list[int]:
    """Share ``points`` out over orders of ``totals`` in proportion, whole points each, none worth
    more than its order. Raises ``LoyaltyError`` when the points are worth more than all of them."""
    caps = [money_to_points(total, currency) for total in totals]
    if points > sum(caps):
        raise LoyaltyError(
            _("Your points would pay more than the order total: use at most %(points)s.") % {"points": sum(caps)},
            code="points-over-total",
        )
    grand = sum(totals, Decimal(0))
    shares = [
        min(cap, int((Decimal(points) * total / grand).to_integral_value(rounding=ROUND_FLOOR)) if grand else 0)
        for cap, total in zip(caps, totals, strict=True)
    ]
    rest = points - sum(shares)
    for i, cap in enumerate(caps):  # the rounding's leftovers go to orders that can still take them
        extra = min(rest, cap - shares[i])
        shares[i] += extra
        rest -= extra
    return shares


@transaction.atomic
def points_redeem(*, user, checkout: str, currency: str, parts: list[RedemptionPart]) -> list[Redemption]:
    """Spend points on a checkout's orders, one ``Redemption`` and one ledger entry per order.

    Under the account's lock: refused (``NotEnoughPoints``) when the points are more than the
    balance, and (``LoyaltyError``) when an order's points are worth more than its total. Nothing is
    written then."""
    parts = [part for part in parts if part.points]
    if not parts:
        return []
    if any(part.points < 0 for part in parts):
        raise LoyaltyError(_("The number of points cannot be negative."), code="points-negative")
    account = _lock(user=user)
    wanted = sum(part.points for part in parts)
    if wanted > account.balance:
        raise NotEnoughPoints(
            _("You have %(balance)s points available: you cannot use %(points)s.")
            % {"balance": max(account.balance, 0), "points": wanted}
        )
    redemptions = []
    entries = []
    for part in parts:
        value = points_to_money(part.points, currency)
        if value.amount > part.cap:
            raise LoyaltyError(
                _("%(points)s points are worth %(value)s, more than order %(number)s costs.")
                % {"points": part.points, "value": value.format(translation.get_language()), "number": part.reference},
                code="points-over-total",
            )
        redemptions.append(
            Redemption(
                account=account,
                reference=part.reference,
                checkout=checkout,
                currency=currency,
                points=part.points,
                value=value.amount,
            )
        )
        with translation.override(_language(account)):
            used_on = _("Used on order %(number)s") % {"number": part.reference}
        entries.append(
            LedgerEntry(
                kind=Kind.REDEEM,
                bucket=Bucket.AVAILABLE,
                points=-part.points,
                reference=part.reference,
                reason=used_on,
            )
        )
    Redemption.objects.bulk_create(redemptions)
    _write(account, entries)
    return redemptions


@transaction.atomic
def redemption_return(*, reference: str, points: int | None = None, reason: str) -> int:
    """Give back ``points`` (all not given back yet when ``None``) spent on order ``reference``: the
    order was refunded, cancelled or not paid in time. Returns how many came back (never more than
    were spent)."""
    redemption = Redemption.objects.select_for_update().filter(reference=reference).first()
    if redemption is None:
        return 0
    left = redemption.points - redemption.points_returned
    back = left if points is None else min(max(int(points), 0), left)
    if back <= 0:
        return 0
    account = _lock(account_id=redemption.account_id)
    _write(
        account,
        [LedgerEntry(kind=Kind.REVERSE, bucket=Bucket.AVAILABLE, points=back, reference=reference, reason=reason)],
    )
    redemption.points_returned += back
    redemption.save(update_fields=["points_returned", "updated_at"])
    return back


@transaction.atomic
def redemption_retake(*, reference: str, reason: str) -> int:
    """A payment arrived after the order's points were given back (its checkout had expired): the
    order is paid as placed, so its points are spent again, even if that takes the balance below
    zero (the buyer then earns their way back before redeeming)."""
    redemption = Redemption.objects.select_for_update().filter(reference=reference).first()
    if redemption is None or redemption.points_returned == 0:
        return 0
    taken = redemption.points_returned
    account = _lock(account_id=redemption.account_id)
    _write(
        account,
        [LedgerEntry(kind=Kind.REDEEM, bucket=Bucket.AVAILABLE, points=-taken, reference=reference, reason=reason)],
    )
    redemption.points_returned = 0
    redemption.save(update_fields=["points_returned", "updated_at"])
    return taken


# --- staff ----------------------------------------------------------------------------------------------


@transaction.atomic
def points_adjust(*, user, points: int, reason: str, actor) -> LedgerEntry:
    """Staff add (``points`` > 0, expiring like earned points) or take points, with a reason the
    buyer sees on their statement. Refused: zero, no reason, or taking more than the balance."""
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("Give a reason: the buyer sees it on their statement."), code="reason-required")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LoyaltyError(_("Enter a whole number of points other than zero."), code="points-invalid")
    if abs(points) > MAX_POINTS:
        raise LoyaltyError(_("That is more points than any account holds."), code="points-invalid")
    account = _lock(user=user)
    if points < 0 and -points > account.balance:
        raise NotEnoughPoints(
            _("The buyer has %(balance)s points available: you cannot take %(points)s.")
            % {"balance": max(account.balance, 0), "points": -points}
        )
    now = timezone.now()
    (entry,) = _write(
        account,
        [
            LedgerEntry(
                kind=Kind.ADJUST,
                bucket=Bucket.AVAILABLE,
                points=points,
                reason=reason[:300],
                expires_at=now + _lifetime() if points > 0 else None,
                actor=actor,
                actor_label=getattr(actor, "email", "") or "",
            )
        ],
        now=now,
    )
    return entry


# --- shops' boosts -----------------------------------------------------------------------------------------

BOOST_RATE_MIN = Decimal("0.0050")
BOOST_RATE_MAX = Decimal("0.2000")


def boost_check(
    *,
    shop,
    product,
    extra_rate: Decimal,
    starts_at: datetime,
    ends_at: datetime | None,
    boost: Boost | None = None,
    now: datetime | None = None,
) -> datetime:
    """Check a new boost (``boost`` None) or a change to ``boost``; return the start it gets.

    A new boost never reaches back to orders placed before it was made: a start in the past becomes
    now (and its end must be in the future); a changed one cannot start before it was made. Raises
    ``LoyaltyError`` for another shop's product, a rate outside 0.5% to 20% (or finer than 0.01%),
    an end not after the start, or a new product on a boost that has already boosted orders."""
    if product is None or product.shop_id != shop.pk:
        raise LoyaltyError(_("Choose one of your shop's own products."), code="boost-product")
    if extra_rate is None or not BOOST_RATE_MIN <= Decimal(extra_rate) <= BOOST_RATE_MAX:
        raise LoyaltyError(
            _("The extra rebate must be between %(low)s%% and %(high)s%%.")
            % {"low": (BOOST_RATE_MIN * 100).normalize(), "high": (BOOST_RATE_MAX * 100).normalize()},
            code="boost-rate",
        )
    if Decimal(extra_rate) != Decimal(extra_rate).quantize(Decimal("0.0001")):
        raise LoyaltyError(_("Give the extra rebate with at most two decimals, e.g. 2.25%."), code="boost-rate")
    if boost is None:
        now = now or timezone.now()
        if ends_at is not None and ends_at <= now:
            raise LoyaltyError(_("The boost must end in the future."), code="boost-window")
        starts_at = max(starts_at, now)
    else:
        starts_at = max(starts_at, boost.created_at)
    if ends_at is not None and ends_at <= starts_at:
        raise LoyaltyError(_("The boost must end after it starts."), code="boost-window")
    if boost is not None and product.pk != boost.product_id and boost.awards.exists():
        raise LoyaltyError(
            _("This boost has boosted orders, so its product cannot change: switch it off and create a new one."),
            code="boost-product-locked",
        )
    return starts_at


@transaction.atomic
def boost_create(
    *, shop, product, extra_rate: Decimal, starts_at: datetime, ends_at: datetime | None = None, actor=None
) -> Boost:
    """The shop funds ``extra_rate`` (0.5% to 20%) more of the price back as points on one of its own
    products, for orders placed from ``starts_at`` (now when in the past) until ``ends_at``
    (open-ended when None). Refused with ``LoyaltyError`` as ``boost_check`` says."""
    starts_at = boost_check(shop=shop, product=product, extra_rate=extra_rate, starts_at=starts_at, ends_at=ends_at)
    boost = Boost(
        shop=shop,
        product=product,
        extra_rate=Decimal(extra_rate),
        starts_at=starts_at,
        ends_at=ends_at,
        active=True,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    boost.full_clean()
    boost.save()
    return boost


@transaction.atomic
def boost_update(
    *,
    boost: Boost,
    product,
    extra_rate: Decimal,
    starts_at: datetime,
    ends_at: datetime | None,
    active: bool = True,
) -> Boost:
    """Change a boost, for orders placed from now on (points already awarded stay); ``active``
    False switches it off, True on again. Refused with ``LoyaltyError`` as ``boost_check`` says."""
    boost = Boost.objects.select_for_update(of=("self",)).select_related("shop").get(pk=boost.pk)
    starts_at = boost_check(
        shop=boost.shop,
        product=product,
        extra_rate=extra_rate,
        starts_at=starts_at,
        ends_at=ends_at,
        boost=boost,
    )
    boost.product = product
    boost.extra_rate = Decimal(extra_rate)
    boost.starts_at = starts_at
    boost.ends_at = ends_at
    boost.active = bool(active)
    boost.full_clean()
    boost.save(update_fields=["product", "extra_rate", "starts_at", "ends_at", "active", "updated_at"])
    return boost


@transaction.atomic
def boost_stop(*, boost: Boost) -> Boost:
    """Switch a boost off: orders placed from now on earn no boost points from it (those it already
    boosted keep theirs). Stopping a stopped boost changes nothing."""
    boost = Boost.objects.select_for_update().get(pk=boost.pk)
    if boost.active:
        boost.active = False
        boost.save(update_fields=["active", "updated_at"])
    return boost


# --- nightly: expiry -------------------------------------------------------------------------------------

NIGHTLY_CHUNK = 500  # accounts locked and written together by the nightly jobs


def _chunks(ids: list[int], size: int = NIGHTLY_CHUNK):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _locked_accounts(account_ids: list[int]) -> list[LoyaltyAccount]:
    # In primary-key order, like every multi-account lock here: two jobs never deadlock.
    return list(
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("user", "tier")
        .filter(pk__in=account_ids)
        .order_by("pk")
    )


@transaction.atomic
def accounts_expire(*, account_ids: list[int], now: datetime) -> dict[int, int]:
    """Expire what is due on these accounts (locked together, in one transaction); returns the
    points expired per account that lost any."""
    accounts = _locked_accounts(account_ids)
    due = points_due_by(account_ids=[a.pk for a in accounts], at=now)
    reasons: dict[str, str] = {}
    expired: dict[int, int] = {}
    entries = []
    for account in accounts:
        points = min(due.get(account.pk, 0), account.balance)
        if points <= 0:
            continue
        language = _language(account)
        if language not in reasons:
            with translation.override(language):
                reasons[language] = _("Points earned more than %(days)s days ago") % {
                    "days": settings.LOYALTY_POINTS_LIFETIME_DAYS
                }
        reason = reasons[language]
        entries.append(
            LedgerEntry(
                account=account,
                kind=Kind.EXPIRE,
                bucket=Bucket.AVAILABLE,
                points=-points,
                reason=reason,
                created_at=now,
            )
        )
        account.balance -= points
        account.updated_at = now
        expired[account.pk] = points
    LedgerEntry.objects.bulk_create(entries)
    LoyaltyAccount.objects.bulk_update([a for a in accounts if a.pk in expired], ["balance", "updated_at"])
    return expired


def account_expire(*, account_id: int, now: datetime) -> int:
    """Expire what is due on one account; returns the points expired."""
    return accounts_expire(account_ids=[account_id], now=now).get(account_id, 0)


def points_expire(*, now: datetime | None = None) -> dict[str, int]:
    """The nightly expiry: every account with points past their lifetime loses them (oldest first),
    then buyers with points expiring in the next ``LOYALTY_EXPIRY_NOTICE_DAYS`` are warned once per
    lot. One grouped query finds the accounts; they are locked and written ``NIGHTLY_CHUNK`` at a
    time. Running it twice expires nothing more."""
    now = now or timezone.now()
    candidates = (
        entries_unused_by(at=now)
        .filter(account__balance__gt=0)
        .values("account_id")
        .annotate(total=Sum("points"))
        .filter(total__gt=0)
        .order_by("account_id")
        .values_list("account_id", flat=True)
    )
    accounts = points = 0
    for chunk in _chunks(list(candidates)):
        expired = accounts_expire(account_ids=chunk, now=now)
        accounts += len(expired)
        points += sum(expired.values())
    warned = expiry_notices_send(now=now)
    return {"accounts": accounts, "points": points, "warned": warned}


def _lots_to_warn(now: datetime, horizon: datetime):
    """Lots expiring between now and ``horizon`` that their account was not warned about yet."""
    return LedgerEntry.objects.filter(
        bucket=Bucket.AVAILABLE, expires_at__gt=now, expires_at__lte=horizon, account__balance__gt=0
    ).filter(Q(account__expiry_notified_until__isnull=True) | Q(expires_at__gt=F("account__expiry_notified_until")))


@transaction.atomic
def accounts_expiry_notice(*, account_ids: list[int], now: datetime) -> set[int]:
    """Warn these buyers of the points that expire within the notice period (once per lot: each
    account remembers the last expiry it was warned of); returns the accounts emailed. Nobody is
    emailed about points they have already spent."""
    horizon = now + timedelta(days=settings.LOYALTY_EXPIRY_NOTICE_DAYS)
    accounts = _locked_accounts(account_ids)
    ids = [a.pk for a in accounts]
    last = dict(
        _lots_to_warn(now, horizon)
        .filter(account_id__in=ids)
        .values("account_id")
        .annotate(last=Max("expires_at"))
        .order_by()
        .values_list("account_id", "last")
    )
    due = points_due_by(account_ids=ids, at=horizon)
    warned, changed = set(), []
    for account in accounts:
        if account.pk not in last:
            continue
        account.expiry_notified_until = last[account.pk]
        account.updated_at = now
        changed.append(account)
        points = min(due.get(account.pk, 0), account.balance)
        if points > 0:
            _expiry_email(account, points=points, expires_at=last[account.pk])
            warned.add(account.pk)
    LoyaltyAccount.objects.bulk_update(changed, ["expiry_notified_until", "updated_at"])
    return warned


def account_expiry_notice(*, account_id: int, now: datetime) -> bool:
    """Warn one buyer of the points that expire within the notice period (once per lot)."""
    return account_id in accounts_expiry_notice(account_ids=[account_id], now=now)


def _expiry_email(account: LoyaltyAccount, *, points: int, expires_at: datetime) -> None:
    user = account.user
    context = {
        "user": user,
        "points": points,
        "value": points_to_money(points, account.currency),
        "expires_at": expires_at,
        "site_url": settings.SITE_URL,
    }
    with translation.override(getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE):
        email_send(
            to=[user.email],
            subject=_("%(points)s of your points expire soon") % {"points": points},
            body=render_to_string("loyalty/email/points_expiring.txt", context),
        )


def expiry_notices_send(*, now: datetime | None = None) -> int:
    """Warn every buyer with points expiring within ``LOYALTY_EXPIRY_NOTICE_DAYS``; returns how many."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.LOYALTY_EXPIRY_NOTICE_DAYS)
    candidates = _lots_to_warn(now, horizon).values_list("account_id", flat=True).distinct().order_by("account_id")
    return sum(len(accounts_expiry_notice(account_ids=chunk, now=now)) for chunk in _chunks(list(candidates)))


# --- nightly: tiers ----------------------------------------------------------------------------------------


def tier_for(*, spend: int, tiers: list[Tier]) -> Tier:
    """The highest tier whose threshold ``spend`` reaches (``tiers`` in ascending order)."""
    reached = tiers[0]
    for tier in tiers:
        if spend >= tier.min_spend:
            reached = tier
    return reached


def spend_by_account(*, since: datetime, account_ids: list[int] | None = None) -> dict[int, int]:
    """Money each account spent (paid less refunded) on orders placed since ``since``, not reversed,
    in points' worth (each currency at its point value)."""
    rows = Earning.objects.filter(placed_at__gte=since).exclude(status=Earning.Status.REVERSED)
    if account_ids is not None:
        rows = rows.filter(account_id__in=account_ids)
    spend: dict[int, Decimal] = {}
    for row in rows.values("account_id", "currency").annotate(paid=Sum("paid"), refunded=Sum("refunded")).order_by():
        worth = (row["paid"] - row["refunded"]) / point_value(row["currency"])
        spend[row["account_id"]] = spend.get(row["account_id"], Decimal(0)) + worth
    return {account_id: int(value.to_integral_value(rounding=ROUND_FLOOR)) for account_id, value in spend.items()}


@transaction.atomic
def accounts_tier_set(*, spend: dict[int, int], tiers: list[Tier], now: datetime) -> dict[int, str]:
    """Put each account of ``spend`` (account id → 12-month spend) in the tier its spend reaches,
    locked and written together; returns "promoted", "demoted" or "" per account. A tier change is
    recorded (``TierChange``) and a promotion emailed."""
    accounts = _locked_accounts(list(spend))
    changes, moved = [], {}
    for account in accounts:
        new_spend = spend[account.pk]
        tier = tier_for(spend=new_spend, tiers=tiers)
        moved[account.pk] = ""
        if tier.pk != account.tier_id:
            moved[account.pk] = "promoted" if tier.min_spend > account.tier.min_spend else "demoted"
            changes.append(
                TierChange(account=account, from_tier=account.tier, to_tier=tier, spend_12m=new_spend, created_at=now)
            )
            account.tier = tier
            account.tier_since = now
            if moved[account.pk] == "promoted":
                _promotion_email(account, tier)
        account.spend_12m = new_spend
        account.tier_reviewed_at = now
        account.updated_at = now
    TierChange.objects.bulk_create(changes)
    LoyaltyAccount.objects.bulk_update(
        accounts, ["tier", "tier_since", "spend_12m", "tier_reviewed_at", "updated_at"], batch_size=NIGHTLY_CHUNK
    )
    return moved


def account_tier_set(*, account_id: int, spend: int, tiers: list[Tier], now: datetime) -> str:
    """Put one account in the tier its spend reaches; "promoted", "demoted" or "" (unchanged)."""
    return accounts_tier_set(spend={account_id: spend}, tiers=tiers, now=now).get(account_id, "")


def _percent(rate: Decimal) -> Decimal:
    """``rate`` in percent to one decimal, without a trailing ``.0`` (``0.0200`` → 2, ``0.1000`` → 10)."""
    percent = (rate * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return percent.quantize(Decimal(1)) if percent == percent.to_integral_value() else percent


def _promotion_email(account: LoyaltyAccount, tier: Tier) -> None:
    user = account.user
    context = {
        "user": user,
        "tier": tier,
        "rate_percent": _percent(tier.rate),
        "site_url": settings.SITE_URL,
    }
    with translation.override(getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE):
        email_send(
            to=[user.email],
            subject=_("You are now %(tier)s") % {"tier": tier.name},
            body=render_to_string("loyalty/email/tier_promoted.txt", context),
        )


def tiers_review(*, now: datetime | None = None) -> dict[str, int]:
    """The nightly tier review: each account's rolling 12-month spend decides its tier; promoted
    buyers are emailed. Only accounts whose spend or tier changes are written, ``NIGHTLY_CHUNK`` at a
    time."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS)
    tiers = list(Tier.objects.order_by("min_spend"))
    spend = spend_by_account(since=since)
    changed: dict[int, int] = {}
    for account_id, tier_id, spent in LoyaltyAccount.objects.values_list("pk", "tier_id", "spend_12m").iterator(
        chunk_size=10_000
    ):
        new_spend = spend.get(account_id, 0)
        if new_spend != spent or tier_for(spend=new_spend, tiers=tiers).pk != tier_id:
            changed[account_id] = new_spend
    counts = {"reviewed": 0, "promoted": 0, "demoted": 0}
    ids = sorted(changed)
    for chunk in _chunks(ids):
        moved = accounts_tier_set(spend={pk: changed[pk] for pk in chunk}, tiers=tiers, now=now)
        counts["reviewed"] += len(moved)
        for outcome in moved.values():
            if outcome:
                counts[outcome] += 1
    return counts

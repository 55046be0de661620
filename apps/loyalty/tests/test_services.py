"""The loyalty services: parsing and sharing out points, earning (tiers, bonus, boosts, currencies),
releasing, reducing and reversing an order's points, redeeming and giving back, staff adjustments,
and the append-only ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.catalog.tests.factories import ProductFactory
from apps.loyalty.errors import LoyaltyError, NotEnoughPoints
from apps.loyalty.models import Boost, BoostAward, Earning, LedgerEntry, Redemption, Tier
from apps.loyalty.selectors import earning_drift, ledger_drift
from apps.loyalty.services import (
    MAX_POINTS,
    EarningLine,
    RedemptionPart,
    earning_reduce,
    earning_release,
    earning_reverse,
    points_adjust,
    points_allocate,
    points_max,
    points_parse,
    points_redeem,
    redemption_retake,
    redemption_return,
)
from apps.shops.tests.factories import ShopFactory

from .factories import account_of, buyer, earn, earn_available, order_number

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
Bucket = LedgerEntry.Bucket
BONUS = 500  # LOYALTY_FIRST_PURCHASE_BONUS's default


@pytest.fixture(autouse=True)
def _bonus(settings):
    settings.LOYALTY_FIRST_PURCHASE_BONUS = BONUS
    settings.LOYALTY_POINTS_LIFETIME_DAYS = 365


def _ledger_is_clean():
    assert ledger_drift()[1] == []
    assert earning_drift()[1] == []


def _redeem(user, points: int, *, reference: str | None = None, cap: str = "1000.00", currency: str = "SGD"):
    reference = reference or order_number()
    (redemption,) = points_redeem(
        user=user,
        checkout=f"C-{reference}",
        currency=currency,
        parts=[RedemptionPart(reference=reference, points=points, cap=Decimal(cap))],
    )
    return redemption


def _boost(product, rate: str, *, shop=None, starts=-1, ends=None, active=True) -> Boost:
    now = timezone.now()
    return Boost.objects.create(
        shop=shop or product.shop,
        product=product,
        extra_rate=Decimal(rate),
        starts_at=now + timedelta(days=starts),
        ends_at=None if ends is None else now + timedelta(days=ends),
        active=active,
    )


# --- points_parse ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "points"), [(None, 0), ("", 0), ("   ", 0), ("12", 12), (" 7 ", 7), (40, 40),
                                               ("3.0", 3), ("+5", 5), (str(MAX_POINTS), MAX_POINTS)])  # fmt: skip
def test_points_parse_reads_whole_numbers_and_blank_as_zero(typed, points):
    """A typed whole number is read as such (a ``.0`` is still whole); nothing typed is zero points."""
    assert points_parse(typed) == points


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("-1", "points-negative"),
        (-20, "points-negative"),
        ("1.5", "points-invalid"),
        (Decimal("0.01"), "points-invalid"),
        ("abc", "points-invalid"),
        ("12 points", "points-invalid"),
        ("0x10", "points-invalid"),
        ("NaN", "points-invalid"),
        ("Infinity", "points-invalid"),
        (True, "points-invalid"),
        (str(MAX_POINTS + 1), "points-invalid"),
        ("9" * 400, "points-invalid"),
        ("1e400", "points-invalid"),
        ("9e999999999999999999", "points-invalid"),
    ],
)
def test_points_parse_refuses_what_is_not_a_sensible_whole_number(typed, code):
    """Negative, fractional, text, infinite and absurdly large numbers are refused with a message."""
    with pytest.raises(LoyaltyError) as exc:
        points_parse(typed)
    assert exc.value.code == code
    assert str(exc.value.message)


# --- points_allocate and points_max ---------------------------------------------------------------------


def test_points_allocate_shares_in_proportion_to_the_totals():
    """300 points over orders of 100 and 200 dollars: 100 and 200."""
    assert points_allocate(points=300, currency="SGD", totals=[Decimal("100.00"), Decimal("200.00")]) == [100, 200]


def test_points_allocate_gives_the_rounding_leftovers_to_orders_that_can_take_them():
    """100 points over three equal orders: the leftover point of the rounding goes to the first."""
    shares = points_allocate(points=100, currency="SGD", totals=[Decimal("10.00")] * 3)
    assert shares == [34, 33, 33]


def test_points_allocate_never_makes_an_order_pay_more_than_it_is_worth():
    """IDR (150 per point): orders worth 6 and 1 points; the leftover skips the full one."""
    shares = points_allocate(points=7, currency="IDR", totals=[Decimal("1040"), Decimal("160")])
    assert shares == [6, 1]
    assert points_allocate(points=7, currency="IDR", totals=[Decimal("1199"), Decimal("1")]) == [7, 0]


def test_points_allocate_refuses_points_worth_more_than_all_the_orders():
    """Points worth more than the orders' totals are refused, naming the most that can be used."""
    with pytest.raises(LoyaltyError) as exc:
        points_allocate(points=1001, currency="SGD", totals=[Decimal("4.00"), Decimal("6.00")])
    assert exc.value.code == "points-over-total"
    assert "1000" in str(exc.value.message)


def test_points_allocate_of_no_points_is_zero_everywhere():
    assert points_allocate(points=0, currency="SGD", totals=[Decimal("0"), Decimal("5.00")]) == [0, 0]


@pytest.mark.parametrize(
    ("balance", "currency", "total", "most"),
    [(500, "SGD", "3.00", 300), (200, "SGD", "3.00", 200), (-50, "SGD", "3.00", 0), (1000, "JPY", "150", 150),
     (1000, "IDR", "1000", 6), (10, "SGD", "0", 0)],
)  # fmt: skip
def test_points_max_is_the_balance_or_what_the_total_is_worth(balance, currency, total, most):
    """The most points an order takes: the balance (never below zero), at most the total's worth."""
    assert points_max(balance=balance, currency=currency, total=Decimal(total)) == most


# --- earning ------------------------------------------------------------------------------------------------


def test_an_order_earns_its_tiers_rate_rounded_down_plus_the_first_purchase_bonus():
    """Bronze (1%) of 123.45 dollars is 123.45 cents: 123 points, pending, plus the 500 bonus."""
    user = buyer()
    earning = earn(user, "123.45")
    assert (earning.base_points, earning.bonus_points, earning.boost_points) == (123, BONUS, 0)
    assert earning.tier.code == "bronze" and earning.rate == Decimal("0.0100")
    account = account_of(user)
    assert (account.balance, account.pending) == (0, 123 + BONUS)
    entries = list(LedgerEntry.objects.filter(reference=earning.reference).values_list("kind", "bucket", "points"))
    assert sorted(entries) == [(Kind.BONUS, Bucket.PENDING, BONUS), (Kind.EARN, Bucket.PENDING, 123)]
    _ledger_is_clean()


def test_a_higher_tier_earns_its_higher_rate():
    """A silver buyer (2%) earns 246 points on 123.45 dollars."""
    user = buyer()
    earn(user, "10.00")
    account = account_of(user)
    account.tier = Tier.objects.get(code="silver")
    account.save()
    earning = earn(user, "123.45")
    assert earning.base_points == 246 and earning.tier.code == "silver" and earning.bonus_points == 0


def test_points_are_rounded_down_never_up():
    """99 cents at 1% is 0.99 of a point: nothing (the bonus still comes with the first order)."""
    earning = earn(buyer(), "0.99")
    assert earning.base_points == 0 and earning.bonus_points == BONUS


def test_the_first_purchase_bonus_comes_once():
    """Only the first order earns the bonus."""
    user = buyer()
    first, second = earn(user), earn(user)
    assert (first.bonus_points, second.bonus_points) == (BONUS, 0)


def test_the_first_purchase_bonus_comes_again_when_the_first_order_was_reversed():
    """The first order was cancelled (its bonus taken back): the next order is the first purchase."""
    user = buyer()
    first = earn(user)
    earning_reverse(reference=first.reference, reason="cancelled")
    second = earn(user)
    assert second.bonus_points == BONUS
    assert account_of(user).pending == 100 + BONUS
    _ledger_is_clean()


def test_an_order_paid_entirely_with_points_earns_nothing_not_even_the_bonus():
    earning = earn(buyer(), "0.00")
    assert earning.points == 0
    assert not LedgerEntry.objects.filter(reference=earning.reference).exists()


def test_a_negative_paid_amount_is_refused():
    with pytest.raises(LoyaltyError):
        earn(buyer(), "-1.00")


def test_recording_an_order_twice_returns_the_first_earning():
    """Idempotent: the same order number earns once, whatever it is called with the second time."""
    user = buyer()
    first = earn(user, "100.00", reference="LB-ONCE")
    again = earn(user, "900.00", reference="LB-ONCE")
    assert again.pk == first.pk and again.paid == Decimal("100.00")
    assert Earning.objects.count() == 1
    assert account_of(user).pending == 100 + BONUS
    _ledger_is_clean()


@pytest.mark.parametrize(
    ("currency", "paid", "points"),
    [("SGD", "100.00", 100), ("JPY", "12345", 123), ("IDR", "1000000", 66), ("KRW", "140000", 100)],
)
def test_other_currencies_earn_through_their_point_value(currency, paid, points):
    """1% of 12,345 yen is 123.45 yen at one yen a point: 123; of 1,000,000 rupiah (150 a point): 66."""
    user = buyer()
    earning = earn(user, paid, currency=currency)
    assert earning.base_points == points and earning.currency == currency
    assert account_of(user).currency == currency


# --- boosts ---


def _boosted_order(user, product, amount="100.00", *, shop=None, lines=None):
    return earn(
        user,
        amount,
        shop=shop or product.shop,
        lines=lines if lines is not None else [EarningLine(product.pk, Decimal(amount))],
    )


def test_a_running_boost_adds_the_shops_extra_rate_on_its_product():
    """A 5% boost on a 100-dollar product: 500 boost points, one award funded by the shop."""
    user = buyer()
    product = ProductFactory()
    boost = _boost(product, "0.0500")
    earning = _boosted_order(user, product)
    assert (earning.base_points, earning.boost_points) == (100, 500)
    award = BoostAward.objects.get()
    assert (award.boost_id, award.earning_id, award.points) == (boost.pk, earning.pk, 500)
    entry = LedgerEntry.objects.get(reference=earning.reference, kind=Kind.EARN)
    assert entry.points == 600 and "500" in entry.reason


@pytest.mark.parametrize(
    "window",
    [{"active": False}, {"starts": 1}, {"starts": -10, "ends": -1}],
    ids=["switched-off", "not-started", "ended"],
)
def test_a_boost_that_is_not_running_adds_nothing(window):
    product = ProductFactory()
    _boost(product, "0.0500", **window)
    earning = _boosted_order(buyer(), product)
    assert earning.boost_points == 0 and not BoostAward.objects.exists()


def test_another_shops_boost_adds_nothing():
    """A boost belongs to its shop: an order of another shop with the same product id earns none."""
    product = ProductFactory()
    _boost(product, "0.0500")
    earning = _boosted_order(buyer(), product, shop=ShopFactory())
    assert earning.boost_points == 0


def test_the_best_running_boost_of_a_product_wins():
    product = ProductFactory()
    _boost(product, "0.0500")
    best = _boost(product, "0.1000")
    _boost(product, "0.0800")
    earning = _boosted_order(buyer(), product)
    assert earning.boost_points == 1000
    assert list(BoostAward.objects.values_list("boost_id", flat=True)) == [best.pk]


def test_two_lines_of_one_boosted_product_make_one_award_rounded_once():
    """Two lines of 0.50 at 5%: 2.5 points each, 5 together (not 2 + 2), in one award."""
    product = ProductFactory()
    _boost(product, "0.0500")
    lines = [EarningLine(product.pk, Decimal("0.50")), EarningLine(product.pk, Decimal("0.50"))]
    earning = _boosted_order(buyer(), product, amount="1.00", lines=lines)
    assert earning.boost_points == 5
    assert list(BoostAward.objects.values_list("points", flat=True)) == [5]


def test_only_the_boosted_lines_earn_the_boost():
    product, other = ProductFactory(), None
    other = ProductFactory(shop=product.shop)
    _boost(product, "0.1000")
    lines = [EarningLine(product.pk, Decimal("30.00")), EarningLine(other.pk, Decimal("70.00"))]
    earning = _boosted_order(buyer(), product, lines=lines)
    assert (earning.base_points, earning.boost_points) == (100, 300)


# --- release ----------------------------------------------------------------------------------------------------


def test_delivery_makes_pending_points_available_as_lots_that_expire_after_their_lifetime():
    user = buyer()
    earning = earn(user)
    at = timezone.now()
    earning_release(reference=earning.reference, now=at)
    earning.refresh_from_db()
    assert earning.status == Earning.Status.AVAILABLE and earning.available_at == at
    account = account_of(user)
    assert (account.balance, account.pending) == (100 + BONUS, 0)
    lots = LedgerEntry.objects.filter(reference=earning.reference, bucket=Bucket.AVAILABLE)
    assert sorted(lots.values_list("kind", "points")) == [(Kind.BONUS, BONUS), (Kind.EARN, 100)]
    assert {lot.expires_at for lot in lots} == {at + timedelta(days=365)}
    # Delivered twice (a repeated signal): nothing more.
    earning_release(reference=earning.reference, now=at + timedelta(days=1))
    assert account_of(user).balance == 100 + BONUS
    _ledger_is_clean()


def test_release_of_an_unknown_or_reversed_order_does_nothing():
    assert earning_release(reference="LB-NONE") is None
    earning = earn(buyer())
    earning_reverse(reference=earning.reference, reason="cancelled")
    assert earning_release(reference=earning.reference).status == Earning.Status.REVERSED
    assert not LedgerEntry.objects.filter(bucket=Bucket.AVAILABLE).exists()


# --- reduce and reverse -------------------------------------------------------------------------------------------


def test_partial_refunds_shrink_the_points_cumulatively_and_a_full_refund_reverses_them():
    """100 dollars earned 100 points (+500 bonus): 25 refunded takes 25, 50 in all takes 25 more, the
    same total again takes nothing, and all of it takes the rest with the bonus."""
    user = buyer()
    earning = earn(user)
    earning_reduce(reference=earning.reference, refunded=Decimal("25.00"))
    assert account_of(user).pending == 75 + BONUS
    earning_reduce(reference=earning.reference, refunded=Decimal("50.00"))
    assert account_of(user).pending == 50 + BONUS
    earning_reduce(reference=earning.reference, refunded=Decimal("50.00"))
    earning.refresh_from_db()
    assert (earning.points_reversed, earning.refunded, earning.points) == (50, Decimal("50.00"), 50 + BONUS)
    assert account_of(user).pending == 50 + BONUS
    earning_reduce(reference=earning.reference, refunded=Decimal("100.00"))
    earning.refresh_from_db()
    assert earning.status == Earning.Status.REVERSED and earning.points == 0
    assert account_of(user).pending == 0
    _ledger_is_clean()


def test_points_reduced_while_pending_are_not_released():
    """30 of 100 dollars refunded before delivery: 70 points (and the bonus) become available."""
    user = buyer()
    earning = earn(user)
    earning_reduce(reference=earning.reference, refunded=Decimal("30.00"))
    earning_release(reference=earning.reference)
    account = account_of(user)
    assert (account.balance, account.pending) == (70 + BONUS, 0)
    _ledger_is_clean()


def test_a_refund_rounds_the_points_kept_down():
    """33.33 of 100 dollars refunded: 66.67 points kept, so 66 (34 taken)."""
    user = buyer()
    earning = earn_available(user)
    earning_reduce(reference=earning.reference, refunded=Decimal("33.33"))
    earning.refresh_from_db()
    assert earning.points_reversed == 34
    assert account_of(user).balance == 66 + BONUS
    _ledger_is_clean()


def test_a_refund_shrinks_the_boost_awards_the_shop_funds():
    product = ProductFactory()
    _boost(product, "0.1000")
    earning = _boosted_order(buyer(), product)
    earning_reduce(reference=earning.reference, refunded=Decimal("30.00"))
    award = BoostAward.objects.get()
    assert (award.points, award.points_reversed) == (1000, 300)
    earning.refresh_from_db()
    assert earning.points_reversed == 100 + 1000 - 770  # 70% of 1100 kept
    earning_reverse(reference=earning.reference, reason="returned")
    award.refresh_from_db()
    assert award.points_reversed == 1000
    _ledger_is_clean()


def test_a_refund_on_an_order_paid_with_points_only_changes_nothing():
    """An order paid entirely with points earned nothing: a refund does not reverse it (which would
    make the buyer's next order a "first purchase" again)."""
    user = buyer()
    earn(user)
    earning = earn(user, "0.00")
    earning_reduce(reference=earning.reference, refunded=Decimal("0"))
    earning.refresh_from_db()
    assert earning.status == Earning.Status.PENDING
    assert earn(user).bonus_points == 0


def test_reversing_pending_points_takes_them_back_from_pending():
    user = buyer()
    earning = earn(user)
    earning_reverse(reference=earning.reference, reason="Order cancelled")
    account = account_of(user)
    assert (account.balance, account.pending) == (0, 0)
    entry = LedgerEntry.objects.get(kind=Kind.REVERSE)
    assert (entry.bucket, entry.points, entry.reason) == (Bucket.PENDING, -(100 + BONUS), "Order cancelled")
    earning_reverse(reference=earning.reference, reason="again")  # safe to call again
    assert LedgerEntry.objects.filter(kind=Kind.REVERSE).count() == 1
    _ledger_is_clean()


def test_reversing_available_points_may_take_the_balance_below_zero():
    """600 points available, 400 spent, then the order that earned them is returned: -400."""
    user = buyer()
    earning = earn_available(user)
    _redeem(user, 400)
    earning_reverse(reference=earning.reference, reason="Order returned")
    account = account_of(user)
    assert account.balance == 200 - 600
    assert LedgerEntry.objects.get(kind=Kind.REVERSE).bucket == Bucket.AVAILABLE
    _ledger_is_clean()


# --- redeeming and giving back --------------------------------------------------------------------------------


def test_redeeming_spends_from_the_balance_with_one_entry_per_order():
    user = buyer()
    earn_available(user)
    reds = points_redeem(
        user=user,
        checkout="C-1",
        currency="SGD",
        parts=[
            RedemptionPart(reference="LB-A", points=200, cap=Decimal("10.00")),
            RedemptionPart(reference="LB-B", points=100, cap=Decimal("10.00")),
            RedemptionPart(reference="LB-C", points=0, cap=Decimal("10.00")),
        ],
    )
    assert [(r.reference, r.points, r.value) for r in reds] == [
        ("LB-A", 200, Decimal("2.00")),
        ("LB-B", 100, Decimal("1.00")),
    ]
    assert account_of(user).balance == 600 - 300
    assert sorted(LedgerEntry.objects.filter(kind=Kind.REDEEM).values_list("reference", "points")) == [
        ("LB-A", -200),
        ("LB-B", -100),
    ]
    _ledger_is_clean()


@pytest.mark.parametrize(
    ("points", "cap", "error"),
    [(601, "100.00", NotEnoughPoints), (300, "2.99", LoyaltyError), (-5, "100.00", LoyaltyError)],
    ids=["more-than-the-balance", "worth-more-than-the-order", "negative"],
)
def test_a_refused_redemption_writes_nothing(points, cap, error):
    user = buyer()
    earn_available(user)
    with pytest.raises(error):
        _redeem(user, points, cap=cap)
    assert not Redemption.objects.exists()
    assert account_of(user).balance == 600
    assert not LedgerEntry.objects.filter(kind=Kind.REDEEM).exists()


def test_redeemed_points_come_back_in_parts_never_more_than_were_spent():
    user = buyer()
    earn_available(user)
    redemption = _redeem(user, 300)
    assert redemption_return(reference=redemption.reference, points=100, reason="Part refunded") == 100
    assert account_of(user).balance == 300 + 100
    assert redemption_return(reference=redemption.reference, points=-7, reason="nonsense") == 0
    assert redemption_return(reference=redemption.reference, reason="Cancelled") == 200
    assert redemption_return(reference=redemption.reference, reason="Cancelled again") == 0
    assert redemption_return(reference="LB-UNKNOWN", reason="none") == 0
    redemption.refresh_from_db()
    assert redemption.points_returned == 300
    assert account_of(user).balance == 600
    _ledger_is_clean()


def test_a_late_payment_spends_the_given_back_points_again_even_below_zero():
    """The checkout expired (points given back) and the buyer spent them elsewhere; then the
    payment arrives: the order's points are spent again and the balance goes below zero."""
    user = buyer()
    earn_available(user)
    redemption = _redeem(user, 300)
    redemption_return(reference=redemption.reference, reason="Not paid in time")
    _redeem(user, 600)
    assert redemption_retake(reference=redemption.reference, reason="Paid after all") == 300
    assert account_of(user).balance == -300
    redemption.refresh_from_db()
    assert redemption.points_returned == 0
    assert redemption_retake(reference=redemption.reference, reason="again") == 0
    _ledger_is_clean()


# --- staff adjustments ------------------------------------------------------------------------------------------


def test_a_positive_adjustment_is_a_lot_that_expires_like_earned_points():
    user, staff = buyer(), buyer(is_staff=True)
    before = timezone.now()
    entry = points_adjust(user=user, points=250, reason="  Sorry for the late delivery  ", actor=staff)
    assert (entry.kind, entry.bucket, entry.points, entry.reason) == (
        Kind.ADJUST,
        Bucket.AVAILABLE,
        250,
        "Sorry for the late delivery",
    )
    assert entry.actor == staff and entry.actor_label == staff.email
    assert before + timedelta(days=365) <= entry.expires_at <= timezone.now() + timedelta(days=365)
    assert account_of(user).balance == 250


def test_a_negative_adjustment_takes_points_without_an_expiry():
    user, staff = buyer(), buyer(is_staff=True)
    earn_available(user)
    entry = points_adjust(user=user, points=-100, reason="Duplicate order", actor=staff)
    assert entry.points == -100 and entry.expires_at is None
    assert account_of(user).balance == 500
    _ledger_is_clean()


@pytest.mark.parametrize(
    ("points", "reason", "code"),
    [(100, "", "reason-required"), (100, "   ", "reason-required"), (0, "why", "points-invalid"),
     (True, "why", "points-invalid"), ("100", "why", "points-invalid"), (MAX_POINTS + 1, "why", "points-invalid")],
)  # fmt: skip
def test_an_adjustment_needs_a_reason_and_a_whole_number_other_than_zero(points, reason, code):
    user = buyer()
    with pytest.raises(LoyaltyError) as exc:
        points_adjust(user=user, points=points, reason=reason, actor=None)
    assert exc.value.code == code
    assert not LedgerEntry.objects.exists()


def test_an_adjustment_cannot_take_more_than_the_balance():
    user = buyer()
    earn_available(user)
    with pytest.raises(NotEnoughPoints):
        points_adjust(user=user, points=-601, reason="Too much", actor=None)
    assert account_of(user).balance == 600


# --- the append-only ledger --------------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")
@pytest.mark.parametrize("change", ["update", "delete"])
def test_the_ledger_refuses_to_change_or_delete_an_entry(change):
    """On PostgreSQL a trigger refuses UPDATE and DELETE of ledger entries: a correction is a new one."""
    user = buyer()
    earn(user)
    entries = LedgerEntry.objects.filter(kind=Kind.EARN)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        if change == "update":
            entries.update(points=1_000_000)
        else:
            entries.delete()
    assert list(entries.values_list("points", flat=True)) == [100]


def test_the_shop_pays_for_its_boost_points_once_they_are_the_buyers_and_gets_back_what_refunds_take():
    """A 10% boost on a 100-dollar product: nothing in the shop's payout ledger while the points are
    pending; −10.00 when the order arrives (1,000 points at one cent); +3.00 back when a refund of 30%
    takes 300 of them; the rest back when the order is reversed. Repeating a step writes nothing."""
    from apps.payments.selectors import payout_boost_total, payout_lines_for_shop

    product = ProductFactory()
    _boost(product, "0.1000")
    earning = _boosted_order(buyer(), product)
    shop, number = product.shop, earning.reference
    assert payout_boost_total(shop=shop, reference=number) == Decimal("0.00")

    earning_release(reference=number)
    assert payout_boost_total(shop=shop, reference=number) == Decimal("-10.00")
    earning_release(reference=number)
    earning_reduce(reference=number, refunded=Decimal("30.00"))
    assert payout_boost_total(shop=shop, reference=number) == Decimal("-7.00")
    earning_reduce(reference=number, refunded=Decimal("30.00"))
    assert payout_lines_for_shop(shop=shop, reference=number).count() == 2
    earning_reverse(reference=number, reason="returned")
    assert payout_boost_total(shop=shop, reference=number) == Decimal("0.00")
    _ledger_is_clean()


def test_boost_points_taken_back_before_the_order_arrives_are_never_charged():
    from apps.payments.selectors import payout_boost_total

    product = ProductFactory()
    _boost(product, "0.1000")
    earning = _boosted_order(buyer(), product)
    earning_reduce(reference=earning.reference, refunded=Decimal("50.00"))
    earning_release(reference=earning.reference)
    assert payout_boost_total(shop=product.shop, reference=earning.reference) == Decimal("-5.00")

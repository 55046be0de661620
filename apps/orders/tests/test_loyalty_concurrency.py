"""Points under real concurrency on PostgreSQL (each racer a thread with its own connection): twenty
redemptions at once spend no more than the balance, one buyer's checkouts placed at once never
redeem more than they have, and redemptions racing a refund and a delivery keep the ledger exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.core.tests.concurrency import race, race_errors
from apps.loyalty.errors import LoyaltyError, NotEnoughPoints
from apps.loyalty.models import Earning, LedgerEntry, LoyaltyAccount, Redemption, Tier
from apps.loyalty.selectors import ledger_drift
from apps.loyalty.services import RedemptionPart, account_get_or_create, points_adjust, points_redeem
from apps.orders.actors import Actor
from apps.orders.errors import CheckoutError
from apps.orders.models import Order
from apps.orders.services import (
    cart_add,
    cart_get_or_create,
    checkout_place,
    order_payment_collect,
    order_refund,
    order_transition,
)
from apps.orders.tests.factories import buyer_with_address, stocked_variant

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL; CI runs these"),
]


@pytest.fixture(autouse=True)
def _no_bonus(settings):
    settings.LOYALTY_FIRST_PURCHASE_BONUS = 0  # each figure is the tier's 1 % of the money paid


def _account(user) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(user=user)


def _ledger_available(account: LoyaltyAccount) -> int:
    return LedgerEntry.objects.filter(account=account, bucket="available").aggregate(s=Sum("points"))["s"] or 0


def test_twenty_redemptions_at_once_spend_exactly_what_the_balance_covers():
    """1000 points, twenty redemptions of 150 at once: exactly six succeed, fourteen are refused with
    NotEnoughPoints, 100 points are left and the ledger agrees (the account's row lock serves them
    one after the other; without it they all read 1000 and overspend)."""
    buyer = UserFactory()
    points_adjust(user=buyer, points=1000, reason="Welcome gift", actor=None)

    def redeem(i: int):
        return points_redeem(
            user=buyer,
            checkout=f"CRACE{i:02d}",
            currency="SGD",
            parts=[RedemptionPart(f"LBRACE{i:02d}", 150, Decimal("100.00"))],
        )

    results = race(20, redeem, expected=(NotEnoughPoints,))

    assert race_errors(results) == []
    winners = [r for status, r in results if status == "ok"]
    losers = [exc for status, exc in results if status == "out"]
    assert (len(winners), len(losers)) == (6, 14)
    assert all("cannot use 150" in exc.message for exc in losers), [exc.message for exc in losers]
    account = _account(buyer)
    assert account.balance == 1000 - 6 * 150 == _ledger_available(account) >= 0
    assert Redemption.objects.count() == 6
    assert LedgerEntry.objects.filter(kind="redeem").aggregate(s=Sum("points"))["s"] == -900
    assert ledger_drift()[1] == []


def test_one_buyers_checkouts_placed_at_once_never_redeem_more_than_the_balance():
    """Ten checkouts of one buyer at once (ten browser tabs, each with its own cart), pay on pickup,
    each paying 5.00 with points: eight ask for 300 (three fit in 1000), two for 600 (more than
    their order is worth). Three are placed, the rest are refused with the reason; no order is worth
    less than its points and the balance is what the ledger says."""
    buyer, address = buyer_with_address()
    points_adjust(user=buyer, points=1000, reason="Welcome gift", actor=None)
    variant = stocked_variant(price="5.00", units=50)
    carts = []
    for i in range(10):
        cart = cart_get_or_create(session_key=f"tab-{i}")
        cart_add(cart=cart, variant=variant)
        carts.append(cart)
    wanted = [600 if i in (3, 7) else 300 for i in range(10)]

    def place(i: int):
        return checkout_place(
            buyer=buyer,
            cart=carts[i],
            address=address.snapshot(),
            payment_method="pay_on_pickup",
            idempotency_key=f"tab-{i}",
            expected_total=Decimal("5.00"),
            points=wanted[i],
        )

    results = race(10, place, expected=(CheckoutError,))

    assert race_errors(results) == []
    placed = [r for status, r in results if status == "ok"]
    refused = sorted(exc.code for status, exc in results if status == "out")
    assert len(placed) == 3
    assert refused == ["not-enough-points"] * 5 + ["points-over-total"] * 2
    account = _account(buyer)
    assert account.balance == 1000 - 3 * 300 == _ledger_available(account)
    orders = list(Order.objects.all())
    assert len(orders) == 3
    assert all(o.points_used == 300 and o.points_value <= o.total for o in orders)
    assert sum(o.points_used for o in orders) == Redemption.objects.aggregate(s=Sum("points"))["s"] == 900
    assert account.pending == 3 * 2  # each earns 1 % of the 2.00 it costs in money
    assert ledger_drift()[1] == []


def test_redemptions_racing_a_refund_and_a_delivery_keep_the_ledger_exact():
    """Twelve redemptions of 100 race a refund that gives 400 points back and a collection that makes
    20 pending points available: whatever the order, every redemption saw the balance it left,
    the balance is the ledger's sum and never below zero, and it is exactly what came in less what
    was spent."""
    buyer, address = buyer_with_address()
    staff = Actor.staff(UserFactory(is_staff=True))
    points_adjust(user=buyer, points=1000, reason="Welcome gift", actor=None)

    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(price="10.00"))
    refunded = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key="to-refund",
        expected_total=Decimal("10.00"),
        points=400,
    ).checkout.orders.get()
    order_payment_collect(order=refunded, actor=staff.user)
    cart_add(cart=cart, variant=stocked_variant(price="20.00"))
    collected = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key="to-collect",
        expected_total=Decimal("20.00"),
    ).checkout.orders.get()
    for to in ("accepted", "packed", "ready_for_pickup"):
        order_transition(order=collected, to=to, actor=staff)
    start = _account(buyer)
    assert (start.balance, start.pending) == (600, 6 + 20)

    def work(i: int):
        if i == 0:
            return order_refund(order=refunded, amount=Money("10.00", "SGD"), reason="spoilt", actor=staff.user)
        if i == 1:
            return order_transition(order=collected, to="delivered", actor=staff)
        return points_redeem(
            user=buyer,
            checkout=f"CRACE{i:02d}",
            currency="SGD",
            parts=[RedemptionPart(f"LBRACE{i:02d}", 100, Decimal("50.00"))],
        )

    results = race(14, work, expected=(LoyaltyError,))

    assert race_errors(results) == []
    assert results[0][0] == results[1][0] == "ok"
    spent = sum(1 for status, _r in results[2:] if status == "ok")
    # 600 + 400 + 20 = 1020 at most: never all twelve; a refusal saw less than 100, so six or more won.
    assert 6 <= spent <= 10
    refunded.refresh_from_db()
    assert (refunded.status, refunded.points_returned) == ("refunded", 400)
    assert Earning.objects.get(reference=collected.number).status == "available"
    account = _account(buyer)
    assert account.balance == 600 + 400 + 20 - 100 * spent == _ledger_available(account) >= 0
    assert account.pending == 0  # the refunded order's 6 reversed, the collected order's 20 released
    assert ledger_drift()[1] == []


def test_first_accounts_made_at_once_without_any_tier_share_one_base_tier():
    """Every tier deleted (the admin allows it; a flushed test database has none): twenty buyers'
    first accounts made at once all succeed, in one bronze tier made once."""
    Tier.objects.all().delete()
    buyers = [UserFactory() for _ in range(20)]

    results = race(20, lambda i: account_get_or_create(user=buyers[i]))

    assert race_errors(results) == []
    assert list(Tier.objects.values_list("code", "min_spend")) == [("bronze", 0)]
    assert LoyaltyAccount.objects.filter(tier__code="bronze").count() == 20

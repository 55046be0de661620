"""Loyalty points through real orders: card checkouts charged at localstripe for the total less the
points, 1-Click spending points automatically, refunds splitting into points and money, shops
cancelling, checkouts expiring and paid late, and the issue's journey from earning to a higher tier.

The first-purchase bonus is off (``_no_bonus``) except where a test is about it, so each figure is
the tier's 1 % of the money paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.delivery.tests.factories import delivering_shop
from apps.inventory.models import Reservation, StockItem
from apps.inventory.tests.checks import assert_ledger_balanced
from apps.loyalty.models import Earning, LedgerEntry, LoyaltyAccount, Redemption, Tier, TierChange
from apps.loyalty.selectors import ledger_drift
from apps.loyalty.services import points_adjust, tiers_review
from apps.orders.actors import Actor
from apps.orders.errors import CheckoutError
from apps.orders.models import Checkout, OneClickSettings, Order
from apps.orders.services import (
    cart_add,
    cart_get_or_create,
    checkout_cancel,
    checkout_place,
    checkouts_expire,
    one_click_buy,
    one_click_key,
    one_click_settings_update,
    order_payment_collect,
    order_refund,
    order_refund_in_full,
    order_transition,
)
from apps.orders.services_delivery import order_delivery_report
from apps.orders.services_fulfilment import order_cancel_by_shop, order_lines_refund
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.orders.tests.test_card_and_one_click import pay_in_browser
from apps.orders.tests.test_delivery_checkout import code, tomorrow_slot
from apps.payments.models import Payment, PayoutEntry
from apps.payments.selectors import payment_get_by_reference, payout_balance
from apps.payments.services import payment_refresh
from apps.payments.tests.test_stripe_integration import save_card
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_bonus(settings):
    settings.LOYALTY_FIRST_PURCHASE_BONUS = 0


# --- helpers ---------------------------------------------------------------------------------------------


def give(buyer, points: int) -> None:
    points_adjust(user=buyer, points=points, reason="Welcome gift", actor=None)


def points_of(buyer) -> tuple[int, int]:
    """(available, pending) of the buyer's account."""
    account = LoyaltyAccount.objects.get(user=buyer)
    return account.balance, account.pending


def place(buyer, address, *items, key: str, method: str = "card", points=0, fulfilments=None):
    """Put ``items`` ((variant, quantity) pairs) in the buyer's cart and place it."""
    cart = cart_get_or_create(user=buyer)
    for variant, quantity in items:
        cart_add(cart=cart, variant=variant, quantity=quantity)
    total = sum((line.unit_price * line.quantity for line in cart.lines.all()), Decimal("0"))
    if fulfilments:
        total = None  # the delivery fee is added at placing
    return checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method=method,
        idempotency_key=key,
        expected_total=total,
        points=points,
        fulfilments=fulfilments,
    )


def pay(fake, checkout: Checkout) -> None:
    """The buyer pays the PaymentIntent on the page, and comes back (the return page reads it)."""
    payment = payment_get_by_reference(reference=checkout.number)
    pay_in_browser(fake, payment.stripe_payment_intent_id)
    payment_refresh(payment=payment)


def intent_of(fake, checkout: Checkout):
    payment = payment_get_by_reference(reference=checkout.number)
    return fake.client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)


def stripe_refunds(fake, checkout: Checkout) -> list[int]:
    """The amounts (in cents) refunded at Stripe on the checkout's PaymentIntent."""
    payment = payment_get_by_reference(reference=checkout.number)
    refunds = fake.client.v1.refunds.list(params={"payment_intent": payment.stripe_payment_intent_id})
    return sorted(refund.amount for refund in refunds.data)


def staff() -> Actor:
    return Actor.staff(UserFactory(is_staff=True))


def assert_no_drift() -> None:
    assert ledger_drift()[1] == []


def one_click_buyer(fake, *, points: int, use_points: bool):
    buyer, address = buyer_with_address()
    card = save_card(fake, buyer)
    one_click_settings_update(user=buyer, enabled=True, address=address, card=card, use_points=use_points)
    if points:
        give(buyer, points)
    return buyer


def click(buyer, variant, quantity: int = 1):
    config = OneClickSettings.objects.get(user=buyer)
    return one_click_buy(
        buyer=buyer, variant=variant, quantity=quantity, idempotency_key=one_click_key(config=config, variant=variant)
    )


# --- card checkouts with points ----------------------------------------------------------------------------


def test_a_card_checkout_with_points_charges_the_rest_and_earns_on_the_money_once_paid(fake_stripe):
    """25.00 with 500 points (5.00): the PaymentIntent is for 20.00 and the points are spent at once;
    paid, the order is PAID and earns 1 % of the 20.00 paid in money, pending; the shop is owed the
    whole 25.00 (the platform funds the points)."""
    buyer, address = buyer_with_address()
    give(buyer, 800)
    variant = stocked_variant(price="12.50")

    result = place(buyer, address, (variant, 2), key="card-points", points="500")

    checkout = result.checkout
    order = checkout.orders.get()
    assert (checkout.points_used, checkout.points_value, checkout.amount_due) == (500, Decimal("5.00"), Decimal("20"))
    assert (order.status, order.points_used, order.points_value) == ("pending_payment", 500, Decimal("5.00"))
    intent = intent_of(fake_stripe, checkout)
    assert (intent.amount, intent.currency) == (2000, "sgd")
    assert result.client_secret
    assert points_of(buyer) == (300, 0)  # spent when placed, nothing earned before the money comes
    assert not Earning.objects.exists()
    redemption = Redemption.objects.get()
    assert (redemption.reference, redemption.checkout, redemption.points, redemption.value) == (
        order.number,
        checkout.number,
        500,
        Decimal("5.00"),
    )

    pay(fake_stripe, checkout)

    order.refresh_from_db()
    assert order.status == "paid"
    earning = Earning.objects.get(reference=order.number)
    assert (earning.paid, earning.points, earning.status) == (Decimal("20.00"), 20, "pending")
    assert points_of(buyer) == (300, 20)
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("23.00")}  # 25.00 less 8 %
    assert PayoutEntry.objects.get(kind="sale").amount == Decimal("25.00")
    assert_no_drift()
    assert_ledger_balanced()


def test_a_card_checkout_paid_in_full_with_points_needs_no_card(fake_stripe):
    """Points worth the whole total: no payment and no PaymentIntent; the order is PAID at once, its
    stock sold, the shop owed the total; it earns nothing (no money paid)."""
    buyer, address = buyer_with_address()
    give(buyer, 2000)
    variant = stocked_variant(price="8.00", units=5)

    result = place(buyer, address, (variant, 2), key="all-points", points=1600)

    checkout = result.checkout
    order = checkout.orders.get()
    assert result.client_secret is None
    assert (checkout.status, checkout.amount_due, order.status) == ("placed", Decimal("0"), "paid")
    assert payment_get_by_reference(reference=checkout.number) is None
    assert fake_stripe.payment_intents() == []
    stock = StockItem.objects.get(variant=variant)
    assert (stock.on_hand, stock.reserved) == (3, 0)
    assert points_of(buyer) == (400, 0)
    assert Earning.objects.get(reference=order.number).points == 0
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("14.72")}  # 16.00 less 8 %
    assert_no_drift()
    assert_ledger_balanced()


def test_points_on_a_multi_shop_checkout_are_shared_over_its_orders(fake_stripe):
    """1001 points over orders of 10.00 and 9.00: 527 and 474 (in proportion, the rounding's
    leftover point to the first), each worth no more than its order, together exactly 1001; the
    card pays 8.99; each order earns on its own money."""
    buyer, address = buyer_with_address()
    give(buyer, 5000)
    first, second = stocked_variant(price="10.00"), stocked_variant(price="4.50")
    assert first.shop_id < second.shop_id

    result = place(buyer, address, (first, 1), (second, 2), key="two-shops", points=1001)

    orders = list(result.checkout.orders.order_by("shop_id"))
    assert [o.points_used for o in orders] == [527, 474]
    assert [o.points_value for o in orders] == [Decimal("5.27"), Decimal("4.74")]
    assert all(o.points_value <= o.total for o in orders)
    assert sum(o.points_used for o in orders) == result.checkout.points_used == 1001
    assert intent_of(fake_stripe, result.checkout).amount == 899
    assert dict(Redemption.objects.values_list("reference", "points")) == {orders[0].number: 527, orders[1].number: 474}

    pay(fake_stripe, result.checkout)

    assert set(Order.objects.values_list("status", flat=True)) == {"paid"}
    assert dict(Earning.objects.values_list("reference", "paid")) == {
        orders[0].number: Decimal("4.73"),
        orders[1].number: Decimal("4.26"),
    }
    assert points_of(buyer) == (5000 - 1001, 4 + 4)
    assert_no_drift()


def test_all_the_points_a_multi_shop_checkout_takes_and_not_one_more(fake_stripe):
    """Points worth both orders pay each in full (no card); one point more is refused with the most
    that can be used, and nothing is made or spent."""
    buyer, address = buyer_with_address()
    give(buyer, 5000)
    first, second = stocked_variant(price="10.00"), stocked_variant(price="4.50")
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=first)
    cart_add(cart=cart, variant=second, quantity=2)
    kwargs = {"buyer": buyer, "cart": cart, "address": address.snapshot(), "payment_method": "card"}

    with pytest.raises(CheckoutError, match="at most 1900") as refused:
        checkout_place(**kwargs, idempotency_key="too-many", expected_total=Decimal("19.00"), points=1901)
    assert refused.value.code == "points-over-total"
    assert not Checkout.objects.exists() and points_of(buyer) == (5000, 0)

    result = checkout_place(**kwargs, idempotency_key="exactly", expected_total=Decimal("19.00"), points=1900)

    orders = list(result.checkout.orders.order_by("shop_id"))
    assert [(o.points_used, o.points_value, o.total, o.status) for o in orders] == [
        (1000, Decimal("10.00"), Decimal("10.00"), "paid"),
        (900, Decimal("9.00"), Decimal("9.00"), "paid"),
    ]
    assert fake_stripe.payment_intents() == []
    assert points_of(buyer) == (3100, 0)
    assert_no_drift()


@pytest.mark.parametrize(
    ("balance", "use_points", "spent", "charged"),
    [
        (300, True, 300, 950),  # the whole balance, the card the rest
        (5000, True, 1250, None),  # as many as the order takes: no card charge at all
        (300, False, 0, 1250),  # switched off: the points stay
    ],
)
def test_one_click_spends_as_many_points_as_the_order_takes_when_asked(
    fake_stripe, balance, use_points, spent, charged
):
    """1-Click with "use my points automatically" spends the balance up to the order's total and
    charges the saved card the rest (nothing at all when the points cover it); switched off, no
    point is spent."""
    buyer = one_click_buyer(fake_stripe, points=balance, use_points=use_points)
    variant = stocked_variant(price="12.50")

    result = click(buyer, variant)

    order = result.checkout.orders.get()
    assert (order.status, order.points_used, order.amount_due) == (
        "paid",
        spent,
        Decimal("12.50") - Decimal(spent) / 100,
    )
    intents = fake_stripe.payment_intents()
    if charged is None:
        assert intents == [] and payment_get_by_reference(reference=result.checkout.number) is None
    else:
        assert [(i.amount, i.status) for i in intents] == [(charged, "succeeded")]
    assert points_of(buyer) == (balance - spent, (charged or 0) // 100)
    assert_no_drift()


def test_cancelling_a_one_click_order_gives_the_points_back_and_reverses_the_earning(
    fake_stripe, django_capture_on_commit_callbacks
):
    """Cancelled within the window: the card's 9.50 is refunded at Stripe, the 300 points come back,
    the pending earning is reversed, the shop's ledger nets to zero."""
    buyer = one_click_buyer(fake_stripe, points=300, use_points=True)
    variant = stocked_variant(price="12.50")
    result = click(buyer, variant)
    assert points_of(buyer) == (0, 9)

    with django_capture_on_commit_callbacks(execute=True):
        checkout_cancel(buyer=buyer, checkout=result.checkout)

    order = result.checkout.orders.get()
    assert (order.status, order.amount_refunded, order.points_returned) == ("cancelled", Decimal("12.50"), 300)
    assert stripe_refunds(fake_stripe, result.checkout) == [950]
    payment = payment_get_by_reference(reference=result.checkout.number)
    assert (payment.status, payment.amount_refunded) == (Payment.Status.REFUNDED, Decimal("9.50"))
    assert points_of(buyer) == (300, 0)
    assert Earning.objects.get().status == "reversed"
    assert Redemption.objects.get().points_returned == 300
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()
    assert_ledger_balanced()


def test_cancelling_a_one_click_order_paid_with_points_only_gives_them_all_back(fake_stripe):
    """No card was charged: cancelling refunds nothing at Stripe and gives back all 1250 points."""
    buyer = one_click_buyer(fake_stripe, points=2000, use_points=True)
    variant = stocked_variant(price="12.50")
    result = click(buyer, variant)

    checkout_cancel(buyer=buyer, checkout=result.checkout)

    order = result.checkout.orders.get()
    assert (order.status, order.points_returned) == ("cancelled", 1250)
    assert fake_stripe.payment_intents() == []
    assert points_of(buyer) == (2000, 0)
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()


# --- refunds -------------------------------------------------------------------------------------------------


def _paid_with_points(fake, *, price: str, quantity: int = 1, points: int, variants=None, key: str = "k"):
    """A card order paid partly with ``points``, paid at Stripe."""
    buyer, address = buyer_with_address()
    give(buyer, points)
    items = variants or [(stocked_variant(price=price), quantity)]
    result = place(buyer, address, *items, key=key, points=points)
    pay(fake, result.checkout)
    return buyer, result.checkout, result.checkout.orders.get()


def test_refunds_give_points_back_in_proportion_and_the_money_at_stripe(fake_stripe):
    """20.00 paid with 500 points and 15.00 by card. Refunding 8.00 gives back 200 points and 6.00 at
    Stripe, and the earning shrinks with the money (15 → 9 points); refunding the other 12.00 gives
    back exactly the rest: all 500 points, 15.00 in money in all, the earning reversed."""
    buyer, checkout, order = _paid_with_points(fake_stripe, price="10.00", quantity=2, points=500)
    assert points_of(buyer) == (0, 15)

    order_refund(order=order, amount=Money("8.00", "SGD"), reason="one was stale", actor=staff().user)

    order.refresh_from_db()
    assert (order.amount_refunded, order.points_returned, order.status) == (Decimal("8.00"), 200, "paid")
    assert stripe_refunds(fake_stripe, checkout) == [600]
    assert points_of(buyer) == (200, 9)
    earning = Earning.objects.get()
    assert (earning.refunded, earning.points_reversed) == (Decimal("6.00"), 6)
    event = order.events.get(kind="refund")
    assert (event.data["money"], event.data["points_returned"]) == ("6.00", 200)

    order_refund(order=order, amount=Money("12.00", "SGD"), reason="the rest", actor=staff().user)

    order.refresh_from_db()
    assert (order.amount_refunded, order.points_returned, order.status) == (Decimal("20.00"), 500, "refunded")
    assert order.points_returned == order.points_used
    assert stripe_refunds(fake_stripe, checkout) == [600, 900]
    assert sum(stripe_refunds(fake_stripe, checkout)) == int(order.amount_due * 100)
    assert payment_get_by_reference(reference=checkout.number).amount_refunded == Decimal("15.00")
    assert points_of(buyer) == (500, 0)
    assert Earning.objects.get().status == "reversed"
    # The shop gives back each refund's full amount, points' part included.
    assert sorted(PayoutEntry.objects.filter(kind="refund").values_list("amount", flat=True)) == [
        Decimal("-12.00"),
        Decimal("-8.00"),
    ]
    assert payout_balance(shop=order.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()


def test_a_seller_refunding_lines_splits_each_refund_the_same_way(fake_stripe):
    """Lines of 6.00 and 4.00 paid with 400 points: the 6.00 line gives back 240 points and 3.60 by
    card, the last line the rest (160 points, 2.40)."""
    shop = ShopFactory()
    big, small = stocked_variant(shop=shop, price="6.00"), stocked_variant(shop=shop, price="4.00")
    buyer, checkout, order = _paid_with_points(fake_stripe, price="", points=400, variants=[(big, 1), (small, 1)])
    lines = {line.unit_price: line for line in order.lines.all()}
    actor = staff()

    order_lines_refund(order=order, quantities={lines[Decimal("6.00")].pk: 1}, actor=actor, reason="stale")

    order.refresh_from_db()
    assert (order.amount_refunded, order.points_returned) == (Decimal("6.00"), 240)
    assert stripe_refunds(fake_stripe, checkout) == [360]

    order_lines_refund(order=order, quantities={lines[Decimal("4.00")].pk: 1}, actor=actor, reason="broken")

    order.refresh_from_db()
    assert (order.amount_refunded, order.points_returned, order.status) == (Decimal("10.00"), 400, "refunded")
    assert stripe_refunds(fake_stripe, checkout) == [240, 360]
    assert points_of(buyer) == (400, 0)
    assert_no_drift()


def test_a_shop_cancelling_a_paid_order_gives_all_the_points_and_money_back(fake_stripe):
    """30.00 paid with 1000 points and 20.00 by card, cancelled by the shop: 20.00 refunded at
    Stripe, the 1000 points back, the earning reversed, the shop's ledger at zero."""
    buyer, checkout, order = _paid_with_points(fake_stripe, price="30.00", points=1000)
    assert points_of(buyer) == (0, 20)

    order_cancel_by_shop(order=order, actor=staff(), reason="we closed for the holidays")

    order.refresh_from_db()
    assert (order.status, order.amount_refunded, order.points_returned) == ("cancelled", Decimal("30.00"), 1000)
    assert stripe_refunds(fake_stripe, checkout) == [2000]
    assert points_of(buyer) == (1000, 0)
    assert Earning.objects.get().status == "reversed"
    assert payout_balance(shop=order.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()
    assert_ledger_balanced()


def test_a_shop_cancelling_an_uncollected_pay_on_pickup_order_gives_the_points_back_and_refunds_nothing():
    """Nothing was taken at the counter: the points come back, the counter payment is cancelled (no
    refund), the earning recorded at confirmation is reversed, the shop's ledger never had a sale."""
    buyer, address = buyer_with_address()
    give(buyer, 700)
    result = place(
        buyer, address, (stocked_variant(price="20.00"), 1), key="pickup", method="pay_on_pickup", points=700
    )
    order = result.checkout.orders.get()
    assert (order.status, order.amount_due) == ("confirmed", Decimal("13.00"))
    assert points_of(buyer) == (0, 13)

    order_cancel_by_shop(order=order, actor=staff(), reason="sold out at the market")

    order.refresh_from_db()
    assert (order.status, order.amount_refunded, order.points_returned) == ("cancelled", Decimal("0"), 700)
    payment = payment_get_by_reference(reference=order.number)
    assert (payment.status, payment.amount_refunded) == (Payment.Status.CANCELED, Decimal("0"))
    assert not order.refunds_recorded.exists()
    assert points_of(buyer) == (700, 0)
    assert Earning.objects.get().status == "reversed"
    assert not PayoutEntry.objects.filter(shop=order.shop).exists()
    assert_no_drift()


def test_a_pay_on_pickup_order_paid_in_full_with_points_is_sold_at_once_and_cancels_cleanly():
    """Nothing to take at the counter: no payment, the shop is owed the total at once; collecting is
    refused with a clear message; the shop cancelling gives every point back and nets the ledger."""
    buyer, address = buyer_with_address()
    give(buyer, 1000)
    result = place(buyer, address, (stocked_variant(price="10.00"), 1), key="p", method="pay_on_pickup", points=1000)
    order = result.checkout.orders.get()
    assert payment_get_by_reference(reference=order.number) is None
    assert payout_balance(shop=order.shop) == {"SGD": Decimal("9.20")}

    with pytest.raises(CheckoutError, match="paid in full with points"):
        order_payment_collect(order=order, actor=staff().user)

    order_cancel_by_shop(order=order, actor=staff(), reason="closed today")

    order.refresh_from_db()
    assert (order.status, order.points_returned, order.amount_refunded) == ("cancelled", 1000, Decimal("10.00"))
    assert points_of(buyer) == (1000, 0)
    assert payout_balance(shop=order.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()


def test_a_refund_made_at_stripe_goes_to_the_orders_that_were_paid_in_money(fake_stripe):
    """9.00 refunded from Stripe's dashboard on a checkout of 10.00 and 9.00 paid with 1000 points: each
    order takes back no more than it was paid in money (4.73 and 4.27), so both earnings are
    reversed and both shops give back their part; the points stay spent until the shop refunds the
    rest of an order, which then comes back as points only."""
    from apps.payments.services import payment_refund

    buyer, address = buyer_with_address()
    give(buyer, 1000)
    first, second = stocked_variant(price="10.00"), stocked_variant(price="4.50")
    result = place(buyer, address, (first, 1), (second, 2), key="dashboard", points=1000)
    pay(fake_stripe, result.checkout)
    a, b = result.checkout.orders.order_by("shop_id")
    assert (a.amount_due, b.amount_due) == (Decimal("4.73"), Decimal("4.27"))

    payment_refund(
        payment=payment_get_by_reference(reference=result.checkout.number),
        amount=Money("9.00", "SGD"),
        reason="refunded from the dashboard",
        reference="re_dashboard_1",
    )

    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.amount_refunded, b.amount_refunded) == (Decimal("4.73"), Decimal("4.27"))
    assert (a.points_returned, b.points_returned) == (0, 0)
    assert set(Earning.objects.values_list("status", flat=True)) == {"reversed"}
    assert payout_balance(shop=a.shop) == {"SGD": Decimal("4.85")}  # 10.00 - 4.73, less 8 % (0.42)
    assert points_of(buyer) == (0, 0)

    order_refund(order=a, amount=Money("5.27", "SGD"), reason="the rest", actor=staff().user)

    a.refresh_from_db()
    assert (a.status, a.points_returned) == ("refunded", 527)
    assert stripe_refunds(fake_stripe, result.checkout) == [900]  # no more money moved
    assert points_of(buyer) == (527, 0)
    assert payout_balance(shop=a.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()


def test_where_a_point_is_worth_more_than_a_cent_a_refund_is_whole_points_or_refused_with_amounts_that_are():
    """HK$10.00 paid with 125 points of HK$0.08: HK$1.00 is not a whole number of points and no money
    was paid, so it is refused with the nearest amounts that are; HK$1.04 gives back 13 points and
    the rest the other 112, never a cent of money."""
    buyer, address = buyer_with_address()
    give(buyer, 125)
    variant = stocked_variant(shop=ShopFactory(currency="HKD"), price="10.00")
    result = place(buyer, address, (variant, 1), key="hkd", method="pay_on_pickup", points=125)
    order = result.checkout.orders.get()
    assert (order.points_value, order.amount_due) == (Decimal("10.00"), Decimal("0"))

    with pytest.raises(CheckoutError, match=r"Refund HK\$0.96 or HK\$1.04") as refused:
        order_refund(order=order, amount=Money("1.00", "HKD"), reason="one broken", actor=staff().user)
    assert refused.value.code == "refund-amount"

    order_refund(order=order, amount=Money("1.04", "HKD"), reason="one broken", actor=staff().user)
    order.refresh_from_db()
    assert (order.amount_refunded, order.points_returned) == (Decimal("1.04"), 13)
    order_refund(order=order, amount=Money("8.96", "HKD"), reason="the rest", actor=staff().user)
    order.refresh_from_db()
    assert (order.status, order.points_returned) == ("refunded", 125)
    assert points_of(buyer) == (125, 0)
    assert_no_drift()


@pytest.mark.parametrize("currency", ["SGD", "JPY", "HKD", "THB", "KRW"])
def test_refunds_split_exactly_and_never_give_back_more_money_than_was_paid(currency):
    """Random refund sequences (seeded) on random orders paid partly with points: each refund is whole
    points and money worth exactly its amount, neither part more than is left; refusals happen only
    where a point is worth more than the minor unit, and the amounts they suggest are accepted; the
    refund of everything left always goes through and ends with every point and all the money
    back."""
    import random
    import re

    from apps.core.money import currency_exponent
    from apps.loyalty.units import money_to_points, point_value
    from apps.orders.services import refund_split

    rng = random.Random(f"split-{currency}")
    minor = Decimal(1).scaleb(-currency_exponent(currency))
    unit = point_value(currency)
    refused = 0
    for _order in range(300):
        total = max(unit, minor * rng.randint(1, 20_000 if minor < 1 else 2_000_000))
        used = rng.randint(1, money_to_points(total, currency))
        order = Order(number="LBSPLIT", total=total, currency=currency, points_used=used, points_value=unit * used)
        money = Decimal(0)
        while order.amount_refunded < order.total:
            left = order.total - order.amount_refunded
            roll = rng.random()
            if roll < 0.25:
                amount = left
            elif roll < 0.5:
                amount = min(left, minor * rng.randint(1, 5))
            else:
                amount = minor * rng.randint(1, int(left / minor))
            try:
                points, part = refund_split(order=order, amount=amount)
            except CheckoutError as exc:
                assert unit > minor and amount < left, exc.message
                refused += 1
                for suggested in re.findall(r"\$?([0-9][0-9,.]*)(?: or|\.$)", exc.message.split("Refund ")[-1]):
                    refund_split(order=order, amount=Decimal(suggested.replace(",", "")))
                continue
            assert points * unit + part == amount and 0 <= part == part.quantize(minor)
            assert order.points_returned + points <= used and money + part <= order.amount_due
            order.points_returned += points
            order.amount_refunded += amount
            money += part
        assert (order.points_returned, money) == (used, order.amount_due)
    assert (refused > 0) == (unit > minor)


# --- a checkout not paid in time ------------------------------------------------------------------------


def test_an_expired_checkout_gives_the_points_back_and_a_late_payment_spends_them_again(fake_stripe):
    """Not paid in time: the order's payment fails and its 400 points come back; the payment arriving
    afterwards (the unit still there) makes it PAID and spends them again."""
    buyer, address = buyer_with_address()
    give(buyer, 400)
    result = place(buyer, address, (stocked_variant(price="10.00", units=1), 1), key="late", points=400)
    order = result.checkout.orders.get()
    assert points_of(buyer) == (0, 0)

    checkouts_expire(now=timezone.now() + timedelta(hours=1))

    order.refresh_from_db()
    assert (order.status, order.points_returned) == ("payment_failed", 400)
    assert points_of(buyer) == (400, 0)
    assert Redemption.objects.get().points_returned == 400

    pay(fake_stripe, result.checkout)  # the buyer paid just as the hold ran out

    order.refresh_from_db()
    assert (order.status, order.points_returned) == ("paid", 0)
    assert points_of(buyer) == (0, 6)  # spent again; 1 % of the 6.00 paid by card is pending
    assert Redemption.objects.get().points_returned == 0
    assert list(
        LedgerEntry.objects.filter(reference=order.number, bucket="available")
        .order_by("created_at", "id")
        .values_list("kind", "points")
    ) == [("redeem", -400), ("reverse", 400), ("redeem", -400)]
    assert_no_drift()


@pytest.mark.parametrize("expired", [True, False], ids=["checkout-expired", "hold-ran-out-only"])
def test_a_late_payment_for_items_sold_out_meanwhile_refunds_the_money_paid_and_the_points(fake_stripe, expired):
    """The hold ran out (and the checkout expired, giving the points back, or not yet), the last unit
    went to someone else, then the payment arrived: the order is cancelled, and its refund (the
    task queued for it) gives back the 6.00 paid by card and the 400 points; it earns nothing and
    the shop's ledger nets to zero."""
    buyer, address = buyer_with_address()
    give(buyer, 400)
    variant = stocked_variant(price="10.00", units=1)
    other, other_address = buyer_with_address()
    cart_add(cart=cart_get_or_create(user=other), variant=variant)  # while it was still there
    result = place(buyer, address, (variant, 1), key="late-sold-out", points=400)
    if expired:
        checkouts_expire(now=timezone.now() + timedelta(hours=1))
        assert points_of(buyer) == (400, 0)
    else:
        Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    place(other, other_address, key="other", method="pay_on_pickup")  # takes the last unit

    pay(fake_stripe, result.checkout)

    order = result.checkout.orders.get()
    assert order.status == "cancelled"
    order_refund_in_full(order_id=order.pk, reason="the items sold out before the payment arrived")  # the task
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("10.00")
    assert order.points_returned == order.points_used == 400
    assert stripe_refunds(fake_stripe, result.checkout) == [600]
    assert points_of(buyer) == (400, 0)
    assert not Earning.objects.filter(reference=order.number).exclude(status="reversed").exists()
    # Sold and refunded (the other buyer's order is the shop's once collected at the counter).
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("0.00")}
    assert_no_drift()


# --- the issue's "Done when" -----------------------------------------------------------------------------


def test_earn_on_delivery_redeem_on_the_next_order_refund_and_move_up_a_tier(
    fake_stripe, settings, django_capture_on_commit_callbacks
):
    """A delivery order paid by card earns pending points (1 % and the first-purchase bonus), which
    become available when the courier reports it delivered; they pay part of the next order; a
    refund gives some back and takes back what the refunded money earned; the nightly review then
    counts the money kept and moves the buyer up to silver, whose 2 % the next order earns."""
    settings.LOYALTY_FIRST_PURCHASE_BONUS = 500
    Tier.objects.filter(code="silver").update(min_spend=4000)  # 40.00 spent in 12 months
    shop = delivering_shop()
    slot, day = tomorrow_slot(shop)
    buyer, address = buyer_with_address()
    actor = staff()

    # 1. A delivery order (40.00 and the 6.00 fee) paid by card: 46 + 500 pending.
    delivered = place(
        buyer,
        address,
        (stocked_variant(shop=shop, price="40.00"), 1),
        key="one",
        fulfilments={shop.pk: code(slot, day)},
    )
    pay(fake_stripe, delivered.checkout)
    first = delivered.checkout.orders.get()
    assert (first.status, first.total) == ("paid", Decimal("46.00"))
    assert points_of(buyer) == (0, 546)

    for to in ("accepted", "packed", "out_for_delivery"):
        order_transition(order=first, to=to, actor=actor)
    assert points_of(buyer) == (0, 546)
    order_delivery_report(order=first, delivered=True, actor=Actor.logistics(label="Courier Ravi"))

    first.refresh_from_db()
    assert first.status == "delivered"
    assert points_of(buyer) == (546, 0)
    lots = LedgerEntry.objects.filter(reference=first.number, bucket="available")
    assert sorted(lots.values_list("kind", "points")) == [("bonus", 500), ("earn", 46)]
    assert all(lot.expires_at > timezone.now() + timedelta(days=364) for lot in lots)

    # 2. The next order (pickup, 30.00) takes all 546 points: 24.54 by card, 24 points pending.
    second_result = place(buyer, address, (stocked_variant(price="30.00"), 1), key="two", points=546)
    assert intent_of(fake_stripe, second_result.checkout).amount == 2454
    pay(fake_stripe, second_result.checkout)
    second = second_result.checkout.orders.get()
    assert points_of(buyer) == (0, 24)

    # 3. 10.00 refunded: 182 points and 8.18 back; the earning keeps what 16.36 earns (16).
    order_refund(order=second, amount=Money("10.00", "SGD"), reason="damaged box", actor=actor.user)
    assert stripe_refunds(fake_stripe, second_result.checkout) == [818]
    assert points_of(buyer) == (182, 16)
    # A refund on the delivered order takes back the points its money earned, from the balance.
    order_refund(order=first, amount=Money("6.00", "SGD"), reason="late delivery", actor=actor.user)
    assert points_of(buyer) == (182 - 6, 16)

    # 4. The nightly review: 40.00 + 16.36 kept = 5636 points' worth, past silver's 4000.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        counts = tiers_review()

    assert counts == {"reviewed": 1, "promoted": 1, "demoted": 0}
    account = LoyaltyAccount.objects.select_related("tier").get(user=buyer)
    assert (account.tier.code, account.spend_12m) == ("silver", 5636)
    change = TierChange.objects.get()
    assert (change.from_tier.code, change.to_tier.code, change.spend_12m) == ("bronze", "silver", 5636)
    assert [m.subject for m in mail.outbox] == ["You are now Silver"]
    assert tiers_review() == {"reviewed": 0, "promoted": 0, "demoted": 0}  # nothing changed since

    # 5. Silver earns 2 %: a 10.00 order paid on pickup, 20 points pending.
    third = place(buyer, address, (stocked_variant(price="10.00"), 1), key="three", method="pay_on_pickup")
    earning = Earning.objects.get(reference=third.checkout.orders.get().number)
    assert (earning.tier.code, earning.points) == ("silver", 20)
    assert_no_drift()
    assert_ledger_balanced()


def test_the_tax_invoice_keeps_the_full_prices_and_says_what_points_paid():
    """Points are a means of payment: the invoice's totals and tax are those of the full prices, and
    it records (and its PDF prints) the points used and their worth."""
    from apps.orders.documents_pdf import document_pdf
    from apps.orders.services_documents import invoice_issue

    buyer, address = buyer_with_address()
    give(buyer, 700)
    order = place(
        buyer, address, (stocked_variant(price="20.00"), 1), key="inv", method="pay_on_pickup", points=700
    ).checkout.orders.get()

    invoice = invoice_issue(order=order)

    assert invoice.gross == Decimal("20.00")
    assert (invoice.data["order"]["points_used"], invoice.data["order"]["points_value"]) == (700, "7.00")
    assert document_pdf(document=invoice).startswith(b"%PDF")


def test_the_orders_api_says_what_points_paid_and_what_the_buyer_pays_in_money():
    from apps.orders.api.serializers import OrderOutputSerializer

    buyer, address = buyer_with_address()
    give(buyer, 700)
    order = place(
        buyer, address, (stocked_variant(price="20.00"), 1), key="api", method="pay_on_pickup", points=700
    ).checkout.orders.get()

    data = OrderOutputSerializer(order).data

    assert (data["total"], data["points_used"], data["points_value"], data["amount_due"]) == (
        "20.00",
        700,
        "7.00",
        "13.00",
    )
    assert data["points_returned"] == 0

"""Checkouts under real concurrency on PostgreSQL: 30 buyers with overlapping baskets never
oversell, and the same order form sent 10 times at once makes one checkout."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from apps.core.tests.concurrency import race, race_errors
from apps.inventory.models import StockItem
from apps.inventory.tests.checks import assert_ledger_balanced
from apps.orders.errors import CheckoutError
from apps.orders.models import Checkout, Order, OrderLine
from apps.orders.services import cart_add, cart_get_or_create, checkout_place
from apps.shops.tests.factories import ShopFactory

from .factories import buyer_with_address, stocked_variant

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL; CI runs these"),
]

SEED = 20261122


def test_thirty_concurrent_checkouts_with_overlapping_baskets_never_oversell():
    shops = [ShopFactory(), ShopFactory()]
    variants = [stocked_variant(shop=shops[i % 2], units=6, price="5.00") for i in range(5)]
    rng = random.Random(SEED)
    buyers = []
    for _ in range(30):
        buyer, address = buyer_with_address()
        cart = cart_get_or_create(user=buyer)
        for variant in rng.sample(variants, k=rng.randint(1, 3)):
            cart_add(cart=cart, variant=variant, quantity=rng.randint(1, 2))
        total = sum((line.unit_price * line.quantity for line in cart.lines.all()), Decimal("0"))
        buyers.append((buyer, address, cart, total))

    def checkout(i: int):
        buyer, address, cart, total = buyers[i]
        return checkout_place(
            buyer=buyer,
            cart=cart,
            address=address.snapshot(),
            payment_method="pay_on_pickup",
            idempotency_key=f"race-{i}",
            expected_total=total,
        )

    results = race(30, checkout, expected=(CheckoutError,))

    assert race_errors(results) == []
    winners = [r for status, r in results if status == "ok"]
    losers = [exc for status, exc in results if status == "out"]
    assert winners and losers  # 30 units for about 60 wanted: some buy, some are told what is left
    assert all(exc.code == "out-of-stock" and " left" in exc.message for exc in losers), [e.message for e in losers]
    sold = Counter()
    for line in OrderLine.objects.all():
        sold[line.variant_id] += line.quantity
    for variant in variants:
        item = StockItem.objects.get(variant=variant)
        assert item.on_hand == 6 - sold[variant.pk] >= 0
        assert item.reserved == 0
    assert Checkout.objects.count() == len(winners)
    assert_ledger_balanced()


def test_the_same_order_form_sent_ten_times_at_once_makes_one_checkout():
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(units=3, price="7.00"), quantity=2)

    def place(_i: int):
        return checkout_place(
            buyer=buyer,
            cart=cart,
            address=address.snapshot(),
            payment_method="pay_on_pickup",
            idempotency_key="same-click",
            expected_total=Decimal("14.00"),
        )

    results = race(10, place)

    assert race_errors(results) == []
    checkouts = {r.checkout.pk for status, r in results if status == "ok"}
    assert len(checkouts) == 1 and Checkout.objects.count() == 1 and Order.objects.count() == 1
    assert sum(r.created for status, r in results if status == "ok") == 1
    assert StockItem.objects.get().on_hand == 1
    assert_ledger_balanced()


def test_the_same_one_click_request_sent_ten_times_at_once_makes_one_order_and_one_charge(fake_stripe):
    from apps.orders.services import one_click_buy, one_click_settings_update
    from apps.payments.tests.test_stripe_integration import save_card

    buyer, address = buyer_with_address()
    one_click_settings_update(user=buyer, enabled=True, address=address, card=save_card(fake_stripe, buyer))
    variant = stocked_variant(units=5, price="9.00")

    def click(_i: int):
        return one_click_buy(buyer=buyer, variant=variant, quantity=1, idempotency_key=f"1c-{buyer.pk}-{variant.pk}-0")

    results = race(10, click)

    assert race_errors(results) == []
    assert Checkout.objects.count() == Order.objects.count() == 1
    assert Order.objects.get().status == "paid"
    assert len(fake_stripe.payment_intents()) == 1
    assert StockItem.objects.get().on_hand == 4
    assert_ledger_balanced()

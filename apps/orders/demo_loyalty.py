"""Demo loyalty history for ``make run``: the demo buyer's points come from real orders, so the
ledger, the orders and ``manage.py loyalty_check`` agree.

Runs after the orders seeder (whose two pay-on-pickup orders already earn pending points and the
first-purchase bonus): two more orders are collected (their points become available), the nightly
tier review moves the buyer to the tier that spend reaches, and a last order spends some of the
points (its own points, at the new tier's rate, stay pending). It lives in the orders app because it
drives orders; loyalty itself never imports orders."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from apps.accounts.models import User
from apps.accounts.selectors import address_default_for_user
from apps.catalog.models import Product, Variant
from apps.loyalty.selectors import account_for_user
from apps.loyalty.services import tiers_review

from .actors import Actor
from .demo import DEMO_BUYER_EMAIL
from .models import Order
from .services import cart_add, cart_get_or_create, checkout_place, order_payment_collect, order_transition

S = Order.Status
COLLECTED = [S.ACCEPTED, S.PACKED, S.READY_FOR_PICKUP]  # then the payment is taken and it is delivered
POINTS_SPENT = 200


def seed_demo_loyalty() -> list[str]:
    buyer = User.objects.filter(email=DEMO_BUYER_EMAIL).first()
    admin = User.objects.filter(email="admin@localbazaar.test").first()
    if buyer is None or admin is None:
        return ["Loyalty: no demo buyer or admin, nothing to do."]
    address = address_default_for_user(user=buyer)
    if address is None:
        return ["Loyalty: the demo buyer has no address (run the orders seeder first)."]
    if Order.objects.filter(buyer=buyer, status__in=[S.DELIVERED, S.COMPLETED]).exists():
        return [_summary(buyer, "already there")]
    return _seed(buyer=buyer, address=address, staff=Actor.staff(admin))


def _variants(count: int) -> list[Variant]:
    """The dearest well-stocked demo products, from different shops that offer pickup."""
    chosen: dict[int, Variant] = {}
    candidates = Variant.objects.filter(
        is_active=True, stock_items__on_hand__gte=5, product__status=Product.Status.ACTIVE, shop__offers_pickup=True
    )
    for variant in candidates.order_by("-price", "pk").distinct():
        chosen.setdefault(variant.shop_id, variant)
        if len(chosen) == count:
            break
    return list(chosen.values())


def _place(buyer, address, variant: Variant, quantity: int, key: str, points: int = 0) -> Order:
    cart = cart_get_or_create(user=buyer)
    cart.lines.all().delete()
    cart_add(cart=cart, variant=variant, quantity=quantity)
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=key,
        expected_total=variant.price * quantity,
        points=points,
    )
    return result.checkout.orders.get()


@transaction.atomic
def _seed(*, buyer, address, staff: Actor) -> list[str]:
    variants = _variants(2)
    if len(variants) < 2:
        return ["Loyalty: not enough stocked demo products for a loyalty history."]
    # Two orders collected at the counter: about 300 dollars or more, enough for silver.
    for n, variant in enumerate(variants, start=1):
        quantity = max(1, min(3, int(Decimal(200) / variant.price) + 1))
        order = _place(buyer, address, variant, quantity, key=f"demo-loyalty-{n}")
        for to in COLLECTED:
            order_transition(order=order, to=to, actor=staff, via="demo")
        order_payment_collect(order=order, actor=staff.user)
        order_transition(order=order, to=S.DELIVERED, actor=staff, via="demo")
    tiers_review()  # what the nightly job does (emails the promotion)
    # A last order pays part of its total with points (and earns at the new tier's rate).
    _place(buyer, address, variants[0], 1, key="demo-loyalty-redeem", points=POINTS_SPENT)
    return [_summary(buyer, "made")]


def _summary(buyer, how: str) -> str:
    account = account_for_user(user=buyer)
    if account is None:
        return "Loyalty: the demo buyer has no points account."
    return (
        f"Loyalty: demo points history {how} for {buyer.email}: {account.balance} points available, "
        f"{account.pending} pending, tier {account.tier.name}."
    )

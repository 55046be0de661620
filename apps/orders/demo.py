"""Demo buying for ``make run``: the demo buyer has a saved address and two past pay-on-pickup orders
(from two shops), so the buyer's order pages and the sellers' order queues have something in them."""

from __future__ import annotations

from django.db import transaction

from apps.accounts.models import User
from apps.accounts.selectors import address_default_for_user
from apps.accounts.services import address_create
from apps.catalog.models import Variant
from apps.shops.models import Shop

from .models import Order
from .services import cart_add, cart_get_or_create, checkout_place

DEMO_BUYER_EMAIL = "buyer@localbazaar.test"
DEMO_SELLER_EMAIL = "seller@localbazaar.test"


@transaction.atomic
def seed_demo_orders() -> list[str]:
    buyer = User.objects.filter(email=DEMO_BUYER_EMAIL).first()
    if buyer is None:
        return ["Orders: no demo buyer, nothing to do."]
    address = address_default_for_user(user=buyer) or address_create(
        user=buyer, recipient_name="Bea Buyer", phone="+65 8123 4567", line1="10 Eng Hoon Street", postcode="169769"
    )
    if Order.objects.filter(buyer=buyer).exists():
        return [f"Orders: {Order.objects.filter(buyer=buyer).count()} demo orders already there."]
    seller_shop = Shop.objects.filter(memberships__user__email=DEMO_SELLER_EMAIL, memberships__role="owner").first()
    other_shop = Shop.objects.exclude(pk=getattr(seller_shop, "pk", None)).order_by("pk").first()
    cart = cart_get_or_create(user=buyer)
    for shop in (seller_shop, other_shop):
        variant = (
            Variant.objects.filter(shop=shop, is_active=True, stock_items__on_hand__gt=0).order_by("pk").first()
            if shop
            else None
        )
        if variant is not None:
            cart_add(cart=cart, variant=variant, quantity=1)
    if not cart.lines.exists():
        return ["Orders: no stocked demo products to order."]
    total = sum(line.unit_price * line.quantity for line in cart.lines.all())
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key="demo-first-order",
        expected_total=total,
    )
    return [f"Orders: {result.checkout.orders.count()} demo orders for {DEMO_BUYER_EMAIL} (pay on pickup)."]

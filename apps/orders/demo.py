"""Demo buying for ``make run``: the demo buyer has a saved address and two past pay-on-pickup orders
(from two shops), so the buyer's order pages and the sellers' order queues have something in them.
The demo seller's shop also gets orders further along the state machine (accepted, packed, ready,
collected), all till (POS) orders that came in through the intake pipeline, and a phone-desk order
with a discount big enough to raise an early warning, so the seller's queue, the timelines and the
back office's warnings and statistics have something to show."""

from __future__ import annotations

import contextlib

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


def seed_demo_orders() -> list[str]:
    messages = _seed_buyer_orders()
    seller_shop = Shop.objects.filter(memberships__user__email=DEMO_SELLER_EMAIL, memberships__role="owner").first()
    if seller_shop is not None and not Order.objects.filter(shop=seller_shop, channel="pos").exists():
        messages += _seed_workflow(seller_shop)
    return messages


@transaction.atomic
def _seed_buyer_orders() -> list[str]:
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


def _seed_workflow(shop: Shop) -> list[str]:
    """Orders of the demo seller's shop at several points of the state machine, and external ones."""
    from django.core.exceptions import ObjectDoesNotExist

    from apps.orders.errors import IntakeError

    from .actors import Actor
    from .services import order_transition
    from .services_intake import intake_pipeline_run, intake_submit

    admin = User.objects.filter(email="admin@localbazaar.test").first()
    if admin is None:
        return []
    staff = Actor.staff(admin)
    variants = list(
        Variant.objects.filter(shop=shop, is_active=True, stock_items__on_hand__gt=2).order_by("pk").distinct()[:3]
    )
    if not variants:
        return []
    journeys = [
        [Order.Status.ACCEPTED],
        [Order.Status.ACCEPTED, Order.Status.PACKED],
        [Order.Status.ACCEPTED, Order.Status.PACKED, Order.Status.READY_FOR_PICKUP],
        [
            Order.Status.ACCEPTED,
            Order.Status.PACKED,
            Order.Status.READY_FOR_PICKUP,
            Order.Status.DELIVERED,
            Order.Status.COMPLETED,
        ],
    ]
    made = 0
    for n, journey in enumerate(journeys, start=1):
        variant = variants[n % len(variants)]
        payload = {
            "shop": shop.slug,
            "channel": "pos",
            "external_ref": f"DEMO-POS-{n}",
            "currency": shop.currency,
            "customer": {"name": f"Walk-in customer {n}", "email": f"walkin{n}@example.com"},
            "fulfilment": "pickup",
            "payment": "paid",
            "lines": [{"sku": variant.sku, "quantity": 1, "unit_price": str(variant.price)}],
        }
        try:
            intake = intake_submit(payload=payload, channel="pos", submitted_by_label="Demo till").intake
        except IntakeError:
            continue
        intake_pipeline_run(intake_id=intake.pk)  # now, not only when the queued run comes (it is idempotent)
        intake.refresh_from_db()
        try:
            order = intake.order
        except ObjectDoesNotExist:
            order = None
        if order is None:
            continue
        for to in journey:
            order_transition(order=order, to=to, actor=staff, via="demo")
        made += 1
    variant = variants[0]
    price = variant.price
    warned = {
        "shop": shop.slug,
        "channel": "phone",
        "external_ref": "DEMO-PHONE-1",
        "currency": shop.currency,
        "customer": {"name": "Phone customer", "phone": "+65 6123 4567"},
        "fulfilment": "pickup",
        "payment": "pay_on_pickup",
        "discount": str((price * 2 / 2).quantize(price)),  # half off: above the discount warning level
        "lines": [{"sku": variant.sku, "quantity": 2, "unit_price": str(price)}],
    }
    with contextlib.suppress(IntakeError):
        intake = intake_submit(payload=warned, channel="phone", submitted_by_label="Demo phone desk").intake
        intake_pipeline_run(intake_id=intake.pk)
    return [f"Orders: {made} till orders of {shop.name} moved along the state machine, a phone order with a warning."]

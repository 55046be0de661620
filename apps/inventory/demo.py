"""Demo stock for ``make run``: every demo variant stocked at its shop's store (a few already low),
a back-room warehouse for the first seller's shop, some sales already made, and an inventory manager
login (stock moves only through the inventory roles) for the first seller's shops."""

from __future__ import annotations

import hashlib

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from apps.accounts.demo import DEMO_PASSWORD
from apps.accounts.models import User
from apps.catalog.models import Variant
from apps.shops.models import Membership, Shop
from apps.shops.permissions import Role

from .models import StockItem, StockLocation
from .selectors import with_available
from .services import (
    LineRequest,
    reservation_commit,
    stock_location_create,
    stock_receive,
    stock_reserve,
)

DEMO_STOCK_EMAIL = "stock@localbazaar.test"
DEMO_SELLER_EMAIL = "seller@localbazaar.test"
LOW_STOCK_THRESHOLD = 5


def _number(seed: str, low: int, high: int) -> int:
    """A stable pseudo-random number for a seed (the same demo every time)."""
    return low + int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % (high - low + 1)


def _stock_handler() -> User:
    user, created = User.objects.get_or_create(
        email=DEMO_STOCK_EMAIL, defaults={"first_name": "Siti", "last_name": "Rahman"}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(user=user, email=DEMO_STOCK_EMAIL, defaults={"verified": True, "primary": True})
    return user


@transaction.atomic
def seed_demo_inventory() -> list[str]:
    """Stock the demo shops that have none yet; return summary lines."""
    handler = _stock_handler()
    seller_shops = list(Shop.objects.filter(memberships__user__email=DEMO_SELLER_EMAIL, memberships__role=Role.OWNER))
    for shop in seller_shops:
        Membership.objects.get_or_create(shop=shop, user=handler, defaults={"role": Role.INVENTORY_MANAGER})
        if not StockLocation.objects.filter(shop=shop, name="Back room").exists():
            stock_location_create(shop=shop, name="Back room", kind=StockLocation.Kind.WAREHOUSE)
    stocked_variants = StockItem.objects.values("variant_id")
    variants = list(
        Variant.objects.filter(shop__in=Shop.objects.all()).exclude(pk__in=stocked_variants).select_related("shop")
    )
    sold, items = 0, []
    for variant in variants:
        units = _number(variant.sku, 2, 40)
        movement = stock_receive(
            variant=variant, quantity=units, actor=handler, reason="opening stock", reference="DEMO-OPEN"
        )
        items.append(movement.item.pk)
        sales = _number(variant.sku + ":sold", 0, min(3, units))
        for n in range(sales):
            reference = f"DEMO-{variant.sku}-{n + 1}"
            stock_reserve(shop=variant.shop, reference=reference, lines=[LineRequest(variant.pk, 1)])
            reservation_commit(reference=reference)
            sold += 1
    # Thresholds are set quietly: the demo starts with its low items known, not with a burst of
    # alert emails on the console.
    with_available(StockItem.objects.filter(pk__in=items)).update(
        low_stock_threshold=LOW_STOCK_THRESHOLD,
        low_stock_alerted_at=Case(When(available__lt=LOW_STOCK_THRESHOLD, then=Value(timezone.now())), default=None),
    )
    return [
        f"Inventory: {len(variants)} variants stocked, {sold} demo sales.",
        f"  {DEMO_STOCK_EMAIL:<26} password: {DEMO_PASSWORD}  inventory manager of "
        + (", ".join(s.name for s in seller_shops) or "no shop yet")
        + " (receives, counts and moves stock)",
    ]

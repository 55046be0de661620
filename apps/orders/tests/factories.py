"""Helpers to build buyers with an address and shops with stocked products."""

from __future__ import annotations

from decimal import Decimal

from apps.accounts.services import address_create
from apps.accounts.tests.factories import UserFactory
from apps.catalog.models import Product
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.services import stock_receive
from apps.shops.tests.factories import ShopFactory


def buyer_with_address(**kwargs):
    user = UserFactory(**kwargs)
    address = address_create(
        user=user, recipient_name="Mei Tan", phone="+65 9123 4567", line1="1 Tiong Bahru Road", postcode="168898"
    )
    return user, address


def stocked_variant(
    *, shop=None, price: str = "10.00", units: int = 10, title: str = "Kaya jar", sku: str | None = None
):
    shop = shop or ShopFactory()
    product = ProductFactory(shop=shop, title=title, status=Product.Status.ACTIVE)
    kwargs = {"product": product, "price": Decimal(price)}
    if sku:
        kwargs["sku"] = sku
    variant = VariantFactory(**kwargs)
    if units:
        stock_receive(variant=variant, quantity=units)
    return variant

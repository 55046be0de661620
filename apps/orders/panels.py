"""What the orders app adds to other apps' pages: the product page's buy box and the header's cart."""

from __future__ import annotations

from apps.inventory.selectors import stock_available_by_variant
from apps.payments.selectors import payments_card_enabled

from .receivers import CART_COUNT_SESSION_KEY
from .selectors import one_click_ready, one_click_settings_get, variant_purchasable


def buy_panel(request, product) -> dict | None:
    """The "Add to cart" box: the variants on sale, each marked in stock or sold out."""
    variants = [v for v in product.variants.all() if v.is_active]
    if not variants or not variant_purchasable(variants[0]):
        return None
    available = stock_available_by_variant(shop=product.shop, variant_ids=[v.pk for v in variants])
    for variant in variants:
        variant.in_stock = available.get(variant.pk, 0) > 0
    one_click = None
    if request.user.is_authenticated and payments_card_enabled():
        config = one_click_settings_get(user=request.user)
        if one_click_ready(config):
            one_click = config
    return {
        "template": "orders/_buy_panel.html",
        "variants": variants,
        "any_in_stock": any(v.in_stock for v in variants),
        "one_click": one_click,
    }


def cart_context(request) -> dict:
    """``cart_count`` for the header, from the session (the cart pages keep it up to date), so other
    pages pay no query for it."""
    return {"cart_count": request.session.get(CART_COUNT_SESSION_KEY, 0) if hasattr(request, "session") else 0}

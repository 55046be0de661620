"""What the loyalty app adds to other apps' pages: a shop's boost on the product page."""

from __future__ import annotations

from .selectors import live_boost_for_product


def boost_panel(request, product) -> dict | None:
    """ "+5% extra points on this product" while a boost the shop funds runs on it (one query)."""
    boost = live_boost_for_product(product=product)
    if boost is None:
        return None
    return {
        "template": "loyalty/buyer/_product_boost_panel.html",
        "boost": boost,
        "percent": boost.extra_rate * 100,
    }

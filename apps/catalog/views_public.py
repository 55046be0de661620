"""Public catalog pages: home, category listing, shop page, product page, picking a location."""

from __future__ import annotations

from django.shortcuts import render

from apps.shops.selectors import shop_get_public

from .selectors import product_get_public, products_public, with_listing_data


def home(request):
    return render(request, "catalog/home.html")


def shop_page(request, shop_slug: str):
    shop = shop_get_public(slug=shop_slug)
    products = with_listing_data(products_public().filter(shop=shop)).order_by("-published_at", "-id")[:48]
    return render(request, "catalog/shop.html", {"shop": shop, "products": products})


def product_page(request, shop_slug: str, product_slug: str):
    product = product_get_public(shop_slug=shop_slug, product_slug=product_slug)
    return render(request, "catalog/product.html", {"product": product, "shop": product.shop})

"""Seller portal: the shop's products (list, create, edit variants and images, archive)."""

from __future__ import annotations

from django.shortcuts import render

from apps.shops.access import seller_view
from apps.shops.permissions import Perm

from .selectors import product_list_for_shop


@seller_view(Perm.CATALOG_VIEW)
def product_list(request):
    status = request.GET.get("status") or None
    products = product_list_for_shop(shop=request.shop, status=status, query=(request.GET.get("q") or "").strip())
    return render(
        request,
        "catalog/seller/product_list.html",
        {"shop": request.shop, "membership": request.membership, "products": products[:100]},
    )

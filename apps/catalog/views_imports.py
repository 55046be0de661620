"""Seller portal: CSV product imports with progress."""

from __future__ import annotations

from django.shortcuts import render

from apps.shops.access import seller_view
from apps.shops.permissions import Perm

from .models import ImportJob


@seller_view(Perm.CATALOG_IMPORT)
def import_list(request):
    jobs = ImportJob.objects.filter(shop=request.shop)[:20]
    return render(
        request,
        "catalog/seller/import_list.html",
        {"shop": request.shop, "membership": request.membership, "jobs": jobs},
    )

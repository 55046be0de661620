"""Public catalog pages: home, category listing, shop page, product page, picking a location."""

from __future__ import annotations

from django.shortcuts import render


def home(request):
    return render(request, "catalog/home.html")

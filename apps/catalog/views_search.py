"""The search page (local-first search lands in apps.catalog.search)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .selectors import products_public, with_listing_data

SEARCH_QUERY_MAX_LENGTH = 200


@require_GET
def search_results(request):
    query = (request.GET.get("q") or "").strip()
    error = None
    products = []
    if len(query) > SEARCH_QUERY_MAX_LENGTH:
        error = _("Your search is too long: use at most %(max)d characters.") % {"max": SEARCH_QUERY_MAX_LENGTH}
    elif query:
        products = list(with_listing_data(products_public().filter(title__icontains=query))[:48])
    return render(request, "catalog/search.html", {"query": query, "products": products, "error": error})

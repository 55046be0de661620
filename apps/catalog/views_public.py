"""Public catalog pages: home, category listing, shop page, product page, picking a location."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from apps.core.geo import Point, haversine_km, sg_postal_district
from apps.core.registry import product_page_panels
from apps.shops.selectors import shop_get_public, shop_is_open_now, shop_opening_week, shop_story_excerpt

from .location import buyer_location_clear, buyer_location_get, buyer_location_set
from .selectors import (
    categories_top_level,
    category_ancestors,
    category_branch,
    product_get_public,
    product_list_public,
    product_sort_resolve,
    products_latest,
    products_near,
)

PAGE_SIZE = 24
HOME_SHELF_SIZE = 8


def _buyer_point(request) -> Point | None:
    location = buyer_location_get(request)
    return location.point if location else None


def _distance_to_shop(point: Point | None, shop) -> float | None:
    if point is None:
        return None
    return haversine_km(point, Point(shop.latitude, shop.longitude))


def _sort_options(point: Point | None) -> list[tuple[str, str]]:
    options = [("newest", _("Newest")), ("price_asc", _("Price: low to high")), ("price_desc", _("Price: high to low"))]
    if point is not None:
        options.append(("nearest", _("Nearest")))
    return options


@require_safe
def home(request):
    location = buyer_location_get(request)
    point = location.point if location else None
    context = {
        "location": location,
        "near_products": products_near(point=point, limit=HOME_SHELF_SIZE) if point else [],
        # Callables: the template evaluates them only when its shelf cache misses.
        "new_products": partial(products_latest, point=point, limit=HOME_SHELF_SIZE),
        "categories": categories_top_level,
        "home_cache_seconds": settings.HOME_CACHE_SECONDS if point is None else 0,
    }
    return render(request, "catalog/home.html", context)


@require_safe
def category_page(request, category_slug: str):
    branch = category_branch(slug=category_slug)
    location = buyer_location_get(request)
    point = location.point if location else None
    sort = product_sort_resolve(request.GET.get("sort"), point=point)
    products = product_list_public(category_ids=branch.subtree_ids, sort=sort, point=point)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "category": branch.category,
        "location": location,
        "ancestors": branch.ancestors,
        "subcategories": branch.children,
        "page": page,
        "sort": sort,
        "sort_options": _sort_options(point),
    }
    return render(request, "catalog/category.html", context)


@require_safe
def shop_page(request, shop_slug: str):
    shop = shop_get_public(slug=shop_slug)
    point = _buyer_point(request)
    products = product_list_public(shop=shop, sort="newest", point=point)
    context = {
        "shop": shop,
        "page": Paginator(products, PAGE_SIZE).get_page(request.GET.get("page")),
        "distance_km": _distance_to_shop(point, shop),
        "open_now": shop_is_open_now(shop),
        "opening_week": shop_opening_week(shop),
    }
    return render(request, "catalog/shop.html", context)


@require_safe
def product_page(request, shop_slug: str, product_slug: str):
    product = product_get_public(shop_slug=shop_slug, product_slug=product_slug)
    shop = product.shop
    point = _buyer_point(request)
    more = product_list_public(shop=shop, sort="newest", point=point, exclude_id=product.pk)[:4]
    context = {
        "product": product,
        "shop": shop,
        "distance_km": _distance_to_shop(point, shop),
        "open_now": shop_is_open_now(shop),
        "opening_week": shop_opening_week(shop),
        "story_excerpt": shop_story_excerpt(shop),
        "ancestors": [*category_ancestors(category=product.category), product.category] if product.category else [],
        "more_products": more,
        "panels": [panel for _name, func in product_page_panels.items() if (panel := func(request, product))],
    }
    return render(request, "catalog/product.html", context)


@require_POST
def location_set(request):
    """Remember where the buyer is (a Singapore postcode), or forget it; then go back."""
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("catalog:home")
    if request.POST.get("action") == "clear":
        buyer_location_clear(request)
        messages.success(request, _("We no longer use your location."))
        return redirect(next_url)
    postcode = "".join((request.POST.get("postcode") or "").split())
    district = sg_postal_district(postcode)
    if district is None:
        messages.error(
            request,
            _("We cannot find the postcode “%(postcode)s”. Enter a six-digit Singapore postcode, e.g. 168898.")
            % {"postcode": postcode[:12]},
        )
        return redirect(next_url)
    location = buyer_location_set(request, point=district.point, label=f"{postcode} ({district.name})")
    messages.success(request, _("Showing what is near %(place)s first.") % {"place": location.label})
    return redirect(next_url)

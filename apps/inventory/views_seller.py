"""Seller portal: stock. The table of levels (live), one item's history and threshold, receiving,
adjusting, transferring and writing off stock, locations, CSV stock counts with progress, alert
settings, and the dashboard's live stock panel.

Every view is scoped by ``@seller_view`` (404 outside the user's shops, 403 without the permission)
and reads through selectors that take ``shop=request.shop``. Writes go through
``apps.inventory.services`` (and ``counts``/``alerts``); their ``StockError`` becomes a form error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.csv_files import csv_problems_response
from apps.shops.access import principal_allows, seller_view
from apps.shops.permissions import Perm

from . import forms as stock_forms
from .alerts import inventory_settings_update
from .counts import MAX_ROWS as COUNT_MAX_ROWS
from .counts import stock_count_create, stock_count_summary
from .errors import StockError
from .models import StockCountImport, StockMovement
from .selectors import (
    inventory_alerts_recent,
    inventory_settings_get,
    movements_for_item,
    stock_count_get_for_shop,
    stock_counts_recent,
    stock_dashboard,
    stock_item_get_for_shop,
    stock_levels_for_shop,
    stock_location_get_for_shop,
    stock_locations_for_shop,
)
from .services import stock_item_threshold_set, stock_location_create, stock_location_make_default

ITEMS_PER_PAGE = 50
MOVEMENTS_PER_PAGE = 50
EXAMPLE_COUNT_CSV = Path(__file__).resolve().parent / "data" / "stock_count_example.csv"
COUNTS_RUNNING = (StockCountImport.Status.PENDING, StockCountImport.Status.RUNNING)
# The live table and the dashboard panel poll this often (seconds).
LIVE_REFRESH_SECONDS = 5


def _context(request, **extra) -> dict:
    membership = request.membership
    return {
        "shop": request.shop,
        "membership": membership,
        "can_adjust": principal_allows(membership, Perm.STOCK_ADJUST),
        "can_edit_locations": principal_allows(membership, Perm.SHOP_EDIT),
        "can_manage_alerts": principal_allows(membership, Perm.STOCK_ALERTS),
        "refresh_seconds": LIVE_REFRESH_SECONDS,
        **extra,
    }


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# --- the stock table and one item ----------------------------------------------------------------


@seller_view(Perm.STOCK_VIEW)
@require_GET
def stock_list(request):
    """The shop's stock, searchable and filterable; htmx refreshes the rows every few seconds."""
    query = (request.GET.get("q") or "").strip()[:100]
    locations = list(stock_locations_for_shop(shop=request.shop))
    location_id = _int_or_none(request.GET.get("location"))
    if location_id not in {loc.pk for loc in locations}:
        location_id = None
    low_only = request.GET.get("low") == "1"
    items = stock_levels_for_shop(shop=request.shop, query=query, location_id=location_id, low_stock_only=low_only)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    context = _context(
        request,
        page=page,
        items=page.object_list,
        query=query,
        locations=locations,
        location_id=location_id,
        low_only=low_only,
    )
    if request.htmx and request.htmx.target == "stock-rows":
        return render(request, "inventory/seller/stock_rows.html", context)
    return render(request, "inventory/seller/stock_list.html", context)


@seller_view(Perm.STOCK_VIEW)
@require_GET
def stock_item(request, item_id: int):
    item = stock_item_get_for_shop(shop=request.shop, item_id=item_id)
    show_holds = request.GET.get("holds") == "1"
    kinds = None if show_holds else [k for k in StockMovement.Kind.values if k not in ("reservation", "release")]
    page = Paginator(movements_for_item(item=item, kinds=kinds), MOVEMENTS_PER_PAGE).get_page(request.GET.get("page"))
    threshold_form = stock_forms.ThresholdForm(initial={"low_stock_threshold": item.low_stock_threshold})
    return render(
        request,
        "inventory/seller/stock_item.html",
        _context(
            request,
            item=item,
            page=page,
            movements=page.object_list,
            show_holds=show_holds,
            threshold_form=threshold_form,
        ),
    )


@seller_view(Perm.STOCK_ADJUST)
@require_POST
def stock_item_threshold(request, item_id: int):
    item = stock_item_get_for_shop(shop=request.shop, item_id=item_id)
    form = stock_forms.ThresholdForm(request.POST)
    if form.is_valid():
        try:
            stock_item_threshold_set(item=item, low_stock_threshold=form.cleaned_data["low_stock_threshold"])
        except StockError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Low-stock threshold saved."))
    else:
        messages.error(request, " ".join(form.errors["low_stock_threshold"]))
    return redirect("inventory_seller:item", shop_slug=request.shop.slug, item_id=item.pk)


# --- stock changes ------------------------------------------------------------------------------


def _initial_from_query(request) -> dict:
    """Forms opened from an item's page arrive with its SKU and location filled in."""
    initial = {}
    if request.GET.get("sku"):
        initial["sku"] = request.GET["sku"][:64]
    location_id = _int_or_none(request.GET.get("location"))
    if location_id is not None:
        location = stock_locations_for_shop(shop=request.shop).filter(pk=location_id).first()
        if location is not None:
            initial.update(location=location, source=location)
    return initial


@dataclass(frozen=True)
class StockChange:
    form_class: type
    title: str
    done_message: str


# The four change pages: one form each (which names its service and maps its fields), one view.
CHANGES = {
    "receive": StockChange(stock_forms.ReceiveForm, gettext_lazy("Receive stock"), gettext_lazy("Stock received.")),
    "adjust": StockChange(stock_forms.AdjustForm, gettext_lazy("Adjust stock"), gettext_lazy("Stock adjusted.")),
    "transfer": StockChange(
        stock_forms.TransferForm, gettext_lazy("Move stock between locations"), gettext_lazy("Stock moved.")
    ),
    "shrinkage": StockChange(
        stock_forms.ShrinkageForm, gettext_lazy("Write off damaged or lost stock"), gettext_lazy("Stock written off.")
    ),
}


@seller_view(Perm.STOCK_ADJUST)
@require_http_methods(["GET", "POST"])
def stock_change_view(request, change: str):
    """Receive, adjust, transfer or write off stock; the service's refusal becomes a form error."""
    spec = CHANGES[change]
    form = spec.form_class(request.POST or None, shop=request.shop, initial=_initial_from_query(request))
    if request.method == "POST" and form.is_valid():
        try:
            movement = form.apply(actor=request.user)
        except StockError as exc:
            form.add_error(None, exc.message)
        else:
            if movement is None:
                messages.info(request, _("The count matches the books: nothing changed."))
                return redirect("inventory_seller:list", shop_slug=request.shop.slug)
            messages.success(request, spec.done_message)
            return redirect("inventory_seller:item", shop_slug=request.shop.slug, item_id=movement.item_id)
    return render(request, "inventory/seller/stock_change.html", _context(request, form=form, title=spec.title))


# --- locations ----------------------------------------------------------------------------------


@seller_view(Perm.SHOP_EDIT)
@require_http_methods(["GET", "POST"])
def location_list(request):
    form = stock_forms.LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            location = stock_location_create(shop=request.shop, **form.cleaned_data)
        except StockError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, _("Location “%(name)s” added.") % {"name": location.name})
            return redirect("inventory_seller:locations", shop_slug=request.shop.slug)
    locations = stock_locations_for_shop(shop=request.shop)
    return render(request, "inventory/seller/locations.html", _context(request, form=form, locations=locations))


@seller_view(Perm.SHOP_EDIT)
@require_POST
def location_make_default(request, location_id: int):
    location = stock_location_get_for_shop(shop=request.shop, location_id=location_id)
    stock_location_make_default(location=location)
    messages.success(request, _("“%(name)s” is now the default location.") % {"name": location.name})
    return redirect("inventory_seller:locations", shop_slug=request.shop.slug)


# --- stock counts from CSV ---------------------------------------------------------------------


@seller_view(Perm.STOCK_ADJUST)
@require_http_methods(["GET", "POST"])
def count_list(request):
    form = stock_forms.StockCountForm(request.POST or None, request.FILES or None, shop=request.shop)
    if request.method == "POST" and form.is_valid():
        try:
            count = stock_count_create(
                shop=request.shop,
                created_by=request.user,
                upload=form.cleaned_data["file"],
                location=form.cleaned_data["location"],
            )
        except StockError as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(request, _("Your count is being applied. This page shows the progress."))
            return redirect("inventory_seller:count", shop_slug=request.shop.slug, count_id=count.pk)
    return render(
        request,
        "inventory/seller/count_list.html",
        _context(request, form=form, counts=stock_counts_recent(shop=request.shop), max_rows=COUNT_MAX_ROWS),
    )


def _count_context(request, count: StockCountImport) -> dict:
    return _context(
        request,
        count=count,
        summary=stock_count_summary(count),
        is_running=count.status in COUNTS_RUNNING,
        errors=count.errors or [],
    )


@seller_view(Perm.STOCK_ADJUST)
@require_GET
def count_detail(request, count_id: int):
    count = stock_count_get_for_shop(shop=request.shop, count_id=count_id)
    return render(request, "inventory/seller/count_detail.html", _count_context(request, count))


@seller_view(Perm.STOCK_ADJUST)
@require_GET
def count_progress(request, count_id: int):
    """The progress block alone: htmx swaps it in every second until the count has finished."""
    count = stock_count_get_for_shop(shop=request.shop, count_id=count_id)
    return render(request, "inventory/seller/count_progress.html", _count_context(request, count))


@seller_view(Perm.STOCK_ADJUST)
@require_GET
def count_errors_csv(request, count_id: int):
    count = stock_count_get_for_shop(shop=request.shop, count_id=count_id)
    return csv_problems_response(original_name=count.original_name, errors=count.errors or [], fallback="count")


@seller_view(Perm.STOCK_ADJUST)
@require_GET
def count_example_csv(request):
    return FileResponse(EXAMPLE_COUNT_CSV.open("rb"), as_attachment=True, filename="stock_count_example.csv")


# --- alerts and the dashboard panel -----------------------------------------------------------------


@seller_view(Perm.STOCK_ALERTS)
@require_http_methods(["GET", "POST"])
def alert_settings(request):
    config = inventory_settings_get(shop=request.shop)
    form = stock_forms.AlertSettingsForm(request.POST or None, instance=config)
    if request.method == "POST" and form.is_valid():
        try:
            inventory_settings_update(shop=request.shop, **form.cleaned_data)
        except StockError as exc:
            form.add_error("webhook_url", exc.message)
        else:
            messages.success(request, _("Alert settings saved."))
            return redirect("inventory_seller:alerts", shop_slug=request.shop.slug)
    return render(
        request,
        "inventory/seller/alerts.html",
        _context(request, form=form, alerts=inventory_alerts_recent(shop=request.shop)),
    )


@seller_view(Perm.STOCK_VIEW)
@require_GET
def stock_live_panel(request):
    """The dashboard's stock panel (htmx loads it and polls it every few seconds)."""
    return render(request, "inventory/seller/live_panel.html", _context(request, **stock_dashboard(shop=request.shop)))


def stock_panel_for(membership) -> dict | None:
    """The dashboard panel entry for members who may see stock (registered in AppConfig.ready)."""
    if not principal_allows(membership, Perm.STOCK_VIEW):
        return None
    return {
        "id": "stock-live",
        "title": _("Stock right now"),
        "url": reverse("inventory_seller:live", kwargs={"shop_slug": membership.shop.slug}),
        "refresh_seconds": LIVE_REFRESH_SECONDS,
    }

"""Inventory reads. Seller-side getters take the shop and raise 404 for another tenant's stock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from apps.catalog.models import Variant
from apps.shops.models import Shop

from .models import (
    InventoryAlert,
    InventorySettings,
    Reservation,
    StockCountImport,
    StockItem,
    StockLocation,
    StockMovement,
)


def stock_locations_for_shop(*, shop: Shop) -> QuerySet[StockLocation]:
    """The shop's locations, the default one first."""
    return StockLocation.objects.filter(shop=shop).order_by("-is_default", "name", "pk")


def stock_location_get_for_shop(*, shop: Shop, location_id: int) -> StockLocation:
    location = StockLocation.objects.filter(shop=shop, pk=location_id).first()
    if location is None:
        raise Http404("No such stock location.")
    return location


def with_available(qs: QuerySet[StockItem]) -> QuerySet[StockItem]:
    """Annotate ``available`` (on hand − reserved: what can still be sold)."""
    return qs.annotate(available=F("on_hand") - F("reserved"))


def stock_levels_for_shop(
    *,
    shop: Shop,
    query: str = "",
    location_id: int | None = None,
    variant_id: int | None = None,
    low_stock_only: bool = False,
) -> QuerySet[StockItem]:
    """The shop's stock table: one row per variant and location with ``available`` annotated, the
    variant, its product and the location loaded, ordered by product, variant, location.

    ``query`` matches words of the product title or the SKU; ``low_stock_only`` keeps the items whose
    available stock is below their (non-zero) low-stock threshold.
    """
    qs = with_available(StockItem.objects.filter(shop=shop)).select_related("variant__product", "location")
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(variant__sku__icontains=query) | Q(variant__product__title__icontains=query))
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if variant_id is not None:
        qs = qs.filter(variant_id=variant_id)
    if low_stock_only:
        qs = qs.filter(low_stock_threshold__gt=0, available__lt=F("low_stock_threshold"))
    return qs.order_by(
        "variant__product__title", "variant__position", "variant_id", "-location__is_default", "location__name", "pk"
    )


def stock_item_get_for_shop(*, shop: Shop, item_id: int) -> StockItem:
    """One stock item of the shop with ``available`` annotated; 404 for another shop's item."""
    item = (
        with_available(StockItem.objects.filter(shop=shop, pk=item_id))
        .select_related("variant__product", "location")
        .first()
    )
    if item is None:
        raise Http404("No such stock item.")
    return item


def movements_for_item(*, item: StockItem, kinds: Iterable[str] | None = None) -> QuerySet[StockMovement]:
    """The item's ledger, newest first, with who made each change. ``kinds`` narrows it (e.g. leave
    out the reservation and release lines that checkouts write)."""
    qs = StockMovement.objects.filter(item=item).select_related("actor")
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    return qs.order_by("-created_at", "-id")


def reservations_for_reference(*, reference: str) -> QuerySet[Reservation]:
    """A checkout's reservations, oldest first (all statuses)."""
    return Reservation.objects.filter(reference=reference).order_by("pk")


def stock_available_by_variant(*, shop: Shop, variant_ids: Iterable[int]) -> dict[int, int]:
    """Units available to sell per variant over all of the shop's locations (0 for unstocked ones).
    A snapshot for display: only ``stock_reserve`` decides whether a checkout gets the units."""
    ids = list(variant_ids)
    rows = (
        StockItem.objects.filter(shop=shop, variant_id__in=ids)
        .order_by()  # the model's ordering would join four tables into the GROUP BY
        .values("variant_id")
        .annotate(available=Sum(F("on_hand") - F("reserved")))
    )
    available = dict.fromkeys(ids, 0)
    available.update({row["variant_id"]: row["available"] for row in rows})
    return available


# --- the ledger check (manage.py inventory_check) ---------------------------------------------


def _per_item_sum(qs: QuerySet, field: str) -> Coalesce:
    total = qs.filter(item=OuterRef("pk")).order_by().values("item").annotate(total=Sum(field)).values("total")
    return Coalesce(Subquery(total), 0)


def stock_ledger_chunk(*, after_id: int = 0, limit: int = 2000, shop: Shop | None = None) -> list[dict]:
    """The next ``limit`` stock items after id ``after_id``, each with its levels beside the sums
    of its movements and of its active reservations: ``id``, ``on_hand``, ``reserved``,
    ``ledger_on_hand``, ``ledger_reserved``, ``held``.

    One statement per chunk, so the figures come from one snapshot even while checkouts run; each
    sum reads the item's range of an index (the movements' covering index on PostgreSQL).
    """
    qs = StockItem.objects.filter(pk__gt=after_id)
    if shop is not None:
        qs = qs.filter(shop=shop)
    active = Reservation.objects.filter(status=Reservation.Status.ACTIVE)
    return list(
        qs.annotate(
            ledger_on_hand=_per_item_sum(StockMovement.objects.all(), "quantity"),
            ledger_reserved=_per_item_sum(StockMovement.objects.all(), "reserved_delta"),
            held=_per_item_sum(active, "quantity"),
        )
        .order_by("pk")
        .values("id", "on_hand", "reserved", "ledger_on_hand", "ledger_reserved", "held")[:limit]
    )


# --- the stock API (/api/v1/shops/<shop>/stock…) -------------------------------------------------


def stock_variant_find_for_shop(*, shop: Shop, variant_id: int | None = None, sku: str = "") -> Variant | None:
    """The shop's variant by id, or else by exact SKU, with its product and shop loaded; None when
    the shop has no such variant (another shop's variant included: it is never revealed)."""
    qs = Variant.objects.select_related("product", "shop").filter(shop=shop)
    if variant_id is not None:
        return qs.filter(pk=variant_id).first()
    sku = (sku or "").strip()
    return qs.filter(sku=sku).first() if sku else None


def stock_levels_list(
    *,
    shop: Shop,
    sku: str = "",
    query: str = "",
    location_id: int | None = None,
    low_stock_only: bool = False,
) -> QuerySet[StockItem]:
    """:func:`stock_levels_for_shop`, narrowed to one exact ``sku`` when given (any location)."""
    qs = stock_levels_for_shop(shop=shop, query=query, location_id=location_id, low_stock_only=low_stock_only)
    sku = (sku or "").strip()
    return qs.filter(variant__sku=sku) if sku else qs


def stock_item_find(*, shop: Shop, variant_id: int, location_id: int | None = None) -> StockItem | None:
    """The shop's stock item of a variant at ``location_id`` (the default location when None),
    with ``available`` annotated and the variant, product and location loaded; None if never stocked."""
    qs = with_available(StockItem.objects.filter(shop=shop, variant_id=variant_id)).select_related(
        "variant__product", "location"
    )
    if location_id is None:
        return qs.filter(location__is_default=True).first()
    return qs.filter(location_id=location_id).first()


def movements_for_shop(
    *,
    shop: Shop,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
    variant_id: int | None = None,
    location_id: int | None = None,
    sku: str = "",
) -> QuerySet[StockMovement]:
    """The shop's ledger, newest first (``-created_at, -id``), with each movement's variant,
    product, location and actor loaded. ``since`` is inclusive and ``until`` exclusive; ``kinds``,
    ``variant_id``, ``sku`` (exact) and ``location_id`` narrow it. Reads the (shop, created_at) index."""
    qs = StockMovement.objects.filter(shop=shop).select_related("item__variant__product", "item__location", "actor")
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    if variant_id is not None:
        qs = qs.filter(item__variant_id=variant_id)
    sku = (sku or "").strip()
    if sku:
        qs = qs.filter(item__variant__sku=sku)
    if location_id is not None:
        qs = qs.filter(item__location_id=location_id)
    return qs.order_by("-created_at", "-id")


# --- the seller portal --------------------------------------------------------------------------


def inventory_settings_get(*, shop: Shop) -> InventorySettings:
    """The shop's alert settings (unsaved defaults when it never set them)."""
    return InventorySettings.objects.filter(shop=shop).first() or InventorySettings(shop=shop)


def inventory_alerts_recent(*, shop: Shop, limit: int = 20) -> list[InventoryAlert]:
    return list(InventoryAlert.objects.filter(shop=shop).order_by("-created_at", "-id")[:limit])


def stock_count_get_for_shop(*, shop: Shop, count_id: int) -> StockCountImport:
    count = StockCountImport.objects.filter(shop=shop, pk=count_id).select_related("created_by", "location").first()
    if count is None:
        raise Http404("No such stock count.")
    return count


def stock_counts_recent(*, shop: Shop, limit: int = 20) -> list[StockCountImport]:
    return list(
        StockCountImport.objects.filter(shop=shop).select_related("location").order_by("-created_at", "-id")[:limit]
    )


# Kinds a person makes (the checkout's holds and releases are left out of the dashboard feed).
STOCK_CHANGE_KINDS = [k for k in StockMovement.Kind.values if k not in ("reservation", "release")]


def stock_dashboard(*, shop: Shop, recent: int = 8, low: int = 8) -> dict:
    """What the live stock panel shows: totals, the items below their threshold and the latest
    changes (sales among them). Four queries whatever the shop's size."""
    items = with_available(StockItem.objects.filter(shop=shop))
    totals = items.aggregate(on_hand=Coalesce(Sum("on_hand"), 0), reserved=Coalesce(Sum("reserved"), 0))
    totals["available"] = totals["on_hand"] - totals["reserved"]
    low_qs = items.filter(low_stock_threshold__gt=0, available__lt=F("low_stock_threshold"))
    low_items = list(low_qs.select_related("variant__product", "location").order_by("available", "pk")[:low])
    movements = list(
        StockMovement.objects.filter(shop=shop, kind__in=STOCK_CHANGE_KINDS)
        .select_related("item__variant__product", "item__location", "actor")
        .order_by("-created_at", "-id")[:recent]
    )
    return {
        "totals": totals,
        "low_count": low_qs.count(),
        "low_items": low_items,
        "movements": movements,
    }

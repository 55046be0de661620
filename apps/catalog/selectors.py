"""Catalog reads. Seller-side getters take the shop and raise 404 for another tenant's objects."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Exists, F, FloatField, Max, Min, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.functions import Cast, RowNumber
from django.http import Http404

from apps.core.geo import Point, distance_km_expression
from apps.shops.models import Shop
from apps.shops.selectors import shops_public

from .models import Category, ImportJob, Product, ProductImage, Variant


def categories_all() -> QuerySet[Category]:
    return Category.objects.select_related("parent").order_by("position", "name")


def category_get(*, slug: str) -> Category:
    category = Category.objects.select_related("parent").filter(slug=slug).first()
    if category is None:
        raise Http404("No such category.")
    return category


def category_descendant_ids(*, category: Category) -> list[int]:
    """The category and everything below it (the tree is shallow: a few levels)."""
    ids, frontier = [category.pk], [category.pk]
    while frontier:
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids.extend(frontier)
    return ids


def products_public() -> QuerySet[Product]:
    """Products buyers may see: active, in a visible shop (only the pinned shop in dedicated mode)."""
    return Product.objects.filter(status=Product.Status.ACTIVE, shop__in=shops_public())


def with_listing_data(qs: QuerySet[Product]) -> QuerySet[Product]:
    """What a product card needs, in a fixed number of queries: shop, lowest price, first image."""
    return (
        qs.select_related("shop", "category")
        .annotate(min_price=Min("variants__price"))
        .prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
            Prefetch("variants", queryset=Variant.objects.filter(is_active=True).order_by("position", "id")),
        )
    )


def product_get_public(*, shop_slug: str, product_slug: str) -> Product:
    product = (
        with_listing_data(products_public())
        .prefetch_related("tags", "shop__photos", "shop__opening_hours")
        .filter(shop__slug=shop_slug, slug=product_slug)
        .first()
    )
    if product is None:
        raise Http404("No such product.")
    return product


def product_list_for_shop(*, shop: Shop, status: str | None = None, query: str = "") -> QuerySet[Product]:
    qs = with_listing_data(Product.objects.filter(shop=shop))
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(title__icontains=query)
    return qs.order_by("-created_at", "-id")


def product_get_for_shop(*, shop: Shop, product_id: int) -> Product:
    product = (
        Product.objects.select_related("shop", "category")
        .prefetch_related("variants", "images", "tags")
        .filter(shop=shop, pk=product_id)
        .first()
    )
    if product is None:
        raise Http404("No such product.")
    return product


def variant_get_for_shop(*, shop: Shop, variant_id: int) -> Variant:
    variant = Variant.objects.select_related("product", "shop").filter(shop=shop, pk=variant_id).first()
    if variant is None:
        raise Http404("No such variant.")
    return variant


def product_image_get_for_shop(*, shop: Shop, image_id: int) -> ProductImage:
    image = ProductImage.objects.select_related("product").filter(product__shop=shop, pk=image_id).first()
    if image is None:
        raise Http404("No such image.")
    return image


def import_job_get_for_shop(*, shop: Shop, job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(shop=shop, pk=job_id).first()
    if job is None:
        raise Http404("No such import.")
    return job


# --- public listings (home, category, shop pages) ---------------------------------------------

PRODUCT_SORTS = ("newest", "price_asc", "price_desc", "nearest")


def with_card_data(qs: QuerySet[Product], *, point: Point | None = None) -> QuerySet[Product]:
    """``with_listing_data`` plus what a product card shows: ``max_price`` (for "from"), ``has_deal``
    (an available variant below its compare-at price) and, with a buyer location, ``distance_km``.
    Still a fixed number of queries (three)."""
    deals = Variant.objects.filter(product=OuterRef("pk"), is_active=True, compare_at_price__gt=F("price"))
    qs = with_listing_data(qs).annotate(max_price=Max("variants__price"), has_deal=Exists(deals))
    if point is not None:
        # The shop's coordinates are decimals; the distance arithmetic is in floats.
        qs = qs.alias(
            shop_latitude_float=Cast("shop__latitude", FloatField()),
            shop_longitude_float=Cast("shop__longitude", FloatField()),
        ).annotate(
            distance_km=distance_km_expression(point, latitude="shop_latitude_float", longitude="shop_longitude_float")
        )
    return qs


def product_sort_resolve(sort: str | None, *, point: Point | None) -> str:
    """A known sort; "nearest" only when the buyer's location is known; else "newest"."""
    if sort not in PRODUCT_SORTS or (sort == "nearest" and point is None):
        return "newest"
    return sort


def _ordering(sort: str) -> list:
    newest = [F("published_at").desc(nulls_last=True), "-id"]
    if sort == "price_asc":
        return [F("min_price").asc(nulls_last=True), *newest]
    if sort == "price_desc":
        return [F("min_price").desc(nulls_last=True), *newest]
    if sort == "nearest":
        return ["distance_km", *newest]
    return newest


def product_list_public(
    *,
    category_ids: list[int] | None = None,
    shop: Shop | None = None,
    sort: str = "newest",
    point: Point | None = None,
) -> QuerySet[Product]:
    """Published products for a listing, card data included, in the (resolved) sort order."""
    qs = products_public()
    if category_ids is not None:
        qs = qs.filter(category_id__in=category_ids)
    if shop is not None:
        qs = qs.filter(shop=shop)
    return with_card_data(qs, point=point).order_by(*_ordering(product_sort_resolve(sort, point=point)))


def _shop_distance(qs: QuerySet[Shop], point: Point) -> QuerySet[Shop]:
    return qs.alias(
        latitude_float=Cast("latitude", FloatField()), longitude_float=Cast("longitude", FloatField())
    ).annotate(distance_km=distance_km_expression(point, latitude="latitude_float", longitude="longitude_float"))


def products_near(*, point: Point, limit: int = 8, per_shop: int = 2) -> list[Product]:
    """Products from the shops closest to ``point``: the ``per_shop`` newest of each shop, nearest
    shop first, so one big shop next door does not fill the whole shelf. Five queries, whatever the
    number of shops and products."""
    published = Product.objects.filter(shop=OuterRef("pk"), status=Product.Status.ACTIVE)
    shop_ids = list(
        _shop_distance(shops_public().filter(Exists(published)), point)
        .order_by("distance_km", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not shop_ids:
        return []
    newest_per_shop = (
        Product.objects.filter(shop_id__in=shop_ids, status=Product.Status.ACTIVE)
        .annotate(
            rank_in_shop=Window(
                RowNumber(),
                partition_by=[F("shop_id")],
                order_by=[F("published_at").desc(nulls_last=True), F("id").desc()],
            )
        )
        .filter(rank_in_shop__lte=per_shop)
        .values_list("pk", flat=True)
    )
    products = product_list_public(sort="nearest", point=point).filter(pk__in=list(newest_per_shop))
    return list(products[:limit])


def products_latest(*, point: Point | None = None, limit: int = 8) -> list[Product]:
    """The most recently published products (with distance when ``point`` is given)."""
    return list(product_list_public(sort="newest", point=point)[:limit])


def categories_top_level() -> QuerySet[Category]:
    """Root categories with their children prefetched (two queries)."""
    return (
        Category.objects.filter(parent__isnull=True)
        .prefetch_related(Prefetch("children", queryset=Category.objects.order_by("position", "name")))
        .order_by("position", "name")
    )


def category_children(*, category: Category) -> QuerySet[Category]:
    return Category.objects.filter(parent=category).order_by("position", "name")


def category_ancestors(*, category: Category) -> list[Category]:
    """The categories above ``category``, root first (for breadcrumbs). One query per level above
    the parent; ``category_get`` already loads the parent."""
    chain: list[Category] = []
    node, seen = category.parent, {category.pk}
    while node is not None and node.pk not in seen:  # ``seen`` guards against a cycle in bad data
        chain.append(node)
        seen.add(node.pk)
        node = Category.objects.filter(pk=node.parent_id).first() if node.parent_id else None
    return list(reversed(chain))


# --- API (public reads and shop integrations) -------------------------------------------------


def product_list_public_filtered(
    *,
    shop_slug: str = "",
    category: Category | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    currency: str = "",
    query: str = "",
) -> QuerySet[Product]:
    """Published products for the API list. A price filter keeps products with an available
    variant priced inside the range (in the shop's currency); ``category`` includes its subtree."""
    qs = products_public()
    if shop_slug:
        qs = qs.filter(shop__slug=shop_slug)
    if category is not None:
        qs = qs.filter(category_id__in=category_descendant_ids(category=category))
    if currency:
        qs = qs.filter(shop__currency=currency)
    if price_min is not None or price_max is not None:
        priced = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        if price_min is not None:
            priced = priced.filter(price__gte=price_min)
        if price_max is not None:
            priced = priced.filter(price__lte=price_max)
        qs = qs.filter(Exists(priced))
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(description__icontains=query))
    return with_listing_data(qs).prefetch_related("tags")


def product_get_public_by_id(*, product_id: int) -> Product:
    product = with_listing_data(products_public()).prefetch_related("tags").filter(pk=product_id).first()
    if product is None:
        raise Http404("No such product.")
    return product


def product_list_for_integration(*, shop: Shop, status: str = "", query: str = "") -> QuerySet[Product]:
    """Every product of the shop (drafts and archived too) with all its variants, for the shop's API."""
    qs = (
        Product.objects.filter(shop=shop)
        .select_related("shop", "category")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.order_by("position", "id")),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
            "tags",
        )
    )
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(title__icontains=query)
    return qs.order_by("-created_at", "-id")

"""Catalog reads. Seller-side getters take the shop and raise 404 for another tenant's objects."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, F, FloatField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, Window
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


def _variant_price(order: str) -> Subquery:
    """The lowest (``order="price"``) or highest (``"-price"``) price among the product's variants,
    None without variants. An index-only look-up on ``(product, price)`` per row; an aggregate
    (``Min("variants__price")``) would join every variant and sort and group whole rows."""
    return Subquery(Variant.objects.filter(product=OuterRef("pk")).order_by(order).values("price")[:1])


def with_listing_data(qs: QuerySet[Product], *, variant_fields: tuple[str, ...] = ()) -> QuerySet[Product]:
    """What a product card needs, in a fixed number of queries: shop, lowest price, first image.
    ``variant_fields``: load only these fields of the (available) variants; all when empty."""
    variants = Variant.objects.filter(is_active=True).order_by("position", "id")
    if variant_fields:
        variants = variants.only(*variant_fields)
    return (
        qs.select_related("shop", "category")
        .annotate(min_price=_variant_price("price"))
        .prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
            Prefetch("variants", queryset=variants),
        )
    )


def product_get_public(*, shop_slug: str, product_slug: str) -> Product:
    # The category's parent comes along for the breadcrumbs (``category_ancestors``: no query for
    # a two-level tree); the page shows the shop's opening hours but not its photos.
    product = (
        with_listing_data(products_public())
        .select_related("category__parent")
        .prefetch_related("tags", "shop__opening_hours")
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
    """What a product card shows, in two queries (the cards, then their images): the shop,
    ``card_images`` (a list, the first is shown), ``min_price`` and ``max_price`` (the lowest price,
    and "from" when they differ), ``has_deal`` (an available variant below its compare-at price)
    and ``distance_km`` (None without a buyer location).

    The prices and ``has_deal`` are a subquery per row: cheap for a page of products, wasted on
    sorting or counting a whole listing (see ``ProductListing``).
    Cards show neither the description nor the shop's story (long Markdown): left in the database.
    """
    deals = Variant.objects.filter(product=OuterRef("pk"), is_active=True, compare_at_price__gt=F("price"))
    qs = (
        qs.select_related("shop")
        .defer("description", "shop__story")
        .annotate(min_price=_variant_price("price"), max_price=_variant_price("-price"), has_deal=Exists(deals))
        # A list attribute (the card shows the first): no related manager and queryset per card.
        .prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"), to_attr="card_images")
        )
    )
    if point is None:
        # Always there, None: a template looking up a missing attribute pays for a ``dir()`` of
        # the model (~30 µs a card), and the card asks for the distance.
        return qs.annotate(distance_km=Value(None, output_field=FloatField()))
    return _with_distance(qs, point)


def _with_distance(qs: QuerySet[Product], point: Point) -> QuerySet[Product]:
    # The shop's coordinates are decimals; the distance arithmetic is in floats.
    return qs.alias(
        shop_latitude_float=Cast("shop__latitude", FloatField()),
        shop_longitude_float=Cast("shop__longitude", FloatField()),
    ).annotate(
        distance_km=distance_km_expression(point, latitude="shop_latitude_float", longitude="shop_longitude_float")
    )


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


class ProductListing:
    """A public listing for ``Paginator``: a slice (a page) costs two queries, the cards
    (``with_card_data``) of just that page, then their images; ``count()`` one more.

    The page's ids come from a subquery that sorts without any card data: "newest" reads the
    partial indexes of migration ``catalog.0003`` in order and stops after the page, the price
    sorts compute only the lowest price per product (an index-only look-up on ``(product,
    price)``), "nearest" only the distance. The cards are sorted again, by the same keys ending
    with the id, so in the same order. The count is an index-only scan of the category's or shop's
    range. (Sorting the cards themselves made PostgreSQL price every product of the listing.)
    """

    def __init__(self, products: QuerySet[Product], *, sort: str, point: Point | None) -> None:
        self._products = products
        self._point = point
        sort = product_sort_resolve(sort, point=point)
        ids = products
        if sort in ("price_asc", "price_desc"):
            ids = ids.alias(min_price=_variant_price("price"))  # the cards' ``min_price``
        elif sort == "nearest":
            ids = _with_distance(ids, point)
        self._ordering = _ordering(sort)
        self._ids = ids.order_by(*self._ordering).values_list("pk", flat=True)

    def count(self) -> int:
        return self._products.order_by().count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[Product]:
        if not isinstance(key, slice):
            raise TypeError("A product listing is read a page (a slice) at a time.")
        cards = with_card_data(Product.objects.filter(pk__in=self._ids[key]), point=self._point)
        return list(cards.order_by(*self._ordering))


def product_list_public(
    *,
    category_ids: list[int] | None = None,
    shop: Shop | None = None,
    sort: str = "newest",
    point: Point | None = None,
    exclude_id: int | None = None,
) -> ProductListing:
    """Published products for a listing (but ``exclude_id``), in the (resolved) sort order; slice
    it, or page it with ``Paginator``, to get the cards of one page."""
    qs = products_public()
    if category_ids is not None:
        qs = qs.filter(category_id__in=category_ids)
    if shop is not None:
        qs = qs.filter(shop=shop)
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return ProductListing(qs, sort=sort, point=point)


def _shop_distance(qs: QuerySet[Shop], point: Point) -> QuerySet[Shop]:
    return qs.alias(
        latitude_float=Cast("latitude", FloatField()), longitude_float=Cast("longitude", FloatField())
    ).annotate(distance_km=distance_km_expression(point, latitude="latitude_float", longitude="longitude_float"))


def products_near(*, point: Point, limit: int = 8, per_shop: int = 2) -> list[Product]:
    """Products from the shops closest to ``point``: the ``per_shop`` newest of each shop, nearest
    shop first, so one big shop next door does not fill the whole shelf. Four queries, whatever the
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
    # At most limit * per_shop cards: ordering them with their card data is cheap.
    products = with_card_data(products_public().filter(pk__in=list(newest_per_shop)), point=point)
    return list(products.order_by(*_ordering("nearest"))[:limit])


def products_latest(*, point: Point | None = None, limit: int = 8) -> list[Product]:
    """The most recently published products (with distance when ``point`` is given)."""
    return product_list_public(sort="newest", point=point)[:limit]


def categories_top_level() -> QuerySet[Category]:
    """Root categories with their children prefetched (two queries)."""
    return (
        Category.objects.filter(parent__isnull=True)
        .prefetch_related(Prefetch("children", queryset=Category.objects.order_by("position", "name")))
        .order_by("position", "name")
    )


def category_children(*, category: Category) -> QuerySet[Category]:
    return Category.objects.filter(parent=category).order_by("position", "name")


@dataclass(frozen=True)
class CategoryBranch:
    """A category with what its page shows around it."""

    category: Category
    ancestors: list[Category]  # root first, for breadcrumbs
    children: list[Category]  # in the tree's order (position, name)
    subtree_ids: list[int]  # the category and everything below it


def category_branch(*, slug: str) -> CategoryBranch:
    """The category ``slug`` (404 if none), its ancestors, its children and its whole subtree, from
    one query over the category table (a few dozen rows) instead of one per level and per part."""
    categories = list(Category.objects.order_by("position", "name"))
    category = next((c for c in categories if c.slug == slug), None)
    if category is None:
        raise Http404("No such category.")
    by_id = {c.pk: c for c in categories}
    children_of: dict[int, list[Category]] = {}
    for c in categories:
        if c.parent_id is not None:
            children_of.setdefault(c.parent_id, []).append(c)
            if c.parent_id in by_id:
                c.parent = by_id[c.parent_id]  # no query when a template follows ``parent``
    ancestors, seen = [], {category.pk}
    node = by_id.get(category.parent_id)
    while node is not None and node.pk not in seen:  # ``seen`` guards against a cycle in bad data
        ancestors.append(node)
        seen.add(node.pk)
        node = by_id.get(node.parent_id)
    subtree_ids, frontier, seen = [category.pk], [category], {category.pk}
    while frontier:
        frontier = [c for parent in frontier for c in children_of.get(parent.pk, []) if c.pk not in seen]
        seen.update(c.pk for c in frontier)
        subtree_ids.extend(c.pk for c in frontier)
    return CategoryBranch(
        category=category,
        ancestors=list(reversed(ancestors)),
        children=children_of.get(category.pk, []),
        subtree_ids=subtree_ids,
    )


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

"""Catalog reads. Seller-side getters take the shop and raise 404 for another tenant's objects."""

from __future__ import annotations

from django.db.models import Min, Prefetch, QuerySet
from django.http import Http404

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

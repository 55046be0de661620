"""Catalog writes: products and their variants, tags, status changes. One transaction each."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import CharField, RestrictedError, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.shops.models import Shop

from .errors import CatalogError
from .models import Category, Product, Tag, Variant


@dataclass
class VariantData:
    sku: str
    price: Decimal
    options: dict[str, str] = field(default_factory=dict)
    compare_at_price: Decimal | None = None
    weight_grams: int = 0
    is_active: bool = True


def _unique_slug(*, shop: Shop, title: str, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:170] or "product"
    slug, n = base, 2
    qs = Product.objects.filter(shop=shop)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    while qs.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def _tags_from_names(names: list[str]) -> list[Tag]:
    tags = []
    for name in {n.strip().lower() for n in names if n and n.strip()}:
        tag, _created = Tag.objects.get_or_create(slug=slugify(name)[:40] or name[:40], defaults={"name": name[:40]})
        tags.append(tag)
    return tags


def _validate_variant(*, shop: Shop, data: VariantData) -> None:
    if not data.sku or not data.sku.strip():
        raise CatalogError(_("Every variant needs a SKU."))
    if data.price is None or Decimal(data.price) < 0:
        raise CatalogError(_("Price must be zero or more (SKU %(sku)s).") % {"sku": data.sku})
    if data.compare_at_price is not None and Decimal(data.compare_at_price) <= Decimal(data.price):
        raise CatalogError(
            _("The compare-at price must be above the price for a deal (SKU %(sku)s).") % {"sku": data.sku}
        )
    if data.weight_grams is None or int(data.weight_grams) < 0:
        raise CatalogError(_("Weight cannot be negative (SKU %(sku)s).") % {"sku": data.sku})


def _last_variant_error() -> CatalogError:
    return CatalogError(_("A product needs at least one variant: archive the product instead."))


def product_lock(product: Product) -> None:
    """Serialise writes to one product's variants and images (e.g. two "remove" clicks at once)."""
    Product.objects.select_for_update().filter(pk=product.pk).values_list("pk", flat=True).first()


def _save_variant(variant: Variant) -> Variant:
    variant.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            variant.save()
    except IntegrityError as exc:
        raise CatalogError(
            _("SKU %(sku)s is already used by another product in your shop.") % {"sku": variant.sku}
        ) from exc
    return variant


@transaction.atomic
def product_create(
    *,
    shop: Shop,
    title: str,
    variants: list[VariantData],
    description: str = "",
    category: Category | None = None,
    status: str = Product.Status.DRAFT,
    tags: list[str] | None = None,
    slug: str = "",
) -> Product:
    """Create a product with at least one variant; all of it or nothing.

    ``slug`` pins the product's web address (a CSV import's ``product_ref``); by default one is made
    from the title. A pinned slug another product of the shop already has raises CatalogError.
    """
    if not variants:
        raise CatalogError(_("A product needs at least one variant with a SKU and a price."))
    skus = [v.sku.strip() for v in variants]
    if len(set(skus)) != len(skus):
        raise CatalogError(_("Each variant needs its own SKU."))
    for data in variants:
        _validate_variant(shop=shop, data=data)
    if slug and Product.objects.filter(shop=shop, slug=slug).exists():
        raise CatalogError(_("Another product in your shop already uses the address “%(slug)s”.") % {"slug": slug})
    product = Product(
        shop=shop,
        title=title.strip(),
        slug=slug or _unique_slug(shop=shop, title=title),
        description=description,
        category=category,
        status=status,
        published_at=timezone.now() if status == Product.Status.ACTIVE else None,
    )
    product.full_clean()
    product.save()
    for position, data in enumerate(variants):
        _save_variant(
            Variant(
                product=product,
                shop=shop,
                sku=data.sku.strip(),
                options=data.options,
                price=data.price,
                compare_at_price=data.compare_at_price,
                weight_grams=data.weight_grams,
                is_active=data.is_active,
                position=position,
            )
        )
    if tags:
        product.tags.set(_tags_from_names(tags))
    return product


@transaction.atomic
def product_update(*, product: Product, tags: list[str] | None = None, **fields: Any) -> Product:
    """Change a product's details; publishing sets ``published_at`` the first time."""
    allowed = {"title", "description", "category", "status"}
    unknown = set(fields) - allowed
    if unknown:
        raise CatalogError(_("Unknown product fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    for name, value in fields.items():
        setattr(product, name, value)
    if product.status == Product.Status.ACTIVE and product.published_at is None:
        if not product.variants.filter(is_active=True).exists():
            raise CatalogError(_("Add an available variant before publishing."))
        product.published_at = timezone.now()
    product.full_clean()
    product.save()
    if tags is not None:
        product.tags.set(_tags_from_names(tags))
    return product


@transaction.atomic
def product_archive(*, product: Product) -> Product:
    """Hide a product from buyers; it stays in order history."""
    product.status = Product.Status.ARCHIVED
    product.save(update_fields=["status", "updated_at"])
    return product


@transaction.atomic
def variant_upsert(*, product: Product, data: VariantData) -> Variant:
    """Create the variant with this SKU, or update it when the product already has it."""
    _validate_variant(shop=product.shop, data=data)
    variant = Variant.objects.filter(product=product, sku=data.sku.strip()).first()
    if variant is None:
        variant = Variant(product=product, shop=product.shop, sku=data.sku.strip(), position=product.variants.count())
    variant.options = data.options
    variant.price = data.price
    variant.compare_at_price = data.compare_at_price
    variant.weight_grams = data.weight_grams
    variant.is_active = data.is_active
    return _save_variant(variant)


@transaction.atomic
def variant_remove(*, variant: Variant) -> None:
    """Delete one variant; the last one of a product stays (archive the product instead)."""
    product_lock(variant.product)
    if variant.product.variants.count() <= 1:
        raise _last_variant_error()
    _variants_delete(Variant.objects.filter(pk=variant.pk))


def _variants_delete(variants) -> None:
    """Delete variants nothing else keeps records of. A variant with history elsewhere (stock and its
    ledger, orders) is refused by the database's RESTRICT: say what to do instead."""
    try:
        variants.delete()
    except RestrictedError as exc:
        skus = sorted({getattr(obj, "variant", None) and obj.variant.sku for obj in exc.restricted_objects} - {None})
        raise CatalogError(
            _(
                "The variant %(skus)s has stock or sales on record, so it cannot be removed: "
                "switch it off (not for sale) instead."
            )
            % {"skus": ", ".join(skus) or _("you removed")}
        ) from exc


@dataclass
class VariantEdit:
    """One row of a product's variant list as the seller submitted it: an existing variant
    (``variant_id``) with its new values, or a new variant (``variant_id=None``)."""

    data: VariantData
    variant_id: int | None = None


@transaction.atomic
def product_variants_sync(*, product: Product, variants: list[VariantEdit]) -> list[Variant]:
    """Make the product's variants exactly ``variants``, in that order: update the ones with an id,
    create the ones without, remove the rest. All of it or nothing; never leaves zero variants."""
    product_lock(product)
    if not variants:
        raise _last_variant_error()
    skus = [row.data.sku.strip() for row in variants]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise CatalogError(
            _("Each variant needs its own SKU (%(skus)s is repeated).") % {"skus": ", ".join(duplicates)}
        )
    for row in variants:
        _validate_variant(shop=product.shop, data=row.data)
    existing = {v.pk: v for v in Variant.objects.filter(product=product)}
    ids = [row.variant_id for row in variants if row.variant_id is not None]
    kept_ids = set(ids)
    if len(kept_ids) != len(ids) or kept_ids - set(existing):
        raise CatalogError(_("A variant on this page was removed meanwhile. Reload the page and try again."))
    _variants_delete(Variant.objects.filter(pk__in=set(existing) - kept_ids))
    # SKUs are unique per shop and checked row by row, so two variants swapping SKUs would collide
    # with each other: park the renamed ones under a placeholder first.
    renamed = [
        row.variant_id for row in variants if row.variant_id and existing[row.variant_id].sku != row.data.sku.strip()
    ]
    if renamed:
        Variant.objects.filter(pk__in=renamed).update(sku=Concat(Value("~renaming~"), Cast("pk", CharField())))
    saved = []
    for position, row in enumerate(variants):
        data = row.data
        variant = existing[row.variant_id] if row.variant_id else Variant(product=product, shop=product.shop)
        variant.sku = data.sku.strip()
        variant.options = data.options
        variant.price = data.price
        variant.compare_at_price = data.compare_at_price
        variant.weight_grams = data.weight_grams
        variant.is_active = data.is_active
        variant.position = position
        saved.append(_save_variant(variant))
    getattr(product, "_prefetched_objects_cache", {}).pop("variants", None)
    return saved


@transaction.atomic
def product_update_with_variants(
    *, product: Product, variants: list[VariantEdit], tags: list[str] | None = None, **fields: Any
) -> Product:
    """The seller's edit form in one transaction: variants first (so publishing sees them), then
    the product's own fields and tags. Any refusal leaves the product as it was."""
    product_variants_sync(product=product, variants=variants)
    return product_update(product=product, tags=tags, **fields)


@transaction.atomic
def product_patch(
    *, product: Product, variants: list[VariantData] | None = None, tags: list[str] | None = None, **fields: Any
) -> Product:
    """An integration's partial update: upsert ``variants`` by SKU (the product's other variants stay
    as they are), then change the product's fields and tags. All of it or nothing; variants come
    first so that publishing in the same request sees them."""
    product_lock(product)
    for data in variants or []:
        variant_upsert(product=product, data=data)
    getattr(product, "_prefetched_objects_cache", {}).pop("variants", None)
    return product_update(product=product, tags=tags, **fields)

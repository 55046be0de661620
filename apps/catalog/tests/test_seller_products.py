"""Seller portal products: list, create with variants, edit variants, archive; permissions and tenancy."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.catalog.errors import CatalogError
from apps.catalog.models import Product, ProductImage, Variant
from apps.catalog.services import VariantData, VariantEdit, product_variants_sync, variant_remove
from apps.catalog.views_seller import options_format, options_parse
from apps.shops.tests.factories import ShopFactory

from .factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


def url(name, shop, *args):
    return reverse(f"catalog_seller:{name}", args=[shop.slug, *args])


def variant_rows(rows, *, initial=0, extra=0):
    """POST data for the variants formset: ``rows`` are dicts of field values."""
    data = {
        "variants-TOTAL_FORMS": str(len(rows) + extra),
        "variants-INITIAL_FORMS": str(initial),
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        defaults = {"id": "", "sku": "", "options": "", "price": "", "compare_at_price": "", "weight_grams": "0"}
        defaults["is_active"] = "on"
        for key, value in {**defaults, **row}.items():
            if value is None or value is False:
                continue
            data[f"variants-{i}-{key}"] = value
    for i in range(len(rows), len(rows) + extra):
        data[f"variants-{i}-weight_grams"] = "0"
        data[f"variants-{i}-is_active"] = "on"
    return data


def product_post(*, title="Indigo tote", status="draft", category="", tags="", description="", rows=(), **kw):
    data = {"title": title, "description": description, "category": category, "tags": tags, "status": status}
    data.update(variant_rows(list(rows), **kw))
    return data


def edit_post(product, *, rows, extra=0, **fields):
    """The edit form as the browser sends it, starting from the product's current values."""
    data = {
        "title": product.title,
        "description": product.description,
        "category": product.category_id or "",
        "tags": ", ".join(t.name for t in product.tags.all()),
        "status": product.status,
        **fields,
    }
    data.update(variant_rows(rows, initial=product.variants.count(), extra=extra))
    return data


def existing_rows(product):
    return [
        {
            "id": str(v.pk),
            "sku": v.sku,
            "options": options_format(v.options),
            "price": str(v.price),
            "compare_at_price": "" if v.compare_at_price is None else str(v.compare_at_price),
            "weight_grams": str(v.weight_grams),
            "is_active": "on" if v.is_active else None,
        }
        for v in product.variants.order_by("position", "id")
    ]


# --- options text ------------------------------------------------------------------------------


def test_options_text_becomes_a_dict_and_back():
    """ "size=M, colour=Indigo" is parsed into a dict and written back the same way."""
    assert options_parse(" size = M ,colour=Indigo, ") == {"size": "M", "colour": "Indigo"}
    assert options_parse("") == {}
    assert options_format({"size": "M", "colour": "Indigo"}) == "size=M, colour=Indigo"


@pytest.mark.parametrize("text", ["size M", "size=", "=M", "size=M=L", "size=M, Size=L"])
def test_bad_options_text_is_refused_with_a_message(text):
    with pytest.raises(ValidationError) as exc:
        options_parse(text)
    assert exc.value.messages[0]


# --- list --------------------------------------------------------------------------------------


def test_list_shows_products_with_links_and_new_button(client, seller):
    """An owner sees their products linked to the edit page, and a "New product" button."""
    membership = seller(client, role="owner")
    mine = VariantFactory(product__shop=membership.shop, product__title="Indigo tote").product
    VariantFactory(product__title="Somebody else's tote")
    response = client.get(url("list", membership.shop))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Indigo tote" in body
    assert "Somebody else" not in body
    assert url("edit", membership.shop, mine.pk) in body
    assert url("create", membership.shop) in body


def test_list_filters_by_search_and_status(client, seller):
    membership = seller(client, role="owner")
    shop = membership.shop
    ProductFactory(shop=shop, title="Rattan basket", status=Product.Status.ACTIVE)
    ProductFactory(shop=shop, title="Rattan tray", status=Product.Status.DRAFT)
    ProductFactory(shop=shop, title="Batik scarf", status=Product.Status.ACTIVE)
    products = client.get(url("list", shop), {"q": "rattan"}).context["products"]
    assert {p.title for p in products} == {"Rattan basket", "Rattan tray"}
    products = client.get(url("list", shop), {"q": "rattan", "status": "draft"}).context["products"]
    assert [p.title for p in products] == ["Rattan tray"]
    products = client.get(url("list", shop), {"status": "nonsense"}).context["products"]
    assert len(products) == 3


def test_list_query_count_does_not_grow_with_products(client, seller, django_assert_max_num_queries):
    """Thirty products with variants and photos render in a fixed handful of queries."""
    membership = seller(client, role="owner")
    for _ in range(30):
        variant = VariantFactory(product__shop=membership.shop)
        VariantFactory(product=variant.product)
        ProductImage.objects.create(
            product=variant.product,
            image="products/x.jpg",
            thumbnail="products/thumbs/x.webp",
            thumbnail_status="ready",
        )
    with django_assert_max_num_queries(8):
        response = client.get(url("list", membership.shop))
    assert response.status_code == 200
    assert len(response.context["products"]) == 30


def test_warehouse_staff_sees_the_list_but_cannot_create(client, seller):
    """Warehouse staff hold CATALOG_VIEW but not CATALOG_EDIT: list yes, create 403, no button."""
    membership = seller(client, role="warehouse_staff")
    response = client.get(url("list", membership.shop))
    assert response.status_code == 200
    assert url("create", membership.shop) not in response.content.decode()
    assert client.get(url("create", membership.shop)).status_code == 403
    response = client.post(url("create", membership.shop), product_post(rows=[{"sku": "A", "price": "5"}]))
    assert response.status_code == 403
    assert not Product.objects.exists()


def test_warehouse_staff_cannot_edit_or_archive(client, seller):
    membership = seller(client, role="warehouse_staff")
    product = VariantFactory(product__shop=membership.shop).product
    assert client.get(url("edit", membership.shop, product.pk)).status_code == 403
    assert client.post(url("archive", membership.shop, product.pk)).status_code == 403
    product.refresh_from_db()
    assert product.status == Product.Status.ACTIVE


def test_anonymous_is_sent_to_sign_in(client):
    shop = ShopFactory()
    response = client.get(url("create", shop))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


# --- create ------------------------------------------------------------------------------------


def test_create_product_with_variants(client, seller):
    """Title, Markdown description, category, tags and two variants are saved together."""
    membership = seller(client, role="owner")
    category = CategoryFactory()
    response = client.post(
        url("create", membership.shop),
        product_post(
            title="Indigo tote",
            description="Dyed **by hand**.",
            category=str(category.pk),
            tags="Handmade, indigo, handmade",
            status="active",
            rows=[
                {"sku": "TOTE-M", "options": "size=M, colour=Indigo", "price": "35.00", "compare_at_price": "42.00"},
                {"sku": "TOTE-L", "options": "size=L", "price": "39.50", "weight_grams": "450", "is_active": None},
            ],
            extra=1,
        ),
    )
    product = Product.objects.get(shop=membership.shop)
    assert response.status_code == 302
    assert response["Location"] == url("edit", membership.shop, product.pk)
    assert product.title == "Indigo tote"
    assert product.description == "Dyed **by hand**."
    assert product.category == category
    assert product.status == Product.Status.ACTIVE
    assert sorted(t.name for t in product.tags.all()) == ["handmade", "indigo"]
    medium, large = product.variants.order_by("position")
    assert (medium.sku, medium.options, medium.price, medium.compare_at_price, medium.is_active) == (
        "TOTE-M",
        {"size": "M", "colour": "Indigo"},
        Decimal("35.00"),
        Decimal("42.00"),
        True,
    )
    assert (large.sku, large.options, large.price, large.weight_grams, large.is_active) == (
        "TOTE-L",
        {"size": "L"},
        Decimal("39.50"),
        450,
        False,
    )


def test_create_page_shows_the_shop_currency(client, seller):
    membership = seller(client, role="owner")
    membership.shop.currency = "MYR"
    membership.shop.save()
    body = client.get(url("create", membership.shop)).content.decode()
    assert "Price (MYR)" in body


def test_create_needs_a_variant(client, seller):
    membership = seller(client, role="owner")
    response = client.post(url("create", membership.shop), product_post(rows=[], extra=3))
    assert response.status_code == 200
    assert "Add at least one variant" in response.content.decode()
    assert not Product.objects.exists()


def test_duplicate_sku_in_the_shop_is_a_clear_error_and_nothing_is_saved(client, seller):
    """A SKU another product of the shop uses: form error naming it, and no half-made product."""
    membership = seller(client, role="owner")
    VariantFactory(product__shop=membership.shop, sku="TOTE-M")
    response = client.post(
        url("create", membership.shop),
        product_post(title="Second tote", rows=[{"sku": "TOTE-S", "price": "30"}, {"sku": "TOTE-M", "price": "35"}]),
    )
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert "SKU TOTE-M is already used by another product in your shop." in errors
    assert 'role="alert"' in response.content.decode()
    assert not Product.objects.filter(title="Second tote").exists()
    assert not Variant.objects.filter(sku="TOTE-S").exists()


def test_duplicate_sku_within_the_form_is_a_field_error(client, seller):
    membership = seller(client, role="owner")
    response = client.post(
        url("create", membership.shop), product_post(rows=[{"sku": "A", "price": "1"}, {"sku": "A", "price": "2"}])
    )
    assert response.status_code == 200
    assert "SKU A is used twice on this page" in response.content.decode()
    assert not Product.objects.exists()


def test_same_sku_in_another_shop_is_allowed(client, seller):
    """SKUs are unique per shop, not across the marketplace."""
    membership = seller(client, role="owner")
    VariantFactory(sku="TOTE-M")  # another shop
    response = client.post(url("create", membership.shop), product_post(rows=[{"sku": "TOTE-M", "price": "35"}]))
    assert response.status_code == 302
    assert Variant.objects.filter(sku="TOTE-M").count() == 2


def test_bad_option_syntax_is_a_form_error(client, seller):
    membership = seller(client, role="owner")
    response = client.post(
        url("create", membership.shop), product_post(rows=[{"sku": "A", "price": "5", "options": "size M"}])
    )
    assert response.status_code == 200
    formset = response.context["formset"]
    assert "name=value" in formset.forms[0].errors["options"][0]
    assert not Product.objects.exists()


def test_compare_at_price_not_above_price_is_an_error(client, seller):
    membership = seller(client, role="owner")
    response = client.post(
        url("create", membership.shop),
        product_post(rows=[{"sku": "A", "price": "40.00", "compare_at_price": "35.00"}]),
    )
    assert response.status_code == 200
    assert "must be above the price" in response.context["formset"].forms[0].errors["compare_at_price"][0]
    assert not Product.objects.exists()


def test_prices_follow_the_currency_minor_unit(client, seller):
    """JPY has no minor unit: 1500 is fine, 1500.50 is refused."""
    membership = seller(client, role="owner")
    membership.shop.currency = "JPY"
    membership.shop.save()
    response = client.post(url("create", membership.shop), product_post(rows=[{"sku": "A", "price": "1500.50"}]))
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["price"]
    response = client.post(url("create", membership.shop), product_post(rows=[{"sku": "A", "price": "1500"}]))
    assert response.status_code == 302
    assert Variant.objects.get().price == Decimal("1500")


# --- edit --------------------------------------------------------------------------------------


def test_edit_page_shows_the_product_and_its_variants(client, seller):
    membership = seller(client, role="owner")
    variant = VariantFactory(product__shop=membership.shop, sku="TOTE-M", options={"size": "M", "colour": "Indigo"})
    response = client.get(url("edit", membership.shop, variant.product.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert "TOTE-M" in body
    assert "size=M, colour=Indigo" in body


def test_edit_changes_fields_updates_adds_and_removes_variants(client, seller):
    """One save: title and tags change, one variant is updated, one removed, one added."""
    membership = seller(client, role="owner")
    product = VariantFactory(product__shop=membership.shop, sku="A", price=Decimal("10")).product
    VariantFactory(product=product, sku="B")
    rows = existing_rows(product)
    rows[0].update(price="12.00", options="size=S")
    rows[1]["DELETE"] = "on"
    rows.append({"sku": "C", "price": "14.00", "options": "size=L"})
    data = edit_post(product, rows=rows, title="Renamed tote", tags="gift")
    data["variants-INITIAL_FORMS"] = "2"
    response = client.post(url("edit", membership.shop, product.pk), data)
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.title == "Renamed tote"
    assert [t.name for t in product.tags.all()] == ["gift"]
    variants = list(product.variants.order_by("position"))
    assert [(v.sku, v.price, v.options) for v in variants] == [
        ("A", Decimal("12.00"), {"size": "S"}),
        ("C", Decimal("14.00"), {"size": "L"}),
    ]


def test_blank_extra_rows_are_ignored_on_edit(client, seller):
    membership = seller(client, role="owner")
    product = VariantFactory(product__shop=membership.shop, sku="A").product
    response = client.post(
        url("edit", membership.shop, product.pk), edit_post(product, rows=existing_rows(product), extra=2)
    )
    assert response.status_code == 302
    assert product.variants.count() == 1


def test_removing_the_last_variant_is_refused(client, seller):
    membership = seller(client, role="owner")
    product = VariantFactory(product__shop=membership.shop, sku="A").product
    rows = existing_rows(product)
    rows[0]["DELETE"] = "on"
    response = client.post(url("edit", membership.shop, product.pk), edit_post(product, rows=rows))
    assert response.status_code == 200
    assert "A product needs at least one variant" in response.content.decode()
    assert product.variants.count() == 1


def test_skus_can_be_swapped_between_variants(client, seller):
    membership = seller(client, role="owner")
    product = VariantFactory(product__shop=membership.shop, sku="A").product
    VariantFactory(product=product, sku="B")
    rows = existing_rows(product)
    rows[0]["sku"], rows[1]["sku"] = "B", "A"
    response = client.post(url("edit", membership.shop, product.pk), edit_post(product, rows=rows))
    assert response.status_code == 302
    assert list(product.variants.order_by("position").values_list("sku", flat=True)) == ["B", "A"]


def test_edit_sku_taken_by_another_product_is_a_form_error_and_nothing_changes(client, seller):
    membership = seller(client, role="owner")
    VariantFactory(product__shop=membership.shop, sku="TAKEN")
    product = VariantFactory(product__shop=membership.shop, sku="A").product
    rows = existing_rows(product)
    rows.append({"sku": "TAKEN", "price": "5"})
    response = client.post(url("edit", membership.shop, product.pk), edit_post(product, rows=rows, title="New title"))
    assert response.status_code == 200
    assert "SKU TAKEN is already used" in response.content.decode()
    product.refresh_from_db()
    assert product.title != "New title"
    assert list(product.variants.values_list("sku", flat=True)) == ["A"]


def test_publishing_without_an_available_variant_is_a_form_error(client, seller):
    """A CatalogError raised by the service is shown on the form (no 500)."""
    membership = seller(client, role="owner")
    product = VariantFactory(
        product__shop=membership.shop, product__status=Product.Status.DRAFT, product__published_at=None, is_active=False
    ).product
    response = client.post(
        url("edit", membership.shop, product.pk), edit_post(product, rows=existing_rows(product), status="active")
    )
    assert response.status_code == 200
    assert "Add an available variant before publishing." in response.context["form"].non_field_errors()
    product.refresh_from_db()
    assert product.status == Product.Status.DRAFT


def test_a_variant_id_from_another_product_is_refused(client, seller):
    """A tampered hidden id cannot move another product's variant into this one."""
    membership = seller(client, role="owner")
    other = VariantFactory(product__shop=membership.shop, sku="OTHER")
    product = VariantFactory(product__shop=membership.shop, sku="A").product
    rows = existing_rows(product)
    rows[0]["id"] = str(other.pk)
    response = client.post(url("edit", membership.shop, product.pk), edit_post(product, rows=rows))
    assert response.status_code == 200
    other.refresh_from_db()
    assert other.product_id != product.pk


# --- archive -----------------------------------------------------------------------------------


def test_archive_hides_the_product(client, seller):
    membership = seller(client, role="owner")
    product = VariantFactory(product__shop=membership.shop).product
    assert client.get(url("archive", membership.shop, product.pk)).status_code == 405
    response = client.post(url("archive", membership.shop, product.pk))
    assert response.status_code == 302
    assert response["Location"] == url("list", membership.shop)
    product.refresh_from_db()
    assert product.status == Product.Status.ARCHIVED


# --- tenancy -----------------------------------------------------------------------------------


PRODUCT_ROUTES = [
    ("get", "edit", False),
    ("post", "edit", False),
    ("post", "archive", False),
    ("post", "image-upload", False),
    ("post", "image-update", True),
    ("post", "image-move", True),
    ("post", "image-delete", True),
]


@pytest.mark.parametrize(("method", "name", "with_image"), PRODUCT_ROUTES)
def test_another_shops_product_is_404_on_every_route(client, seller, method, name, with_image):
    """A seller can reach nothing of another shop by guessing ids; nothing changes there."""
    membership = seller(client, role="owner")
    theirs = VariantFactory().product
    image = ProductImage.objects.create(product=theirs, image="products/theirs.jpg", alt_text="theirs")
    args = [theirs.pk, image.pk] if with_image else [theirs.pk]
    response = getattr(client, method)(url(name, membership.shop, *args), {"direction": "up", "alt_text": "mine"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    image.refresh_from_db()
    assert theirs.status == Product.Status.ACTIVE
    assert image.alt_text == "theirs"


@pytest.mark.parametrize("name", ["image-update", "image-move", "image-delete"])
def test_an_image_of_another_product_is_404(client, seller, name):
    membership = seller(client, role="owner")
    product = VariantFactory(product__shop=membership.shop).product
    other = VariantFactory(product__shop=membership.shop).product
    image = ProductImage.objects.create(product=other, image="products/other.jpg")
    response = client.post(url(name, membership.shop, product.pk, image.pk), {"direction": "up"})
    assert response.status_code == 404
    assert ProductImage.objects.filter(pk=image.pk).exists()


# --- services ----------------------------------------------------------------------------------


def test_variants_sync_refuses_to_leave_no_variant():
    product = VariantFactory().product
    with pytest.raises(CatalogError, match="at least one variant"):
        product_variants_sync(product=product, variants=[])
    assert product.variants.count() == 1


def test_variants_sync_is_all_or_nothing():
    """A refusal on the second row leaves the first row's change unsaved."""
    taken = VariantFactory(sku="TAKEN")
    variant = VariantFactory(product__shop=taken.shop, sku="A", price=Decimal("10"))
    with pytest.raises(CatalogError, match="TAKEN"):
        product_variants_sync(
            product=variant.product,
            variants=[
                VariantEdit(variant_id=variant.pk, data=VariantData(sku="A", price=Decimal("99"))),
                VariantEdit(data=VariantData(sku="TAKEN", price=Decimal("5"))),
            ],
        )
    variant.refresh_from_db()
    assert variant.price == Decimal("10")


def test_variant_remove_keeps_the_last_variant():
    variant = VariantFactory()
    with pytest.raises(CatalogError, match="at least one variant"):
        variant_remove(variant=variant)
    second = VariantFactory(product=variant.product)
    variant_remove(variant=second)
    assert list(variant.product.variants.all()) == [variant]

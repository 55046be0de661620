"""The catalog API: public reads, a shop's integrations creating and changing products, problem
documents for bad input, money as decimal strings, cursor pagination, pinned query counts."""

from decimal import Decimal

import pytest

from apps.catalog.models import Product, Tag, Variant
from apps.shops.models import Shop
from apps.shops.tests.factories import ShopFactory, api_key_for

from .factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
PRODUCTS = "/api/v1/products"


def _shop_products(shop) -> str:
    return f"/api/v1/shops/{shop.slug}/products"


def _shop_product(shop, product) -> str:
    return f"/api/v1/shops/{shop.slug}/products/{product.pk}"


def _key(shop, scopes=("catalog:read", "catalog:write")) -> dict:
    _key_obj, raw = api_key_for(shop, list(scopes))
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}


def _product(shop=None, *, price="25.00", status=Product.Status.ACTIVE, **kwargs) -> Product:
    product = ProductFactory(shop=shop or ShopFactory(), status=status, **kwargs)
    VariantFactory(product=product, price=Decimal(price))
    return product


def _errors(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "validation-error"
    return {e["field"]: e["message"] for e in body["errors"]}


def _create(client, shop, body, auth=None):
    return client.post(_shop_products(shop), body, content_type="application/json", **(auth or _key(shop)))


def _walk_money(value):
    """Every number anywhere in a response body (money must never be one)."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from _walk_money(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk_money(inner)
    elif isinstance(value, float):
        yield value


# --- public reads ------------------------------------------------------------------------------


def test_categories_are_flat_with_their_parent(client, django_assert_max_num_queries):
    root = CategoryFactory(name="Home", slug="home")
    CategoryFactory(name="Baskets", slug="baskets", parent=root)
    with django_assert_max_num_queries(1):
        body = client.get("/api/v1/categories").json()
    assert {c["slug"]: c["parent"] for c in body} == {"home": None, "baskets": "home"}


def test_public_products_show_only_active_products_of_visible_shops(client):
    visible = _product(title="On sale")
    _product(title="Draft", status=Product.Status.DRAFT)
    _product(title="Archived", status=Product.Status.ARCHIVED)
    _product(shop=ShopFactory(status=Shop.Status.CLOSED), title="Closed shop")

    body = client.get(PRODUCTS).json()

    assert [p["id"] for p in body["results"]] == [visible.pk]


def test_public_product_money_is_a_decimal_string_with_its_currency(client):
    product = _product(shop=ShopFactory(currency="SGD"), price="12.5")
    VariantFactory(product=product, price=Decimal("9.90"), compare_at_price=Decimal("14.00"))

    body = client.get(f"{PRODUCTS}/{product.pk}").json()

    assert body["price_from"] == {"amount": "9.90", "currency": "SGD"}
    assert [v["price"] for v in body["variants"]] == [
        {"amount": "12.50", "currency": "SGD"},
        {"amount": "9.90", "currency": "SGD"},
    ]
    assert body["variants"][1]["compare_at_price"] == {"amount": "14.00", "currency": "SGD"}
    assert list(_walk_money(body)) == []
    assert body["web_url"].endswith(f"/shops/{product.shop.slug}/{product.slug}/")


def test_public_product_hides_unavailable_variants(client):
    product = _product()
    VariantFactory(product=product, sku="GONE", is_active=False)
    body = client.get(f"{PRODUCTS}/{product.pk}").json()
    assert "GONE" not in [v["sku"] for v in body["variants"]]


def test_draft_product_is_not_found_publicly(client):
    draft = _product(status=Product.Status.DRAFT)
    response = client.get(f"{PRODUCTS}/{draft.pk}")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_public_products_filter_by_shop_category_price_and_words(client):
    shop = ShopFactory()
    home = CategoryFactory(slug="home")
    baskets = CategoryFactory(slug="baskets", parent=home)
    cheap = _product(shop, price="5.00", title="Small rattan basket", category=baskets)
    dear = _product(shop, price="80.00", title="Teak stool", category=home)
    elsewhere = _product(price="20.00", title="Batik scarf")

    def ids(**params):
        response = client.get(PRODUCTS, params)
        assert response.status_code == 200, response.content
        return {p["id"] for p in response.json()["results"]}

    assert ids(shop=shop.slug) == {cheap.pk, dear.pk}
    assert ids(category="home") == {cheap.pk, dear.pk}
    assert ids(category="baskets") == {cheap.pk}
    assert ids(price_min="10", price_max="50") == {elsewhere.pk}
    assert ids(price_min="50") == {dear.pk}
    assert ids(q="small rattan") == {cheap.pk}
    assert ids(q="Indonesian") == {cheap.pk, dear.pk, elsewhere.pk}
    assert ids(currency="sgd", price_max="6") == {cheap.pk}


def test_public_product_filters_are_validated(client):
    assert set(_errors(client.get(PRODUCTS, {"price_min": "abc"}))) == {"price_min"}
    assert set(_errors(client.get(PRODUCTS, {"price_min": "9", "price_max": "1"}))) == {"price_max"}
    assert set(_errors(client.get(PRODUCTS, {"category": "no-such-category"}))) == {"category"}


def test_public_products_page_with_a_cursor(client):
    shop = ShopFactory()
    created = [_product(shop) for _ in range(5)]

    seen, url, pages = [], f"{PRODUCTS}?page_size=2", 0
    while url:
        body = client.get(url).json()
        seen.extend(p["id"] for p in body["results"])
        url, pages = body["next"], pages + 1

    assert pages == 3
    assert seen == [p.pk for p in reversed(created)]


def test_public_product_list_queries_do_not_grow_with_products(client, django_assert_max_num_queries):
    handmade = Tag.objects.create(name="handmade", slug="handmade")
    for _ in range(12):
        product = _product()
        VariantFactory(product=product)
        product.tags.add(handmade)
    # products, then images, variants and tags prefetched: four queries for any page size
    with django_assert_max_num_queries(4):
        response = client.get(PRODUCTS)
    assert len(response.json()["results"]) == 12


def test_shop_directory_filters_and_pages(client, django_assert_max_num_queries):
    ShopFactory(name="Batik House", postcode="059999")
    ShopFactory(name="Rattan Lane", postcode="163078")
    ShopFactory(name="Rattan Corner", postcode="169999", status=Shop.Status.CLOSED)

    with django_assert_max_num_queries(1):
        body = client.get("/api/v1/shops", {"q": "rattan"}).json()
    assert [s["name"] for s in body["results"]] == ["Rattan Lane"]
    assert body["results"][0]["location"] == {"latitude": "1.284200", "longitude": "103.832400"}
    assert [s["name"] for s in client.get("/api/v1/shops", {"postcode": "05"}).json()["results"]] == ["Batik House"]
    first = client.get("/api/v1/shops", {"page_size": 1}).json()
    assert first["next"] and len(first["results"]) == 1


def test_shop_profile_and_unknown_or_closed_shop(client):
    shop = ShopFactory(story="Since 1962.")
    body = client.get(f"/api/v1/shops/{shop.slug}").json()
    assert body["story"] == "Since 1962." and body["opening_hours"] == [] and body["photos"] == []
    assert client.get("/api/v1/shops/no-such-shop").status_code == 404
    closed = ShopFactory(status=Shop.Status.CLOSED)
    assert client.get(f"/api/v1/shops/{closed.slug}").status_code == 404


def test_dedicated_deployment_lists_only_its_own_shop(client, settings):
    """With LOCALBAZAAR_DEDICATED_SHOP set, the public API knows one shop and its products only."""
    own, other = ShopFactory(), ShopFactory()
    own_product, other_product = _product(own), _product(other)
    settings.LOCALBAZAAR_DEDICATED_SHOP = own.slug

    assert [s["slug"] for s in client.get("/api/v1/shops").json()["results"]] == [own.slug]
    assert [p["id"] for p in client.get(PRODUCTS).json()["results"]] == [own_product.pk]
    assert client.get(PRODUCTS, {"shop": other.slug}).json()["results"] == []
    assert client.get(f"/api/v1/shops/{other.slug}").status_code == 404
    assert client.get(f"{PRODUCTS}/{other_product.pk}").status_code == 404
    assert client.get(_shop_products(other), **_key(other)).status_code == 404


# --- a shop's integration writes ---------------------------------------------------------------


def test_key_creates_a_product_with_variants(client):
    shop = ShopFactory(currency="SGD")
    CategoryFactory(slug="baskets")
    body = {
        "title": "Rattan tray",
        "description": "Woven by hand.",
        "category": "baskets",
        "status": "active",
        "tags": ["Handmade", "rattan"],
        "variants": [
            {"sku": "TRAY-S", "price": "18.00", "options": {"size": "S"}, "weight_grams": 300},
            {"sku": "TRAY-L", "price": {"amount": "24.5", "currency": "SGD"}, "compare_at_price": "30.00"},
        ],
    }

    response = _create(client, shop, body)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "active" and data["category"] == {"slug": "baskets", "name": data["category"]["name"]}
    assert sorted(data["tags"]) == ["handmade", "rattan"]
    assert [v["price"]["amount"] for v in data["variants"]] == ["18.00", "24.50"]
    assert data["variants"][1]["compare_at_price"] == {"amount": "30.00", "currency": "SGD"}
    variant = Variant.objects.get(shop=shop, sku="TRAY-L")
    assert variant.price == Decimal("24.50") and variant.product.published_at is not None
    assert client.get(f"{PRODUCTS}/{data['id']}").status_code == 200


def test_created_products_are_drafts_by_default_and_listed_for_the_shop_only(client):
    shop = ShopFactory()
    auth = _key(shop)
    created = _create(client, shop, {"title": "Tray", "variants": [{"sku": "T", "price": "1.00"}]}, auth).json()

    assert created["status"] == "draft"
    assert [p["id"] for p in client.get(_shop_products(shop), **auth).json()["results"]] == [created["id"]]
    assert client.get(PRODUCTS).json()["results"] == []
    listed = client.get(_shop_products(shop), {"status": "active"}, **auth).json()["results"]
    assert listed == []


@pytest.mark.parametrize(
    ("variant", "field", "message"),
    [
        ({"sku": "A", "price": 12.5}, "variants.0.price", "decimal strings"),
        ({"sku": "A", "price": 12}, "variants.0.price", "decimal strings"),
        ({"sku": "A", "price": "twelve"}, "variants.0.price", "amount"),
        ({"sku": "A", "price": "-1.00"}, "variants.0.price", "negative"),
        ({"sku": "A", "price": "1.005"}, "variants.0.price", "decimal places"),
        ({"sku": "A", "price": {"amount": "1.00", "currency": "USD"}}, "variants.0.price", "SGD"),
        ({"sku": "A"}, "variants.0.price", "required"),
        ({"sku": "A", "price": "1.00", "colour": "red"}, "variants.0.colour", "Unknown field"),
    ],
)
def test_bad_variant_input_is_a_400_problem_naming_the_field(client, variant, field, message):
    shop = ShopFactory(currency="SGD")
    errors = _errors(_create(client, shop, {"title": "Tray", "variants": [variant]}))
    assert field in errors
    assert message in errors[field]
    assert not Product.objects.filter(shop=shop).exists()


def test_bad_product_input_lists_every_field(client):
    shop = ShopFactory()
    errors = _errors(_create(client, shop, {"titel": "Tray", "category": "nope", "variants": []}))
    assert {"titel", "title", "category", "variants"} <= set(errors)


def test_whole_currency_shops_take_whole_amounts(client):
    shop = ShopFactory(currency="JPY")
    assert "variants.0.price" in _errors(
        _create(client, shop, {"title": "Cup", "variants": [{"sku": "C", "price": "1200.50"}]})
    )
    created = _create(client, shop, {"title": "Cup", "variants": [{"sku": "C", "price": "1200"}]})
    assert created.json()["variants"][0]["price"] == {"amount": "1200", "currency": "JPY"}


def test_repeated_sku_in_one_request_is_a_400(client):
    shop = ShopFactory()
    variants = [{"sku": "A", "price": "1.00"}, {"sku": "A", "price": "2.00"}]
    assert "variants" in _errors(_create(client, shop, {"title": "Tray", "variants": variants}))


def test_business_rule_refusal_is_a_problem_that_says_what_to_do(client):
    shop = ShopFactory()
    VariantFactory(product=ProductFactory(shop=shop), sku="TAKEN")
    response = _create(client, shop, {"title": "Tray", "variants": [{"sku": "TAKEN", "price": "1.00"}]})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "catalog-error"
    assert "TAKEN" in response.json()["detail"]
    assert Product.objects.filter(shop=shop).count() == 1


def test_same_sku_in_another_shop_is_fine(client):
    VariantFactory(sku="SHARED")
    shop = ShopFactory()
    assert _create(client, shop, {"title": "Tray", "variants": [{"sku": "SHARED", "price": "1.00"}]}).status_code == 201


def test_patch_changes_fields_and_upserts_variants_by_sku(client):
    shop = ShopFactory()
    product = ProductFactory(shop=shop, status=Product.Status.DRAFT, published_at=None)
    VariantFactory(product=product, sku="KEEP", price=Decimal("10.00"), options={"size": "M"})
    VariantFactory(product=product, sku="OTHER", price=Decimal("11.00"))
    body = {
        "title": "Big rattan basket",
        "status": "active",
        "variants": [{"sku": "KEEP", "price": "12.00"}, {"sku": "NEW", "price": "15.00", "options": {"size": "L"}}],
    }

    response = client.patch(_shop_product(shop, product), body, content_type="application/json", **_key(shop))

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["title"] == "Big rattan basket" and data["status"] == "active"
    by_sku = {v["sku"]: v for v in data["variants"]}
    assert set(by_sku) == {"KEEP", "OTHER", "NEW"}
    assert by_sku["KEEP"]["price"]["amount"] == "12.00" and by_sku["KEEP"]["options"] == {"size": "M"}
    assert by_sku["NEW"]["options"] == {"size": "L"}
    product.refresh_from_db()
    assert product.published_at is not None


def test_patch_new_sku_without_price_is_a_400(client):
    shop = ShopFactory()
    product = _product(shop)
    body = {"variants": [{"sku": "NEW"}]}
    response = client.patch(_shop_product(shop, product), body, content_type="application/json", **_key(shop))
    assert "variants.0.price" in _errors(response)


def test_patch_is_all_or_nothing(client):
    """A refused variant leaves the title unchanged too."""
    shop = ShopFactory()
    product = _product(shop, title="Old title")
    VariantFactory(product=ProductFactory(shop=shop), sku="TAKEN")
    body = {"title": "New title", "variants": [{"sku": "OK", "price": "3.00"}, {"sku": "TAKEN", "price": "1.00"}]}
    response = client.patch(_shop_product(shop, product), body, content_type="application/json", **_key(shop))
    assert response.status_code == 400
    product.refresh_from_db()
    assert product.title == "Old title"
    assert not Variant.objects.filter(sku="OK").exists()


def test_archive_hides_the_product_from_buyers(client):
    shop = ShopFactory()
    product = _product(shop)
    response = client.post(f"{_shop_product(shop, product)}/archive", **_key(shop))
    assert response.status_code == 200
    assert response.json()["status"] == "archived"
    assert client.get(PRODUCTS).json()["results"] == []


def test_another_shops_product_is_404(client):
    shop, other = ShopFactory(), ShopFactory()
    foreign = _product(other)
    auth = _key(shop)
    for response in (
        client.get(_shop_product(shop, foreign), **auth),
        client.patch(_shop_product(shop, foreign), {"title": "x"}, content_type="application/json", **auth),
        client.post(f"{_shop_product(shop, foreign)}/archive", **auth),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
    foreign.refresh_from_db()
    assert foreign.status == Product.Status.ACTIVE and foreign.title != "x"


def test_read_only_key_reads_one_product_but_cannot_change_it(client):
    shop = ShopFactory()
    product = _product(shop)
    auth = _key(shop, scopes=["catalog:read"])
    assert client.get(_shop_product(shop, product), **auth).status_code == 200
    response = client.patch(_shop_product(shop, product), {"title": "x"}, content_type="application/json", **auth)
    assert response.status_code == 403


def test_shop_product_list_queries_do_not_grow_with_products(client, django_assert_max_num_queries):
    shop = ShopFactory()
    for _ in range(10):
        product = _product(shop, status=Product.Status.DRAFT)
        VariantFactory(product=product, is_active=False)
    auth = _key(shop, scopes=["catalog:read"])
    client.get(_shop_products(shop), **auth)  # records last use (a write at most once a minute)
    # key lookup, products, then variants, images and tags prefetched
    with django_assert_max_num_queries(5):
        response = client.get(_shop_products(shop), **auth)
    results = response.json()["results"]
    assert len(results) == 10 and all(len(p["variants"]) == 2 for p in results)


# --- search ------------------------------------------------------------------------------------

SEARCH = "/api/v1/search"


def test_search_finds_words_and_ranks_the_nearer_shop_first(client, django_assert_max_num_queries):
    near = ShopFactory(latitude=Decimal("1.300000"), longitude=Decimal("103.800000"))
    far = ShopFactory(latitude=Decimal("1.440000"), longitude=Decimal("103.800000"))
    far_basket = _product(far, title="Rattan basket", price="9.50")
    near_basket = _product(near, title="Rattan basket", price="12.00")
    _product(near, title="Teak stool", description="Solid teak.")
    _product(near, title="Rattan lamp", status=Product.Status.DRAFT)

    # names lookup, count, page of ids, products, then variants, images prefetched
    with django_assert_max_num_queries(6):
        response = client.get(SEARCH, {"q": "rattan basket", "lat": "1.300000", "lon": "103.800000"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert [hit["product"]["id"] for hit in body["results"]] == [near_basket.pk, far_basket.pk]
    assert body["total"] == 2 and body["location_used"] is True and body["next"] is None
    first = body["results"][0]
    assert first["distance_km"] < 0.1 and first["match"] == "exact"
    assert first["product"]["price_from"] == {"amount": "12.00", "currency": "SGD"}
    assert list(_walk_money(first["product"])) == []


def test_search_without_a_location_says_what_it_ignored(client):
    _product(title="Rattan basket")
    body = client.get(SEARCH, {"q": "rattan", "max_distance_km": "3", "sort": "distance"}).json()
    assert body["location_used"] is False
    assert len(body["notices"]) == 2
    assert body["results"][0]["distance_km"] is None


def test_search_pages_with_links(client):
    shop = ShopFactory()
    for _ in range(3):
        _product(shop, title="Rattan basket")
    body = client.get(SEARCH, {"q": "rattan", "per_page": 2}).json()
    assert body["num_pages"] == 2 and len(body["results"]) == 2
    second = client.get(body["next"]).json()
    assert len(second["results"]) == 1 and second["previous"] and second["next"] is None


def test_search_parameters_are_validated(client):
    assert set(_errors(client.get(SEARCH, {"lat": "1.3"}))) == {"lon"}
    assert set(_errors(client.get(SEARCH, {"lat": "91", "lon": "0"}))) == {"lat"}
    assert set(_errors(client.get(SEARCH, {"sort": "random"}))) == {"sort"}
    assert set(_errors(client.get(SEARCH, {"per_page": "1000"}))) == {"per_page"}
    assert set(_errors(client.get(SEARCH, {"price_min": "5", "price_max": "1"}))) == {"price_max"}


def test_search_takes_a_singapore_postcode_as_the_location(client):
    _product(title="Rattan basket")
    body = client.get(SEARCH, {"q": "rattan", "postcode": "163078"}).json()
    assert body["location_used"] is True and body["results"][0]["distance_km"] is not None


def test_search_on_a_dedicated_deployment_finds_only_its_shop(client, settings):
    own, other = ShopFactory(), ShopFactory()
    own_product = _product(own, title="Rattan basket")
    _product(other, title="Rattan basket")
    settings.LOCALBAZAAR_DEDICATED_SHOP = own.slug
    body = client.get(SEARCH, {"q": "rattan"}).json()
    assert [hit["product"]["id"] for hit in body["results"]] == [own_product.pk]

"""Local-first search: apps.catalog.search.product_search and the search page.

Tests marked ``postgres_only`` need PostgreSQL's full-text search and pg_trgm (production); the
ones marked ``sqlite_only`` pin the demo's icontains fallback. Everything else runs on both.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.catalog import search
from apps.catalog.location import SESSION_KEY
from apps.catalog.models import Product, Tag
from apps.catalog.search import Match, SearchError, Sort, product_search
from apps.catalog.tests.factories import CategoryFactory, ProductFactory, VariantFactory
from apps.core.geo import Point
from apps.shops.models import Shop
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text search and pg_trgm need PostgreSQL (DATABASE_URL)"
)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="pins the SQLite (demo) fallback")

# The buyer stands in Tiong Bahru; "near" is the same street, "mid" ~5 km away, "far" ~15 km.
BUYER = Point(Decimal("1.2842"), Decimal("103.8324"))
NEAR = {"latitude": Decimal("1.284500"), "longitude": Decimal("103.832000")}
MID = {"latitude": Decimal("1.320000"), "longitude": Decimal("103.860000")}
FAR = {"latitude": Decimal("1.350000"), "longitude": Decimal("103.950000")}


def make_product(title: str, *, shop=None, price="20.00", description="Made with care.", **fields) -> Product:
    tags = fields.pop("tags", ())
    compare_at = fields.pop("compare_at_price", None)
    product = ProductFactory(title=title, description=description, shop=shop or ShopFactory(**NEAR), **fields)
    VariantFactory(product=product, price=Decimal(price), compare_at_price=compare_at)
    for name in tags:
        product.tags.add(Tag.objects.get_or_create(name=name, slug=name)[0])
    return product


def titles(result) -> list[str]:
    return [hit.product.title for hit in result.hits]


# --- Ranking -------------------------------------------------------------------------------------
def test_among_equally_relevant_matches_the_nearer_shop_ranks_first():
    far = make_product("Indigo batik sarong", shop=ShopFactory(name="Far", **FAR))
    mid = make_product("Indigo batik sarong", shop=ShopFactory(name="Mid", **MID))
    near = make_product("Indigo batik sarong", shop=ShopFactory(name="Near", **NEAR))

    result = product_search(query="batik sarong", location=BUYER)

    assert [hit.product for hit in result.hits] == [near, mid, far]
    distances = [hit.distance_km for hit in result.hits]
    assert distances == sorted(distances) and distances[0] < 0.1 and 14 < distances[2] < 20


def test_without_a_location_distance_plays_no_part_and_is_not_reported():
    make_product("Pandan chiffon cake", shop=ShopFactory(**FAR))
    result = product_search(query="pandan")
    assert result.location_used is False
    assert [hit.distance_km for hit in result.hits] == [None]


@postgres_only
def test_a_title_match_outranks_a_description_match_at_the_same_distance():
    shop = ShopFactory(**NEAR)
    in_description = make_product("Cotton tote", shop=shop, description="Printed with an indigo batik motif.")
    in_title = make_product("Batik tote", shop=shop)
    assert [hit.product for hit in product_search(query="batik").hits] == [in_title, in_description]


@postgres_only
def test_an_exact_match_beats_a_fuzzy_one_even_when_the_fuzzy_one_is_nearer():
    fuzzy = make_product("Batiks of Java", shop=ShopFactory(**NEAR))
    exact = make_product("Batik scarf", shop=ShopFactory(**FAR))

    result = product_search(query="batik", location=BUYER)

    assert [hit.product for hit in result.hits] == [exact, fuzzy]
    assert [hit.match for hit in result.hits] == [Match.EXACT, Match.FUZZY]


@postgres_only
def test_a_typo_still_finds_the_item():
    make_product("Indigo batik sarong")
    make_product("Pandan chiffon cake")
    assert titles(product_search(query="battik")) == ["Indigo batik sarong"]
    assert titles(product_search(query="chifon cake")) == ["Pandan chiffon cake"]


@postgres_only
def test_similar_titles_are_left_out_when_enough_products_match_exactly(monkeypatch):
    """Fuzzy matching costs ~10 µs a row: it only fills in when exact matches are few."""
    make_product("Batik scarf")
    make_product("Batiks of Java")
    assert titles(product_search(query="batik")) == ["Batik scarf", "Batiks of Java"]
    monkeypatch.setattr(search, "FUZZY_FILL_BELOW", 1)
    assert titles(product_search(query="batik")) == ["Batik scarf"]


@postgres_only
def test_tag_and_category_names_are_searched():
    kueh = CategoryFactory(name="Kueh", slug="kueh")
    make_product("Ondeh-ondeh", category=kueh)
    make_product("Almond cookies", tags=["vegan"])
    make_product("Butter cookies")
    assert titles(product_search(query="kueh")) == ["Ondeh-ondeh"]
    assert titles(product_search(query="vegan")) == ["Almond cookies"]


@postgres_only
def test_web_search_syntax_quotes_and_exclusions():
    make_product("Indigo batik sarong")
    make_product("Batik indigo scarf")
    assert titles(product_search(query='"indigo batik"')) == ["Indigo batik sarong"]
    assert titles(product_search(query="batik -scarf")) == ["Indigo batik sarong"]


@postgres_only
def test_hyphenated_words_match_without_becoming_a_slow_phrase_search():
    make_product("Hand-woven rattan basket")
    make_product("Woven hand fan")
    assert sorted(titles(product_search(query="hand-woven"))) == ["Hand-woven rattan basket", "Woven hand fan"]
    assert titles(product_search(query='"hand-woven"')) == ["Hand-woven rattan basket"]


@postgres_only
def test_full_text_and_fuzzy_tests_are_the_ones_the_gin_indexes_serve():
    """The document index is on the very expression the search uses (a copy lives in the migration):
    if they drift apart, PostgreSQL silently scans every product."""
    from django.contrib.postgres.search import SearchQuery

    make_product("Indigo batik sarong")
    document_match = (
        Product.objects.alias(document=search.search_document())
        .filter(document=SearchQuery("sarong", search_type="websearch", config=search.SEARCH_CONFIG))
        .order_by()
    )
    fuzzy_match = Product.objects.filter(title__trigram_word_similar="sarrong").order_by()
    with connection.cursor() as cursor:
        # A handful of rows is cheaper to scan: leave the planner only bitmap (GIN) scans.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        assert "catalog_product_search_doc" in document_match.explain()
        assert "catalog_product_title_trgm" in fuzzy_match.explain()

    with CaptureQueriesContext(connection) as ctx:
        list(document_match.values_list("pk"))
    document_sql = ctx.captured_queries[0]["sql"].split(" WHERE ")[1].split(" @@ ")[0]
    assert document_sql.startswith("(setweight(to_tsvector('simple'")
    with CaptureQueriesContext(connection) as ctx:
        product_search(query="sarong")
    assert any(f"{document_sql} @@ " in query["sql"] for query in ctx.captured_queries)


def test_punctuation_only_and_unknown_words_find_nothing_without_errors():
    make_product("Indigo batik sarong")
    assert product_search(query="!!! ---").total == 0
    assert product_search(query="zzzqqq").hits == []


# --- Filters -------------------------------------------------------------------------------------
def test_category_filter_includes_descendants():
    fashion = CategoryFactory(name="Fashion", slug="fashion")
    clothing = CategoryFactory(name="Clothing", slug="clothing", parent=fashion)
    sarongs = CategoryFactory(name="Sarongs", slug="sarongs", parent=clothing)
    food = CategoryFactory(name="Food", slug="food")
    make_product("Indigo sarong", category=sarongs)
    make_product("Linen shirt", category=clothing)
    make_product("Pandan cake", category=food)

    assert sorted(titles(product_search(query="", category=fashion))) == ["Indigo sarong", "Linen shirt"]
    assert titles(product_search(query="", category=sarongs)) == ["Indigo sarong"]


def test_price_range_uses_available_variant_prices():
    cheap = make_product("Kaya jar", price="6.00")
    make_product("Kaya hamper", price="80.00")
    two_prices = make_product("Kaya set", price="15.00")
    VariantFactory(product=two_prices, price=Decimal("45.00"))
    hidden_price = make_product("Kaya tin", price="60.00")
    VariantFactory(product=hidden_price, price=Decimal("30.00"), is_active=False)

    result = product_search(query="kaya", price_min=Decimal("5"), price_max=Decimal("40"))

    assert sorted(titles(result)) == sorted([cheap.title, two_prices.title])
    assert sorted(titles(product_search(query="kaya", price_min=Decimal("40")))) == [
        "Kaya hamper",
        "Kaya set",
        "Kaya tin",
    ]


def test_max_distance_needs_a_location_and_is_otherwise_ignored_with_a_notice():
    make_product("Rattan basket", shop=ShopFactory(**NEAR))
    make_product("Rattan basket", shop=ShopFactory(**FAR))

    assert product_search(query="rattan", location=BUYER, max_distance_km=3).total == 1
    assert product_search(query="rattan", location=BUYER, max_distance_km=30).total == 2
    ignored = product_search(query="rattan", max_distance_km=3)
    assert ignored.total == 2
    assert any("distance" in notice for notice in ignored.notices)


def test_pickup_and_delivery_filters():
    make_product("Kopi beans", shop=ShopFactory(name="Pickup near", offers_pickup=True, **NEAR))
    make_product(
        "Kopi beans",
        shop=ShopFactory(name="No pickup, delivers", offers_pickup=False, delivery_radius_km=Decimal("8"), **MID),
    )
    make_product(
        "Kopi beans", shop=ShopFactory(name="Too far", offers_pickup=True, delivery_radius_km=Decimal("5"), **FAR)
    )

    def shops(result):
        return sorted(hit.product.shop.name for hit in result.hits)

    assert shops(product_search(query="kopi", pickup=True)) == ["Pickup near", "Too far"]
    assert shops(product_search(query="kopi", location=BUYER, delivery=True)) == ["No pickup, delivers", "Pickup near"]
    no_location = product_search(query="kopi", delivery=True)
    assert no_location.total == 3 and any("deliver" in notice for notice in no_location.notices)


# --- Sorts ---------------------------------------------------------------------------------------
def test_sorts_by_distance_price_and_newest():
    now = timezone.now()
    a = make_product("Tea towel", shop=ShopFactory(**FAR), price="9.00", published_at=now - timedelta(days=1))
    b = make_product("Tea towel", shop=ShopFactory(**NEAR), price="30.00", published_at=now - timedelta(days=3))
    c = make_product("Tea towel", shop=ShopFactory(**MID), price="15.00", published_at=now - timedelta(days=2))

    def order(sort, **kwargs):
        return [hit.product for hit in product_search(query="towel", sort=sort, **kwargs).hits]

    assert order(Sort.DISTANCE, location=BUYER) == [b, c, a]
    assert order(Sort.PRICE_ASC) == [a, c, b]
    assert order(Sort.PRICE_DESC) == [b, c, a]
    assert order(Sort.NEWEST) == [a, c, b]


def test_distance_sort_without_a_location_falls_back_to_best_match_with_a_notice():
    make_product("Tea towel")
    result = product_search(query="towel", sort=Sort.DISTANCE)
    assert result.sort == Sort.RELEVANCE and result.total == 1 and result.notices


def test_browsing_without_a_query_lists_the_nearest_first_or_else_the_newest():
    now = timezone.now()
    old_near = make_product("Old near", shop=ShopFactory(**NEAR), published_at=now - timedelta(days=9))
    new_far = make_product("New far", shop=ShopFactory(**FAR), published_at=now)
    assert [h.product for h in product_search(query="", location=BUYER).hits] == [old_near, new_far]
    assert [h.product for h in product_search(query="").hits] == [new_far, old_near]


# --- Pagination ----------------------------------------------------------------------------------
def test_pagination_pages_totals_and_a_page_past_the_end():
    shop = ShopFactory(**NEAR)
    now = timezone.now()
    for i in range(7):
        make_product(f"Bamboo fan {i}", shop=shop, published_at=now - timedelta(minutes=i))

    first = product_search(query="bamboo", sort=Sort.NEWEST, per_page=3)
    third = product_search(query="bamboo", sort=Sort.NEWEST, per_page=3, page=3)
    past = product_search(query="bamboo", sort=Sort.NEWEST, per_page=3, page=4)

    assert titles(first) == ["Bamboo fan 0", "Bamboo fan 1", "Bamboo fan 2"]
    assert (first.total, first.num_pages, first.has_next, first.has_previous) == (7, 3, True, False)
    assert titles(third) == ["Bamboo fan 6"] and (third.start_index, third.end_index) == (7, 7)
    assert past.hits == [] and past.total == 7 and past.page_is_past_the_end


# --- Who sees what -------------------------------------------------------------------------------
def test_draft_and_archived_products_and_closed_shops_never_appear():
    make_product("Songket pouch")
    make_product("Songket pouch draft", status=Product.Status.DRAFT)
    make_product("Songket pouch archived", status=Product.Status.ARCHIVED)
    make_product("Songket pouch closed", shop=ShopFactory(status=Shop.Status.CLOSED, **NEAR))
    make_product("Songket pouch read-only", shop=ShopFactory(status=Shop.Status.READ_ONLY, **NEAR))

    for kwargs in ({"query": "songket"}, {"query": ""}, {"query": "songket", "location": BUYER}):
        assert sorted(titles(product_search(**kwargs))) == ["Songket pouch", "Songket pouch read-only"]


def test_dedicated_mode_shows_only_the_pinned_shops_products(settings):
    pinned = ShopFactory(**NEAR)
    make_product("Pewter tray", shop=pinned)
    make_product("Pewter tray", shop=ShopFactory(**NEAR))
    settings.LOCALBAZAAR_DEDICATED_SHOP = pinned.slug

    result = product_search(query="pewter", location=BUYER)

    assert [hit.product.shop for hit in result.hits] == [pinned]


# --- Bad parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"sort": "cheapest"}, "sort"),
        ({"price_min": Decimal("-1")}, "Prices"),
        ({"price_min": Decimal("9"), "price_max": Decimal("3")}, "minimum"),
        ({"max_distance_km": -2, "location": BUYER}, "distance"),
        ({"page": 0}, "Pages"),
        ({"page": search.MAX_PAGE + 1}, "Pages"),
        ({"per_page": 1000}, "per page"),
        ({"query": "x" * 201}, "too long"),
    ],
)
def test_values_no_door_should_send_raise_a_readable_search_error(kwargs, words):
    with pytest.raises(SearchError, match=words):
        product_search(**{"query": "kaya", **kwargs})


# --- Cost ----------------------------------------------------------------------------------------
def test_a_page_costs_the_same_number_of_queries_for_3_or_30_results(django_assert_max_num_queries):
    shop = ShopFactory(**NEAR)
    for i in range(3):
        make_product(f"Celadon bowl {i}", shop=shop, tags=["handmade"])
    # PostgreSQL: category/tag names, the page, similar titles (only when exact matches are few),
    # then the cards (products, images, variants). SQLite: the page and the cards.
    with django_assert_max_num_queries(6):
        few = product_search(query="celadon", location=BUYER)
    for i in range(27):
        make_product(f"Celadon bowl {i + 3}", shop=ShopFactory(**MID), tags=["handmade"])
    with django_assert_max_num_queries(6):
        many = product_search(query="celadon", location=BUYER)
    assert (few.total, many.total, len(many.hits)) == (3, 30, 24)


# --- SQLite fallback -----------------------------------------------------------------------------
@sqlite_only
def test_fallback_ranks_title_matches_first_then_by_distance():
    in_description_near = make_product(
        "Cotton tote", shop=ShopFactory(**NEAR), description="Printed with an indigo batik motif."
    )
    in_title_far = make_product("Batik tote", shop=ShopFactory(**FAR))
    in_title_near = make_product("Batik scarf", shop=ShopFactory(**NEAR))
    result = product_search(query="batik", location=BUYER)
    assert [hit.product for hit in result.hits] == [in_title_near, in_title_far, in_description_near]


@sqlite_only
def test_fallback_needs_every_word_somewhere_and_searches_tags_and_categories():
    kueh = CategoryFactory(name="Kueh", slug="kueh")
    make_product("Ondeh-ondeh", category=kueh, tags=["vegan"])
    make_product("Pandan cake")
    assert titles(product_search(query="kueh vegan")) == ["Ondeh-ondeh"]
    assert titles(product_search(query="pandan kueh")) == []


# --- The search page -----------------------------------------------------------------------------
def page_text(response) -> str:
    return response.content.decode()


def test_search_page_without_a_search_invites_one(client):
    response = client.get(reverse("search:results"))
    assert response.status_code == 200
    assert "Type what you are looking for" in page_text(response)


def test_search_page_shows_cards_with_shop_distance_price_and_deal(client):
    make_product("Indigo batik sarong", shop=ShopFactory(name="Kampong Looms", **MID), price="45.00",
                 compare_at_price=Decimal("60.00"))  # fmt: skip
    client.post(reverse("search:location"), {"postcode": "168898", "next": "/search/?q=batik"})

    body = page_text(client.get(reverse("search:results"), {"q": "batik"}))

    assert "Indigo batik sarong" in body and "Kampong Looms" in body
    assert " km" in body and "$45.00" in body and "Deal" in body
    assert "1 product found" in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "kaya", "price_min": "abc"}, "Enter the lowest price as a number"),
        ({"q": "kaya", "price_max": "-5"}, "The highest price cannot be negative"),
        ({"q": "kaya", "max_km": "-1"}, "The distance must be at least 0.1 km"),
        ({"q": "kaya", "page": "0"}, "Pages start at 1"),
        ({"q": "kaya", "page": "x"}, "The page must be a number"),
        ({"q": "kaya", "page": "99999999999999999999"}, "Only the first"),
        ({"q": "kaya", "sort": "cheapest"}, "Unknown sort order"),
        ({"q": "kaya", "category": "no-such"}, "That category does not exist"),
        ({"q": "kaya", "price_min": "9", "price_max": "3"}, "the price range was ignored"),
        ({"q": "x" * 201}, "Your search is too long"),
    ],
)
def test_bad_parameters_give_messages_and_the_rest_still_searches(client, params, message):
    make_product("Kaya jar", price="6.00")
    response = client.get(reverse("search:results"), params)
    assert response.status_code == 200
    body = page_text(response)
    assert message in body
    if params.get("q") == "kaya":
        assert "Kaya jar" in body


def test_distance_filter_without_a_location_says_why_it_was_ignored(client):
    make_product("Kaya jar")
    body = page_text(client.get(reverse("search:results"), {"q": "kaya", "max_km": "2", "delivery": "on"}))
    assert "Kaya jar" in body
    assert "the distance limit was ignored" in body and "the delivery filter was ignored" in body


def test_no_results_page_helps(client):
    make_product("Kaya jar")
    body = page_text(client.get(reverse("search:results"), {"q": "durian", "pickup": "on"}))
    assert "Nothing matches “durian” yet" in body
    assert "Search again without filters" in body and 'href="?q=durian"' in body


def test_pagination_links_keep_the_filters(client):
    shop = ShopFactory(**NEAR, offers_pickup=True)
    for i in range(30):
        make_product(f"Bamboo fan {i}", shop=shop, price="12.00")
    body = page_text(
        client.get(reverse("search:results"), {"q": "bamboo", "price_max": "20", "pickup": "on", "sort": "newest"})
    )
    assert "30 products found. Showing 1–24." in body
    assert 'href="?q=bamboo&amp;price_max=20&amp;pickup=on&amp;sort=newest&amp;page=2" rel="next"' in body

    page_two = page_text(
        client.get(
            reverse("search:results"),
            {"q": "bamboo", "price_max": "20", "pickup": "on", "sort": "newest", "page": "2"},
        )
    )
    assert "Showing 25–30" in page_two and 'rel="prev"' in page_two


def test_a_page_past_the_end_links_to_the_last_page(client):
    make_product("Kaya jar")
    body = page_text(client.get(reverse("search:results"), {"q": "kaya", "page": "5"}))
    assert "There is only one page of results." in body and 'href="?q=kaya"' in body


def test_search_page_query_count_does_not_grow_with_results(client, django_assert_max_num_queries):
    category = CategoryFactory(name="Homeware", slug="homeware")
    shop = ShopFactory(**NEAR)
    make_product("Rattan tray 0", shop=shop, category=category)
    params = {"q": "rattan", "category": "homeware", "price_max": "50", "sort": "price_asc"}
    # categories for the select, the chosen category, its descendants (2 levels), search page, cards (3)
    with django_assert_max_num_queries(9):
        assert client.get(reverse("search:results"), params).status_code == 200
    for i in range(1, 30):
        make_product(f"Rattan tray {i}", shop=ShopFactory(**FAR), category=category)
    with django_assert_max_num_queries(9):
        assert "24–" not in page_text(client.get(reverse("search:results"), params))


# --- The buyer's location ------------------------------------------------------------------------
def test_a_postcode_sets_the_location_and_returns_to_the_search(client):
    response = client.post(reverse("search:location"), {"postcode": "168 898", "next": "/search/?q=kaya"})
    assert response.status_code == 302 and response["Location"] == "/search/?q=kaya"
    stored = client.session[SESSION_KEY]
    assert stored["label"].startswith("168898") and Decimal(stored["lat"]) > 1


def test_coordinates_set_the_location(client):
    client.post(reverse("search:location"), {"latitude": "1.3521", "longitude": "103.8198"})
    stored = client.session[SESSION_KEY]
    assert (Decimal(stored["lat"]), Decimal(stored["lon"])) == (Decimal("1.3521"), Decimal("103.8198"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"postcode": "12"}, "Enter a six-digit Singapore postcode"),
        ({"postcode": "999999"}, "Enter a six-digit Singapore postcode"),
        ({"latitude": "abc", "longitude": "103.8"}, "Enter the latitude as a number"),
        ({"latitude": "95", "longitude": "103.8"}, "less than or equal to 90"),
        ({"latitude": "1.3"}, "Enter a postcode, or both latitude and longitude"),
        ({}, "Enter a postcode, or both latitude and longitude"),
    ],
)
def test_bad_location_input_is_a_form_error_on_the_search_page(client, data, message):
    make_product("Kaya jar")
    response = client.post(reverse("search:location"), {**data, "next": "/search/?q=kaya"})
    assert response.status_code == 200
    body = page_text(response)
    assert message in body
    assert "Kaya jar" in body  # the search the buyer was looking at is still there
    assert 'name="next" value="/search/?q=kaya"' in body  # and the corrected form returns to it
    assert SESSION_KEY not in client.session


def test_forgetting_the_location_and_refusing_foreign_next_urls(client):
    client.post(reverse("search:location"), {"postcode": "168898"})
    response = client.post(reverse("search:location"), {"action": "clear", "next": "https://evil.example/"})
    assert response["Location"] == reverse("search:results")
    assert SESSION_KEY not in client.session


def test_location_changes_need_post(client):
    assert client.get(reverse("search:location")).status_code == 405

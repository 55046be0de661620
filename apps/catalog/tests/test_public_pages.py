"""The buyer's catalog pages: home, category listing, shop page, product page, picking a location."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from apps.catalog.models import Product, ProductImage
from apps.catalog.selectors import products_near
from apps.core.geo import Point
from apps.shops.models import OpeningHours, Shop
from apps.shops.selectors import shop_is_open_now, shop_opening_week, shop_story_excerpt
from apps.shops.services import Hours, shop_opening_hours_set
from apps.shops.tests.factories import ShopFactory

from .factories import CategoryFactory, VariantFactory

pytestmark = pytest.mark.django_db

TIONG_BAHRU = {"latitude": Decimal("1.290600"), "longitude": Decimal("103.810000")}  # postcode 16xxxx
JOO_CHIAT = {"latitude": Decimal("1.306400"), "longitude": Decimal("103.904000")}  # postcode 42xxxx
YISHUN = {"latitude": Decimal("1.430000"), "longitude": Decimal("103.835000")}  # postcode 76xxxx


def product_with_price(price="10.00", compare_at=None, **product_fields) -> Product:
    variant = VariantFactory(
        price=Decimal(price), compare_at_price=Decimal(compare_at) if compare_at else None, **product_fields
    )
    return variant.product


def set_location(client, postcode="168898"):
    response = client.post(reverse("catalog:location"), {"postcode": postcode, "next": "/"})
    assert response.status_code == 302


def png_bytes() -> bytes:
    out = BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 80)).save(out, "PNG")
    return out.getvalue()


def card_titles(body: str) -> list[str]:
    return re.findall(r'<h3 class="product-card-title">([^<]+)</h3>', body)


# --- home ----------------------------------------------------------------------------------------


def test_home_shows_hero_new_products_and_categories_with_links(client):
    food = CategoryFactory(name="Food & drink", slug="food-drink")
    CategoryFactory(name="Bakery", slug="bakery", parent=food)
    product_with_price("9.50", product__title="Country sourdough", product__category=food)
    VariantFactory(product__title="Secret draft", product__status=Product.Status.DRAFT, product__published_at=None)

    body = client.get(reverse("catalog:home")).content.decode()

    assert "Buy from the makers and shops near you" in body
    assert 'role="search"' in body
    assert "Country sourdough" in body
    assert "Secret draft" not in body
    assert 'href="/c/food-drink/"' in body and 'href="/c/bakery/"' in body
    assert "Food &amp; drink" in body


def test_home_without_location_asks_for_a_postcode(client):
    product_with_price()
    body = client.get(reverse("catalog:home")).content.decode()
    assert 'action="/location/"' in body
    assert '<label for="location-postcode">' in body
    assert "km away" not in body


def test_home_with_location_shows_nearest_shops_first_with_distance(client):
    near = ShopFactory(name="Next Door Bakery", **TIONG_BAHRU)
    far = ShopFactory(name="Far North Rattan", **YISHUN)
    product_with_price(product__shop=far, product__title="Far basket")
    product_with_price(product__shop=near, product__title="Near loaf")
    set_location(client, "168898")  # Tiong Bahru

    body = client.get(reverse("catalog:home")).content.decode()

    near_shelf = body.split('id="near-title"', 1)[1].split('id="new-title"', 1)[0]
    assert card_titles(near_shelf) == ["Near loaf", "Far basket"]
    assert "Less than 0.1 km away" in near_shelf
    assert re.search(r"1[0-9]\.\d km away", near_shelf)  # Tiong Bahru to Yishun, about 16 km
    assert "168898" in body


def test_near_you_takes_a_few_products_from_each_of_the_closest_shops():
    """One big shop next door does not fill the whole shelf."""
    big = ShopFactory(**TIONG_BAHRU)
    other = ShopFactory(**JOO_CHIAT)
    for n in range(6):
        product_with_price(product__shop=big, product__title=f"Big {n}")
    product_with_price(product__shop=other, product__title="Other 0")

    products = products_near(point=Point(**TIONG_BAHRU), limit=8, per_shop=2)

    assert [p.title for p in products] == ["Big 5", "Big 4", "Other 0"]
    assert products[0].distance_km == pytest.approx(0, abs=0.01)
    assert products[2].distance_km > 5


def test_product_card_shows_shop_price_deal_badge_and_placeholder_image(client):
    deal = product_with_price("15.80", "16.80", product__title="Kaya croissant box")
    product_with_price("4.20", product__title="Plain bun")

    body = client.get(reverse("catalog:home")).content.decode()

    cards = body.split('<article class="product-card">')[1:]
    deal_card = next(c for c in cards if "Kaya croissant box" in c)
    plain_card = next(c for c in cards if "Plain bun" in c)
    assert deal.shop.name in deal_card
    assert "15.80" in deal_card and 'class="deal-badge"' in deal_card
    assert 'class="deal-badge"' not in plain_card
    assert "img/product-placeholder.svg" in plain_card
    assert f'href="/shops/{deal.shop.slug}/{deal.slug}/"' in deal_card


def test_product_card_says_from_when_variants_differ_in_price(client):
    product = product_with_price("9.50", product__title="Sourdough")
    VariantFactory(product=product, price=Decimal("13.00"), options={"size": "L"})
    body = client.get(reverse("catalog:home")).content.decode()
    card = body.split('<article class="product-card">')[1]
    assert "From" in card and "9.50" in card and "13.00" not in card


def test_product_card_prefers_a_ready_thumbnail_then_the_original(client):
    with_thumb = product_with_price(product__title="Thumbed")
    original_only = product_with_price(product__title="Original only")
    ready = ProductImage(product=with_thumb, thumbnail_status=ProductImage.ThumbnailStatus.READY, alt_text="A loaf")
    ready.image.save("loaf.png", ContentFile(png_bytes()), save=False)
    ready.thumbnail.save("loaf-thumb.webp", ContentFile(png_bytes()), save=False)
    ready.save()
    pending = ProductImage(product=original_only)
    pending.image.save("bun.png", ContentFile(png_bytes()), save=False)
    pending.save()

    body = client.get(reverse("catalog:home")).content.decode()

    assert f'src="{ready.thumbnail.url}"' in body
    assert f'src="{ready.image.url}"' not in body
    assert 'alt="A loaf"' in body
    assert f'src="{pending.image.url}"' in body


# --- category ----------------------------------------------------------------------------------


def test_category_lists_products_of_the_category_and_its_descendants(client):
    food = CategoryFactory(name="Food & drink", slug="food-drink")
    bakery = CategoryFactory(name="Bakery", slug="bakery", parent=food)
    buns = CategoryFactory(name="Buns", slug="buns", parent=bakery)
    fashion = CategoryFactory(name="Fashion", slug="fashion")
    product_with_price(product__title="Kopi powder", product__category=food)
    product_with_price(product__title="Sourdough", product__category=bakery)
    product_with_price(product__title="Char siew bao", product__category=buns)
    product_with_price(product__title="Batik shirt", product__category=fashion)

    body = client.get(reverse("catalog:category", args=["food-drink"])).content.decode()
    assert sorted(card_titles(body)) == ["Char siew bao", "Kopi powder", "Sourdough"]
    assert "3 products" in body
    assert 'href="/c/bakery/"' in body  # subcategory link

    body = client.get(reverse("catalog:category", args=["buns"])).content.decode()
    assert card_titles(body) == ["Char siew bao"]
    crumbs = body.split('class="breadcrumbs"', 1)[1].split("</nav>", 1)[0]
    assert crumbs.index('href="/c/food-drink/"') < crumbs.index('href="/c/bakery/"')
    assert '<span aria-current="page">Buns</span>' in crumbs


def test_category_hides_drafts_archived_products_and_closed_shops(client):
    category = CategoryFactory(slug="ceramics")
    product_with_price(product__title="Visible cup", product__category=category)
    product_with_price(product__title="Draft cup", product__category=category, product__status=Product.Status.DRAFT)
    product_with_price(
        product__title="Archived cup", product__category=category, product__status=Product.Status.ARCHIVED
    )
    product_with_price(
        product__title="Closed shop cup", product__category=category, product__shop__status=Shop.Status.CLOSED
    )
    body = client.get(reverse("catalog:category", args=["ceramics"])).content.decode()
    assert card_titles(body) == ["Visible cup"]


def test_unknown_category_is_404(client):
    assert client.get(reverse("catalog:category", args=["no-such-thing"])).status_code == 404


def test_category_sorts_by_price_and_by_distance_when_location_known(client):
    category = CategoryFactory(slug="kopi-tea")
    far_shop = ShopFactory(**YISHUN)
    near_shop = ShopFactory(**TIONG_BAHRU)
    product_with_price("20.00", product__title="Mid", product__category=category, product__shop=far_shop)
    product_with_price("5.00", product__title="Cheap", product__category=category, product__shop=far_shop)
    product_with_price("30.00", product__title="Dear", product__category=category, product__shop=near_shop)
    url = reverse("catalog:category", args=["kopi-tea"])

    assert card_titles(client.get(url, {"sort": "price_asc"}).content.decode()) == ["Cheap", "Mid", "Dear"]
    assert card_titles(client.get(url, {"sort": "price_desc"}).content.decode()) == ["Dear", "Mid", "Cheap"]
    without_location = client.get(url, {"sort": "nearest"}).content.decode()
    assert card_titles(without_location) == ["Dear", "Cheap", "Mid"]  # newest first: no location yet
    assert 'value="nearest"' not in without_location

    set_location(client, "168898")
    body = client.get(url, {"sort": "nearest"}).content.decode()
    assert card_titles(body)[0] == "Dear"
    assert '<option value="nearest" selected>' in body
    assert "km away" in body


def test_category_paginates_24_per_page_and_keeps_the_sort(client):
    category = CategoryFactory(slug="soaps")
    shop = ShopFactory()
    for n in range(25):
        product_with_price(
            f"{n + 1}.00", product__title=f"Soap {n:02d}", product__category=category, product__shop=shop
        )
    url = reverse("catalog:category", args=["soaps"])

    first = client.get(url, {"sort": "price_asc"}).content.decode()
    assert len(card_titles(first)) == 24
    assert 'href="?sort=price_asc&amp;page=2"' in first
    assert "Page 1 of 2" in first

    second = client.get(url, {"sort": "price_asc", "page": 2}).content.decode()
    assert card_titles(second) == ["Soap 24"]
    assert 'rel="prev"' in second

    assert len(card_titles(client.get(url, {"page": "nonsense"}).content.decode())) == 24


# --- product -----------------------------------------------------------------------------------


def test_product_page_shows_variants_deals_description_story_shop_card_and_tags(client):
    shop = ShopFactory(
        name="Seng Poh Bakehouse",
        tagline="Sourdough in Tiong Bahru",
        story="## Since 2016\n\nSam bakes **every** morning.\n\nA second paragraph.",
        address_line1="71 Seng Poh Road",
        postcode="160071",
        offers_pickup=True,
    )
    product = product_with_price(
        "4.20",
        options={"size": "Single"},
        product__shop=shop,
        product__title="Kaya croissant",
        product__description="Flaky. <script>alert(1)</script> *Buttery*.",
    )
    VariantFactory(
        product=product, price=Decimal("15.80"), compare_at_price=Decimal("16.80"), options={"size": "Box of 4"}
    )
    product.tags.create(name="kaya", slug="kaya")
    shop_opening_hours_set(shop=shop, hours=[Hours(weekday=1, opens=time(7, 30), closes=time(15, 0))])

    response = client.get(reverse("catalog:product", args=[shop.slug, product.slug]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Kaya croissant</h1>" in body
    assert "Size: Single" in body and "Size: Box of 4" in body
    assert re.search(r"<del>.*16\.80</del>", body) and "15.80" in body and 'class="deal-badge"' in body
    assert "<em>Buttery</em>" in body and "<script>alert" not in body
    assert "Sam bakes <strong>every</strong> morning." in body
    assert "Since 2016" not in body.split('id="maker-title"', 1)[1].split("</section>", 1)[0]
    assert "71 Seng Poh Road" in body and "160071" in body
    assert "Pickup in store: yes" in body
    assert "07:30–15:00" in body
    assert "#kaya" in body
    assert "km from you" not in body


def test_product_page_shows_distance_from_the_buyer(client):
    shop = ShopFactory(**YISHUN)
    product = product_with_price(product__shop=shop)
    set_location(client, "168898")
    body = client.get(reverse("catalog:product", args=[shop.slug, product.slug])).content.decode()
    assert re.search(r"1[0-9]\.\d km from you", body)


@pytest.mark.parametrize(
    ("product_fields"),
    [
        {"product__status": Product.Status.DRAFT, "product__published_at": None},
        {"product__status": Product.Status.ARCHIVED},
        {"product__shop__status": Shop.Status.CLOSED},
    ],
    ids=["draft", "archived", "closed-shop"],
)
def test_product_page_is_404_for_products_buyers_must_not_see(client, product_fields):
    product = product_with_price(**product_fields)
    assert client.get(reverse("catalog:product", args=[product.shop.slug, product.slug])).status_code == 404


def test_product_page_is_404_for_unknown_slug_or_another_shops_slug(client):
    product = product_with_price()
    other = ShopFactory()
    assert client.get(reverse("catalog:product", args=[product.shop.slug, "nope"])).status_code == 404
    assert client.get(reverse("catalog:product", args=[other.slug, product.slug])).status_code == 404


# --- shop --------------------------------------------------------------------------------------


def test_shop_page_shows_story_address_hours_and_products(client):
    shop = ShopFactory(
        story="We weave **rattan** by hand.", address_line1="355 Sembawang Crescent", offers_pickup=False
    )
    shop_opening_hours_set(
        shop=shop, hours=[Hours(weekday=d, opens=time(0, 0), closes=time(23, 59, 59)) for d in range(7)]
    )
    product_with_price(product__shop=shop, product__title="Market basket")
    product_with_price(product__title="Somebody else's basket")

    body = client.get(reverse("catalog:shop", args=[shop.slug])).content.decode()

    assert f"<h1>{shop.name}</h1>" in body
    assert "We weave <strong>rattan</strong> by hand." in body
    assert "355 Sembawang Crescent" in body
    assert "Pickup in store: no" in body
    assert "Open now" in body
    assert card_titles(body) == ["Market basket"]


def test_shop_page_says_closed_now_without_opening_hours(client):
    shop = ShopFactory()
    body = client.get(reverse("catalog:shop", args=[shop.slug])).content.decode()
    assert "Closed now" in body and "Open now" not in body


def test_shop_page_paginates_products(client):
    shop = ShopFactory()
    for n in range(26):
        product_with_price(product__shop=shop, product__title=f"Item {n}")
    url = reverse("catalog:shop", args=[shop.slug])
    assert len(card_titles(client.get(url).content.decode())) == 24
    assert len(card_titles(client.get(url, {"page": 2}).content.decode())) == 2


def test_closed_or_unknown_shop_is_404(client):
    closed = ShopFactory(status=Shop.Status.CLOSED)
    assert client.get(reverse("catalog:shop", args=[closed.slug])).status_code == 404
    assert client.get(reverse("catalog:shop", args=["no-such-shop"])).status_code == 404


# --- open now (in the shop's time zone) ---------------------------------------------------------


def test_shop_is_open_now_reads_the_clock_in_the_shops_time_zone():
    shop = ShopFactory(time_zone="Asia/Singapore")
    shop_opening_hours_set(
        shop=shop,
        hours=[
            Hours(weekday=OpeningHours.Weekday.FRIDAY, opens=time(10, 0), closes=time(12, 30)),
            Hours(weekday=OpeningHours.Weekday.FRIDAY, opens=time(14, 30), closes=time(21, 0)),
        ],
    )
    friday_11_sgt = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)  # 11:00 in Singapore (UTC+8)
    assert shop_is_open_now(shop, at=friday_11_sgt)
    assert not shop_is_open_now(shop, at=datetime(2026, 3, 6, 5, 0, tzinfo=UTC))  # 13:00: lunch break
    assert not shop_is_open_now(shop, at=datetime(2026, 3, 6, 13, 0, tzinfo=UTC))  # 21:00: just closed
    assert not shop_is_open_now(shop, at=datetime(2026, 3, 5, 3, 0, tzinfo=UTC))  # Thursday

    shop.time_zone = "America/Mexico_City"  # UTC-6: 11:00 SGT Friday is 21:00 Thursday there
    assert not shop_is_open_now(shop, at=friday_11_sgt)
    assert shop_is_open_now(shop, at=datetime(2026, 3, 6, 17, 0, tzinfo=UTC))  # Friday 11:00 in Mexico


def test_opening_week_lists_every_day_and_marks_today():
    shop = ShopFactory()
    shop_opening_hours_set(shop=shop, hours=[Hours(weekday=0, opens=time(9, 0), closes=time(17, 0))])
    week = shop_opening_week(shop, at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # Monday in Singapore
    assert [day.weekday for day in week] == list(range(7))
    assert week[0].is_today and len(week[0].periods) == 1
    assert week[1].periods == [] and not week[1].is_today


def test_story_excerpt_drops_headings_and_stops_after_the_word_limit():
    shop = ShopFactory(story="## Our start\n\nOne two three four.\n\nFive six seven eight nine.\n\n- ten")
    assert shop_story_excerpt(shop, words=6) == "One two three four.\n\nFive six…"
    assert shop_story_excerpt(ShopFactory(story=""), words=6) == ""


# --- location ----------------------------------------------------------------------------------


def test_location_rejects_unknown_postcodes_and_unsafe_next(client):
    response = client.post(
        reverse("catalog:location"), {"postcode": "12ab", "next": "https://evil.example/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert "six-digit Singapore postcode" in response.content.decode()
    assert "buyer_location" not in client.session


def test_location_can_be_set_and_forgotten(client):
    set_location(client, "427 565")
    assert client.session["buyer_location"]["label"].startswith("427565")
    client.post(reverse("catalog:location"), {"action": "clear", "next": "/c/x/"})
    assert "buyer_location" not in client.session


def test_location_only_accepts_post(client):
    assert client.get(reverse("catalog:location")).status_code == 405


# --- query counts --------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _add_products(n: int, *, shop: Shop, category) -> None:
    for _ in range(n):
        product = product_with_price("9.00", "12.00", product__shop=shop, product__category=category)
        VariantFactory(product=product, price=Decimal("11.00"))
        product.tags.create(name=f"t{product.pk}", slug=f"t{product.pk}")


@pytest.mark.parametrize(
    ("with_location", "budgets"),
    [(False, (5, 7, 7)), (True, (11, 8, 8))],
    ids=["no-location", "location"],
)
def test_list_pages_make_a_constant_number_of_queries(client, django_assert_max_num_queries, with_location, budgets):
    """Home, category and shop pages cost the same few queries for 3 products or 38: shop, price,
    deal, distance, images and variants come with the listing, never one query per card."""
    category = CategoryFactory(slug="ceramics", parent=CategoryFactory(slug="home-goods"))
    shop = ShopFactory()
    shop_opening_hours_set(shop=shop, hours=[Hours(weekday=d, opens=time(9), closes=time(18)) for d in range(7)])
    if with_location:
        set_location(client)
    urls = [
        reverse("catalog:home"),
        reverse("catalog:category", args=["ceramics"]),
        reverse("catalog:shop", args=[shop.slug]),
    ]

    _add_products(3, shop=shop, category=category)
    few = [_queries(client, url) for url in urls]
    for _ in range(4):
        _add_products(7, shop=ShopFactory(), category=category)
    _add_products(7, shop=shop, category=category)
    many = [_queries(client, url) for url in urls]

    assert few == many
    for url, budget in zip(urls, budgets, strict=True):
        with django_assert_max_num_queries(budget):
            assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_home_shelves_are_cached_for_visitors_without_a_location(client, settings, django_assert_max_num_queries):
    """The "New" and category shelves are cached per language; the second visit skips their queries."""
    from .factories import ProductFactory as _ProductFactory

    settings.HOME_CACHE_SECONDS = 60
    _ProductFactory(title="Kaya toast set")
    first = client.get("/").content.decode()
    assert "Kaya toast set" in first
    with django_assert_max_num_queries(0):
        second = client.get("/").content.decode()
    assert "Kaya toast set" in second

"""The catalog's demo data: believable Singapore shops and products, safe to seed twice."""

from __future__ import annotations

import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.accounts.demo import DEMO_PASSWORD
from apps.accounts.models import User
from apps.catalog.demo import DEMO_SECOND_SELLER_EMAIL, DEMO_SELLER_EMAIL, DEMO_SHOPS, seed_demo_catalog
from apps.catalog.models import Category, Product, ProductImage, Tag, Variant
from apps.core.registry import demo_seeders
from apps.shops.models import Membership, OpeningHours, Shop, ShopPhoto
from apps.shops.permissions import Role

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    models = [User, Shop, Membership, OpeningHours, ShopPhoto, Category, Tag, Product, Variant, ProductImage]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def seeded():
    out = StringIO()
    started = time.monotonic()
    call_command("seed_demo", stdout=out)
    return out.getvalue(), time.monotonic() - started


def test_catalog_seeder_is_registered_after_accounts():
    names = [name for name, _func in demo_seeders.items()]
    assert "catalog" in names
    assert names.index("accounts") < names.index("catalog")


def test_seeding_twice_changes_nothing(seeded):
    first = counts()
    assert first["Shop"] == len(DEMO_SHOPS) >= 6
    assert first["Product"] >= 35
    seed_demo_catalog()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first


def test_seed_prints_a_summary_and_is_quick(seeded):
    output, elapsed = seeded
    assert "Catalog:" in output and f"{len(DEMO_SHOPS)} shops" in output
    assert DEMO_SELLER_EMAIL in output and DEMO_SECOND_SELLER_EMAIL in output
    assert elapsed < 10


def test_every_demo_shop_is_open_placed_and_has_hours_story_photo_and_products(seeded):
    shops = Shop.objects.filter(slug__in=[demo.slug for demo in DEMO_SHOPS])
    assert shops.count() == len(DEMO_SHOPS)
    assert len({(shop.latitude, shop.longitude) for shop in shops}) >= 5  # different neighbourhoods
    for shop in shops:
        assert shop.status == Shop.Status.ACTIVE and shop.currency == "SGD"
        assert len(shop.postcode) == 6 and shop.story.startswith("## ")
        assert shop.opening_hours.exists() and shop.photos.count() == 1
        products = Product.objects.filter(shop=shop, status=Product.Status.ACTIVE)
        assert 5 <= products.count() <= 10, shop.name
        for product in products:
            variants = list(product.variants.all())
            assert 1 <= len(variants) <= 3, product.title
            assert all(isinstance(v.price, Decimal) and v.price > 0 for v in variants)
            assert product.category is not None and product.category.parent is not None
            assert product.images.count() == 1


def test_demo_has_deals_tags_and_a_two_level_category_tree(seeded):
    assert Variant.objects.filter(compare_at_price__isnull=False).count() >= 10
    assert Tag.objects.filter(products__isnull=False).distinct().count() >= 20
    food = Category.objects.get(slug="food-drink")
    assert set(food.children.values_list("slug", flat=True)) == {"bakery", "kopi-tea", "kueh"}


def test_demo_product_images_are_stored_with_thumbnails(seeded):
    image = ProductImage.objects.select_related("product").first()
    assert image.image.storage.exists(image.image.name)
    with image.image.open("rb") as handle:
        assert handle.read(3) == b"\xff\xd8\xff"  # a JPEG
    assert not ProductImage.objects.exclude(thumbnail_status=ProductImage.ThumbnailStatus.READY).exists()


def test_demo_sellers_can_sign_in_and_each_own_a_shop(seeded):
    seller = User.objects.get(email=DEMO_SELLER_EMAIL)
    second = User.objects.get(email=DEMO_SECOND_SELLER_EMAIL)
    assert seller.check_password(DEMO_PASSWORD) and second.check_password(DEMO_PASSWORD)
    owned = Membership.objects.filter(role=Role.OWNER)
    seller_shops = set(owned.filter(user=seller).values_list("shop__slug", flat=True))
    second_shops = set(owned.filter(user=second).values_list("shop__slug", flat=True))
    assert len(seller_shops) == 1 and len(second_shops) == 1 and seller_shops != second_shops
    # The other shops' owners are demo characters who cannot sign in.
    others = owned.exclude(user__in=[seller, second])
    assert others.count() == len(DEMO_SHOPS) - 2
    assert not any(m.user.has_usable_password() for m in others.select_related("user"))


def test_catalog_seeder_alone_creates_the_demo_seller_it_needs():
    seed_demo_catalog()
    assert Membership.objects.filter(user__email=DEMO_SELLER_EMAIL, role=Role.OWNER).exists()


def test_public_pages_render_with_the_demo_data(client, seeded):
    product = Product.objects.select_related("shop").filter(shop__slug="seng-poh-bakehouse").first()
    for url in [
        reverse("catalog:home"),
        reverse("catalog:category", args=["food-drink"]),
        reverse("catalog:shop", args=["canting-and-co"]),
        reverse("catalog:product", args=[product.shop.slug, product.slug]),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert 'class="deal-badge"' in client.get(reverse("catalog:category", args=["food-drink"])).content.decode()

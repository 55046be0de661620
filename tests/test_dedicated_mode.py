"""Dedicated tenancy: with LOCALBAZAAR_DEDICATED_SHOP set, the whole site is that shop's storefront."""

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_shops(settings):
    mine = ShopFactory(slug="batik-house", name="Batik House")
    other = ShopFactory(slug="kopi-corner", name="Kopi Corner")
    own_product = ProductFactory(shop=mine, title="Indigo batik sarong", slug="indigo-batik-sarong")
    other_product = ProductFactory(shop=other, title="Indigo batik scarf", slug="indigo-batik-scarf")
    VariantFactory(product=own_product)
    VariantFactory(product=other_product)
    settings.LOCALBAZAAR_DEDICATED_SHOP = "batik-house"
    return mine, other, own_product, other_product


def test_other_shops_and_their_products_disappear(client, two_shops):
    mine, other, own_product, other_product = two_shops
    assert client.get(reverse("catalog:shop", args=[mine.slug])).status_code == 200
    assert client.get(reverse("catalog:product", args=[mine.slug, own_product.slug])).status_code == 200
    assert client.get(reverse("catalog:shop", args=[other.slug])).status_code == 404
    assert client.get(reverse("catalog:product", args=[other.slug, other_product.slug])).status_code == 404
    home = client.get(reverse("catalog:home")).content.decode()
    assert "Indigo batik scarf" not in home


def test_search_covers_only_the_dedicated_shop(client, two_shops):
    body = client.get(reverse("search:results"), {"q": "batik"}).content.decode()
    assert "Indigo batik sarong" in body
    assert "Indigo batik scarf" not in body


def test_opening_new_shops_disappears(client, two_shops):
    client.force_login(UserFactory())
    assert client.get(reverse("shops:open")).status_code == 404
    assert "Open a shop" not in client.get(reverse("shops:seller-home")).content.decode()


def test_shared_mode_shows_every_shop(client, two_shops, settings):
    settings.LOCALBAZAAR_DEDICATED_SHOP = ""
    _mine, other, _own, other_product = two_shops
    assert client.get(reverse("catalog:shop", args=[other.slug])).status_code == 200
    body = client.get(reverse("search:results"), {"q": "batik"}).content.decode()
    assert "Indigo batik scarf" in body and "Indigo batik sarong" in body

"""The cart: guests and buyers, several shops, quantities checked against stock, merge on sign-in."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.catalog.models import Product
from apps.orders.errors import CartError
from apps.orders.models import Cart, CartLine
from apps.orders.selectors import cart_view
from apps.orders.services import cart_add, cart_get_or_create, cart_line_set_quantity, cart_merge
from apps.shops.models import Shop

from .factories import stocked_variant

pytestmark = pytest.mark.django_db


def test_a_cart_holds_items_of_several_shops_grouped_by_shop():
    cart = cart_get_or_create(user=UserFactory())
    kaya, cups = stocked_variant(price="8.90"), stocked_variant(price="24.00", title="Tea cups")
    cart_add(cart=cart, variant=kaya, quantity=2)
    cart_add(cart=cart, variant=cups)
    cart_add(cart=cart, variant=kaya)  # adds up

    view = cart_view(cart=cart)
    assert [g.shop for g in view.groups] == [kaya.shop, cups.shop]
    assert view.groups[0].lines[0].line.quantity == 3
    assert view.totals == {"SGD": Decimal("50.70")}
    assert view.count == 4


def test_quantities_are_checked_against_available_stock():
    cart = cart_get_or_create(user=UserFactory())
    kaya = stocked_variant(units=3)
    with pytest.raises(CartError, match="Only 3 left of"):
        cart_add(cart=cart, variant=kaya, quantity=4)
    line = cart_add(cart=cart, variant=kaya, quantity=3)
    with pytest.raises(CartError, match="Only 3 left"):
        cart_add(cart=cart, variant=kaya)
    with pytest.raises(CartError, match="Only 3 left"):
        cart_line_set_quantity(cart=cart, line_id=line.pk, quantity=5)
    sold_out = stocked_variant(units=0)
    with pytest.raises(CartError, match="sold out"):
        cart_add(cart=cart, variant=sold_out)


@pytest.mark.parametrize("quantity", [0, -1, 100, "3", True])
def test_bad_quantities_are_refused(quantity):
    cart = cart_get_or_create(user=UserFactory())
    with pytest.raises(CartError):
        cart_add(cart=cart, variant=stocked_variant(), quantity=quantity)
    assert not CartLine.objects.exists()


def test_items_off_sale_cannot_be_added():
    cart = cart_get_or_create(user=UserFactory())
    draft = stocked_variant()
    Product.objects.filter(pk=draft.product_id).update(status=Product.Status.DRAFT)
    closed = stocked_variant()
    Shop.objects.filter(pk=closed.shop_id).update(status=Shop.Status.READ_ONLY)
    for variant in (draft, closed):
        variant.refresh_from_db()
        with pytest.raises(CartError, match="not on sale"):
            cart_add(cart=cart, variant=variant)


def test_another_carts_line_is_not_found():
    mine, theirs = cart_get_or_create(user=UserFactory()), cart_get_or_create(user=UserFactory())
    line = cart_add(cart=theirs, variant=stocked_variant())
    with pytest.raises(CartError, match="no longer in your cart"):
        cart_line_set_quantity(cart=mine, line_id=line.pk, quantity=2)
    assert CartLine.objects.get(pk=line.pk).quantity == 1


def test_a_guest_cart_merges_into_the_account():
    user = UserFactory()
    kaya, cups = stocked_variant(), stocked_variant()
    cart_add(cart=cart_get_or_create(user=user), variant=kaya, quantity=2)
    guest = cart_get_or_create(session_key="guest-token")
    cart_add(cart=guest, variant=kaya, quantity=1)
    cart_add(cart=guest, variant=cups, quantity=4)

    cart = cart_merge(session_key="guest-token", user=user)

    assert {line.variant_id: line.quantity for line in cart.lines.all()} == {kaya.pk: 3, cups.pk: 4}
    assert not Cart.objects.filter(session_key="guest-token").exists()


def test_guest_adds_to_cart_then_signs_in_and_keeps_it(client):
    kaya = stocked_variant(title="Kaya jar")
    page = reverse("catalog:product", args=[kaya.shop.slug, kaya.product.slug])
    assert "Add to cart" in client.get(page).content.decode()

    response = client.post(reverse("orders:cart-add"), {"variant": kaya.pk, "quantity": 2, "next": page})
    assert response.status_code == 302 and response["Location"] == page
    assert "Kaya jar" in client.get(reverse("orders:cart")).content.decode()

    user = UserFactory(email="mei@example.com")
    client.post(reverse("account_login"), {"login": "mei@example.com", "password": DEFAULT_PASSWORD})
    cart = Cart.objects.get(user=user)
    assert [(line.variant_id, line.quantity) for line in cart.lines.all()] == [(kaya.pk, 2)]
    assert "(2)" in client.get(reverse("orders:cart")).content.decode()  # the header's count


def test_cart_page_updates_and_removes_lines(client):
    user = UserFactory()
    client.force_login(user)
    kaya = stocked_variant(units=5)
    line = cart_add(cart=cart_get_or_create(user=user), variant=kaya)
    client.post(reverse("orders:cart-line", args=[line.pk]), {"quantity": 4})
    assert CartLine.objects.get(pk=line.pk).quantity == 4
    page = client.post(reverse("orders:cart-line", args=[line.pk]), {"quantity": 9}, follow=True).content.decode()
    assert "Only 5 left" in page
    client.post(reverse("orders:cart-line", args=[line.pk]), {"quantity": 4, "remove": "1"})
    assert not CartLine.objects.exists()


def test_cart_page_query_count_does_not_grow_with_lines(client, django_assert_max_num_queries):
    user = UserFactory()
    client.force_login(user)
    cart = cart_get_or_create(user=user)
    for _ in range(8):
        cart_add(cart=cart, variant=stocked_variant())
    with django_assert_max_num_queries(18):
        response = client.get(reverse("orders:cart"))
    assert response.content.decode().count('data-line="') == 8


def test_a_dedicated_site_sells_only_its_own_shop(settings):
    cart = cart_get_or_create(user=UserFactory())
    mine, theirs = stocked_variant(), stocked_variant()
    settings.LOCALBAZAAR_DEDICATED_SHOP = mine.shop.slug
    cart_add(cart=cart, variant=mine)
    with pytest.raises(CartError, match="not on sale"):
        cart_add(cart=cart, variant=theirs)

"""Checkout with pay on pickup: one checkout, one order per shop, stock sold, emails; changed prices,
tampered totals, another buyer's address, a shop that closed and sold-out stock all refuse with a
clear message and make nothing; the same form submitted twice makes one checkout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from apps.catalog.models import Variant
from apps.inventory.models import StockItem
from apps.inventory.tests.checks import assert_ledger_balanced
from apps.orders.errors import CheckoutError
from apps.orders.models import Checkout, Order
from apps.orders.services import cart_add, cart_get_or_create, checkout_place
from apps.shops.models import Shop

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def basket():
    buyer, address = buyer_with_address(email="mei@example.com")
    cart = cart_get_or_create(user=buyer)
    kaya = stocked_variant(price="8.90", units=5, title="Kaya jar")
    cups = stocked_variant(price="24.00", units=2, title="Tea cups")
    cart_add(cart=cart, variant=kaya, quantity=2)
    cart_add(cart=cart, variant=cups, quantity=1)
    return buyer, address, cart, kaya, cups


def _place(buyer, address, cart, *, key="k-1", total="41.80", method="pay_on_pickup"):
    return checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method=method,
        idempotency_key=key,
        expected_total=Decimal(total) if total is not None else None,
    )


def test_pay_on_pickup_makes_one_order_per_shop_and_sells_the_stock(basket, django_capture_on_commit_callbacks):
    buyer, address, cart, kaya, cups = basket
    with django_capture_on_commit_callbacks(execute=True):
        result = _place(buyer, address, cart)

    checkout = result.checkout
    assert result.created and checkout.status == "placed" and checkout.total == Decimal("41.80")
    orders = list(checkout.orders.order_by("pk"))
    assert [(o.shop, o.total, o.status) for o in orders] == [
        (kaya.shop, Decimal("17.80"), "confirmed"),
        (cups.shop, Decimal("24.00"), "confirmed"),
    ]
    assert orders[0].address["lines"] == ["1 Tiong Bahru Road"]
    assert StockItem.objects.get(variant=kaya).on_hand == 3
    assert StockItem.objects.get(variant=cups).on_hand == 1
    assert not cart.lines.exists()
    assert sorted(m.subject for m in mail.outbox) == sorted(
        [f"Your order {o.number} from {o.shop.name}" for o in orders]
        + [f"Your tax invoice {o.documents.get().number} for order {o.number}" for o in orders]  # after commit
    )
    assert_ledger_balanced()


def test_the_same_request_twice_makes_one_checkout(basket):
    buyer, address, cart, *_ = basket
    first = _place(buyer, address, cart)
    second = _place(buyer, address, cart)
    assert (first.checkout.pk, second.created) == (second.checkout.pk, False)
    assert Checkout.objects.count() == 1 and Order.objects.count() == 2


def test_a_changed_price_is_refused_with_the_old_and_new_price(basket):
    buyer, address, cart, kaya, _cups = basket
    Variant.objects.filter(pk=kaya.pk).update(price=Decimal("9.50"))
    with pytest.raises(CheckoutError, match="changed from") as exc:
        _place(buyer, address, cart)
    assert exc.value.code == "price-changed"
    assert not Order.objects.exists() and StockItem.objects.get(variant=kaya).reserved == 0


def test_a_tampered_total_is_refused(basket):
    buyer, address, cart, *_ = basket
    with pytest.raises(CheckoutError, match="total changed"):
        _place(buyer, address, cart, total="1.00")
    assert not Checkout.objects.exists()


def test_not_enough_stock_names_the_item_and_makes_nothing(basket):
    buyer, address, cart, kaya, cups = basket
    StockItem.objects.filter(variant=cups).update(reserved=2)  # another checkout holds them
    with pytest.raises(CheckoutError, match="Tea cups") as exc:
        _place(buyer, address, cart)
    assert exc.value.code == "out-of-stock"
    assert not Order.objects.exists()
    assert StockItem.objects.get(variant=kaya).reserved == 0  # the first shop's hold rolled back too


def test_a_shop_that_closed_during_checkout_is_refused(basket):
    buyer, address, cart, kaya, _cups = basket
    Shop.objects.filter(pk=kaya.shop_id).update(status=Shop.Status.READ_ONLY)
    with pytest.raises(CheckoutError, match="no longer on sale"):
        _place(buyer, address, cart)
    assert not Order.objects.exists()


def test_an_empty_cart_or_unknown_method_is_refused(basket):
    buyer, address, cart, *_ = basket
    with pytest.raises(CheckoutError, match="Choose how to pay"):
        _place(buyer, address, cart, method="cash-in-envelope")
    cart.lines.all().delete()
    with pytest.raises(CheckoutError, match="empty"):
        _place(buyer, address, cart, key="k-2")


def test_checkout_page_places_the_order_and_shows_the_confirmation(client, basket, django_capture_on_commit_callbacks):
    buyer, address, cart, kaya, cups = basket
    client.force_login(buyer)
    page = client.get(reverse("orders:checkout")).content.decode()
    assert "Kaya jar" in page and "Pay on pickup" in page and 'name="expected_total" value="41.80"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("orders:checkout"),
            {
                "address": address.pk,
                "payment_method": "pay_on_pickup",
                "expected_total": "41.80",
                "idempotency_key": "form-1",
            },
        )
    checkout = Checkout.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "orders:checkout-done", args=[checkout.number]
    )
    done = client.get(response["Location"]).content.decode()
    assert all(order.number in done for order in checkout.orders.all())
    listing = client.get(reverse("orders:orders")).content.decode()
    assert all(order.number in listing for order in checkout.orders.all())
    order = checkout.orders.first()
    assert order.lines.first().title in client.get(reverse("orders:order", args=[order.number])).content.decode()


def test_another_buyers_address_gives_404_and_no_order(client, basket):
    buyer, _address, _cart, *_ = basket
    _other, their_address = buyer_with_address()
    client.force_login(buyer)
    response = client.post(
        reverse("orders:checkout"),
        {
            "address": their_address.pk,
            "payment_method": "pay_on_pickup",
            "expected_total": "41.80",
            "idempotency_key": "x",
        },
    )
    assert response.status_code == 404
    assert not Order.objects.exists()


def test_tampered_total_in_the_form_shows_a_message(client, basket):
    buyer, address, *_ = basket
    client.force_login(buyer)
    response = client.post(
        reverse("orders:checkout"),
        {"address": address.pk, "payment_method": "pay_on_pickup", "expected_total": "0.01", "idempotency_key": "x"},
    )
    assert response.status_code == 200 and "The total changed to" in response.content.decode()
    assert not Order.objects.exists()


def test_other_buyers_orders_and_checkouts_are_404(client, basket):
    buyer, address, cart, *_ = basket
    result = _place(buyer, address, cart)
    stranger, _ = buyer_with_address()
    client.force_login(stranger)
    assert client.get(reverse("orders:checkout-done", args=[result.checkout.number])).status_code == 404
    order = result.checkout.orders.first()
    assert client.get(reverse("orders:order", args=[order.number])).status_code == 404


def test_the_same_order_form_posted_again_shows_the_first_confirmation(client, basket):
    buyer, address, *_ = basket
    client.force_login(buyer)
    form = {
        "address": address.pk,
        "payment_method": "pay_on_pickup",
        "expected_total": "41.80",
        "idempotency_key": "f1",
    }
    first = client.post(reverse("orders:checkout"), form)
    again = client.post(reverse("orders:checkout"), form)  # the cart is empty now
    assert (
        first["Location"] == again["Location"] == reverse("orders:checkout-done", args=[Checkout.objects.get().number])
    )
    assert Checkout.objects.count() == 1

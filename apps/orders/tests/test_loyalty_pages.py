"""Loyalty points in the buyer's and seller's order pages: the checkout's "Use points" box (the most
usable, the split of the total, refreshed with the page), placing with points (pay on pickup, and by
card: the card is charged the total less the points), points that cannot be used as a form error
with nothing made, the confirmation, pay, order and seller order pages, and 1-Click's "use my
points automatically"; with their query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.loyalty.models import LedgerEntry, LoyaltyAccount, Redemption
from apps.loyalty.services import points_adjust
from apps.orders.actors import Actor
from apps.orders.models import Checkout, Order
from apps.orders.selectors import one_click_settings_get
from apps.orders.services import cart_add, cart_get_or_create, checkout_place, order_transition
from apps.payments.selectors import payment_get_by_reference
from apps.shops.tests.factories import ShopFactory

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db

BADGE = "/loyalty/badge/"


def _deliver(order: Order, staff) -> None:
    for to in ("accepted", "packed", "ready_for_pickup", "delivered"):
        order_transition(order=order, to=to, actor=Actor.staff(staff))


def _pickup_order(buyer, address, *, price: str = "100.00", key: str, points=0, variant=None) -> Order:
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=variant or stocked_variant(price=price, units=20))
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=key,
        expected_total=Decimal(price),
        points=points,
    )
    return result.checkout.orders.get()


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


@pytest.fixture
def earned(staff):
    """A buyer whose first order ($100) was delivered (100 points + the 500 welcome bonus available)
    and whose second ($50) is still pending (50 points)."""
    buyer, address = buyer_with_address(email="mei@example.com")
    first = _pickup_order(buyer, address, key="first")
    _deliver(first, staff)
    second = _pickup_order(buyer, address, price="50.00", key="second")
    return buyer, address, first, second


def _give(buyer, points: int, staff, reason: str = "Welcome gift") -> None:
    points_adjust(user=buyer, points=points, reason=reason, actor=staff)


def _page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


# --- checkout ------------------------------------------------------------------------------------------


def _cart_of(buyer, price: str = "10.00"):
    cart = cart_get_or_create(user=buyer)
    variant = stocked_variant(price=price, units=5)
    cart_add(cart=cart, variant=variant)
    return cart, variant


def _checkout_form(address, *, total: str, points="", method: str = "pay_on_pickup", key: str = "page-1") -> dict:
    return {
        "address": address.pk,
        "payment_method": method,
        "expected_total": total,
        "idempotency_key": key,
        "points": points,
    }


def test_checkout_offers_points_with_the_most_usable_and_shows_the_split(client, staff):
    """A buyer with 5,000 points and a $10.00 cart may use 1,000 (the total's worth); typing 250 and
    refreshing splits the total: points −$2.50, to pay $7.50."""
    buyer, address = buyer_with_address()
    _give(buyer, 5000, staff)
    _cart_of(buyer)
    client.force_login(buyer)

    page = _page(client, reverse("orders:checkout"))
    assert "You have 5000 points (worth $50.00)." in page and "You can use up to 1000 on this order." in page
    assert 'name="points" min="0" max="1000" step="1"' in page
    assert "checkout-split" not in page

    response = client.post(
        reverse("orders:checkout"), {**_checkout_form(address, total="10.00", points="250"), "refresh": "1"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and not Checkout.objects.exists()
    assert 'value="250"' in page
    assert "Points: −$2.50" in page and "To pay: $7.50" in page


def test_checkout_without_points_shows_no_points_box(client):
    buyer, _address = buyer_with_address()
    _cart_of(buyer)
    client.force_login(buyer)
    assert "checkout-points" not in _page(client, reverse("orders:checkout"))


def test_a_refresh_with_more_points_than_usable_says_so_and_splits_nothing(client, staff):
    buyer, address = buyer_with_address()
    _give(buyer, 300, staff)
    _cart_of(buyer)
    client.force_login(buyer)
    response = client.post(
        reverse("orders:checkout"), {**_checkout_form(address, total="10.00", points="301"), "refresh": "1"}
    )
    page = response.content.decode()
    assert "You can use at most 300 points on this order." in page and 'aria-invalid="true"' in page
    assert "checkout-split" not in page


def test_the_checkout_page_costs_the_same_queries_with_or_without_points(client, staff):
    buyer, _address = buyer_with_address()
    _cart_of(buyer)
    client.force_login(buyer)
    client.get(reverse("orders:checkout"))
    with CaptureQueriesContext(connection) as without:
        assert "checkout-points" not in _page(client, reverse("orders:checkout"))
    _give(buyer, 500, staff)
    with CaptureQueriesContext(connection) as with_points:
        assert "checkout-points" in _page(client, reverse("orders:checkout"))
    assert len(with_points) == len(without)


def test_placing_with_points_paying_on_pickup_spends_them_and_shows_the_split(client, staff):
    """250 points on a $10.00 order: the order records them, the ledger has the redemption, and the
    confirmation says what the points paid and what is left to pay at the counter."""
    buyer, address = buyer_with_address()
    _give(buyer, 400, staff)
    _cart_of(buyer)
    client.force_login(buyer)

    response = client.post(reverse("orders:checkout"), _checkout_form(address, total="10.00", points="250"))

    checkout = Checkout.objects.get()
    assert response["Location"] == reverse("orders:checkout-done", args=[checkout.number])
    order = checkout.orders.get()
    assert (order.points_used, order.points_value, order.amount_due) == (250, Decimal("2.50"), Decimal("7.50"))
    assert LoyaltyAccount.objects.get(user=buyer).balance == 150
    redeem = LedgerEntry.objects.get(kind="redeem")
    assert (redeem.points, redeem.reference) == (-250, order.number)
    assert payment_get_by_reference(reference=order.number).amount == Decimal("7.50")
    done = _page(client, response["Location"])
    assert "Paid with 250 points ($2.50)" in done and "To pay in money: $7.50" in done
    assert _page(client, BADGE) == " (150)"


def test_placing_by_card_charges_the_total_less_the_points(client, staff, fake_stripe):
    buyer, address = buyer_with_address()
    _give(buyer, 400, staff)
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(price="12.00"))
    client.force_login(buyer)

    response = client.post(
        reverse("orders:checkout"), _checkout_form(address, total="12.00", points="400", method="card")
    )

    checkout = Checkout.objects.get()
    assert response["Location"] == reverse("orders:checkout-pay", args=[checkout.number])
    assert (checkout.points_used, checkout.amount_due) == (400, Decimal("8.00"))
    assert [(i.amount, i.currency) for i in fake_stripe.payment_intents()] == [(800, "sgd")]
    pay = _page(client, response["Location"])
    assert "Paid with 400 points ($4.00)" in pay and "Pay $8.00" in pay


@pytest.mark.parametrize(
    ("typed", "balance", "message"),
    [
        ("-5", 500, "The number of points cannot be negative."),
        ("2.5", 500, "Enter the points as a whole number."),
        ("lots", 500, "Enter the points as a whole number."),
        ("600", 500, "You have 500 points available: you cannot use 600."),
        ("1001", 5000, "Your points would pay more than the order total: use at most 1000."),
        ("99999999999", 500, "That is more points than any account holds."),
    ],
    ids=["negative", "fraction", "text", "over-balance", "over-total", "absurd"],
)
def test_points_that_cannot_be_used_are_a_form_error_and_nothing_is_made(client, staff, typed, balance, message):
    """A tampered or mistyped number of points: the page again with the error next to the points, and
    no checkout, order, redemption or ledger entry; the cart and the balance are as they were."""
    buyer, address = buyer_with_address()
    _give(buyer, balance, staff)
    cart, _variant = _cart_of(buyer)
    entries = LedgerEntry.objects.count()
    client.force_login(buyer)

    response = client.post(reverse("orders:checkout"), _checkout_form(address, total="10.00", points=typed))

    page = response.content.decode()
    assert response.status_code == 200
    points_box = page.split('class="checkout-points"')[1].split("</fieldset>")[0]
    assert 'role="alert"' in points_box and message in points_box
    assert not Checkout.objects.exists() and not Order.objects.exists() and not Redemption.objects.exists()
    assert LedgerEntry.objects.count() == entries
    assert LoyaltyAccount.objects.get(user=buyer).balance == balance
    assert cart.lines.count() == 1


def test_points_posted_by_a_buyer_without_any_are_refused_at_the_top(client):
    buyer, address = buyer_with_address()
    _cart_of(buyer)
    client.force_login(buyer)
    response = client.post(reverse("orders:checkout"), _checkout_form(address, total="10.00", points="50"))
    page = response.content.decode()
    assert "You have 0 points available: you cannot use 50." in page.split('class="form-error" role="alert"')[1]
    assert not Checkout.objects.exists() and not LedgerEntry.objects.exists()


# --- the order pages ---------------------------------------------------------------------------------


def test_the_order_page_shows_points_paid_money_due_and_what_the_order_earns(client, staff, earned):
    """Points paid (and their value), the money to pay, the points the order earns (pending, then
    available); after cancelling, the points given back and the earning reversed."""
    buyer, address, first, _second = earned
    order = _pickup_order(buyer, address, price="20.00", key="third", points="600")
    client.force_login(buyer)

    page = _page(client, reverse("orders:order", args=[order.number]))
    assert "Paid with 600 points ($6.00)" in page
    assert "To pay in money" in page and "data-amount-due>$14.00" in page
    assert 'data-earning-status="pending"' in page and "14 points, pending until the order is delivered" in page

    page = _page(client, reverse("orders:order", args=[first.number]))
    assert 'data-earning-status="available"' in page and "600 points, available since" in page
    assert "first-order bonus of 500 points" in page and "Paid with" not in page

    order_transition(order=order, to="cancelled", actor=Actor.staff(staff), reason="Out of stock")
    page = _page(client, reverse("orders:order", args=[order.number]))
    assert 'data-points-returned="600"' in page and "600 points given back to you" in page
    assert 'data-earning-status="reversed"' in page


def test_the_order_page_costs_a_fixed_number_of_queries(client, earned, django_assert_max_num_queries):
    buyer, address, *_ = earned
    order = _pickup_order(buyer, address, price="20.00", key="third", points="100")
    client.force_login(buyer)
    client.get(reverse("orders:order", args=[order.number]))
    with django_assert_max_num_queries(8):
        _page(client, reverse("orders:order", args=[order.number]))


def test_the_seller_sees_the_points_paid_and_the_money_to_collect(client, seller, earned):
    buyer, address, *_ = earned
    shop = ShopFactory()
    order = _pickup_order(
        buyer, address, price="20.00", key="third", points="600", variant=stocked_variant(shop=shop, price="20.00")
    )
    seller(client, role="owner", shop=shop)

    page = _page(client, reverse("orders_seller:detail", args=[shop.slug, order.number]))

    assert "Paid with 600 points ($6.00)" in page and "the platform pays the shop for them" in page
    assert "To pay in money" in page and "Paid $14.00 at the counter" in page


# --- 1-Click -----------------------------------------------------------------------------------------


def test_the_1_click_page_saves_use_points_and_shows_the_balance(client, staff):
    buyer, address = buyer_with_address()
    _give(buyer, 1234, staff)
    client.force_login(buyer)

    page = _page(client, reverse("orders:one-click"))
    assert 'name="use_points"' in page and "You have 1234 points available." in page
    assert 'name="use_points" role="switch" aria' in page  # not checked

    client.post(reverse("orders:one-click"), {"address": address.pk, "use_points": "on"})
    assert one_click_settings_get(user=buyer).use_points is True
    assert 'name="use_points" role="switch" checked' in _page(client, reverse("orders:one-click"))

    client.post(reverse("orders:one-click"), {"address": address.pk})
    assert one_click_settings_get(user=buyer).use_points is False

"""The loyalty journey in a real browser.

A buyer whose first order was delivered (made through the services in the setup: 100 points on
$100.00 plus the 500-point welcome bonus, now available) signs in and sees 600 points in the header,
opens the points page (balance, tier, the statement linking the order), checks out a $20.00 cart,
types 500 points (htmx recomputes the split: points −$5.00, to pay $15.00), pays on pickup, and
sees the points on the confirmation and on the order page (with the points this order earns,
pending), and 100 points left in the header and on the points page.

The live server runs in this process: Celery tasks run eagerly after commit in its thread.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import UserFactory
from apps.loyalty.models import LedgerEntry, LoyaltyAccount, Tier
from apps.loyalty.selectors import ledger_drift
from apps.orders.actors import Actor
from apps.orders.models import Checkout
from apps.orders.services import cart_add, cart_get_or_create, checkout_place, order_transition
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.shops.tests.factories import ShopFactory

from .test_buying_journey import Timer, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUYER_EMAIL = "siew.ling@example.com"
SHOP = "Joo Chiat Kueh House"
FIRST_TITLE = "Ondeh-ondeh box"
SECOND_TITLE = "Kueh lapis slab"


@pytest.fixture(autouse=True)
def _tiers():
    """The migration's tiers (an earlier browser test's flush of the database removed them)."""
    for code, name, min_spend, rate in (
        ("bronze", "Bronze", 0, "0.0100"),
        ("silver", "Silver", 30_000, "0.0200"),
        ("gold", "Gold", 100_000, "0.0300"),
    ):
        Tier.objects.get_or_create(code=code, defaults={"name": name, "min_spend": min_spend, "rate": Decimal(rate)})


def points_link(page: Page):
    return page.locator("header a.points-link")


def _first_order_delivered(buyer, address, shop) -> str:
    """The buyer's first order, paid on pickup and collected: its points become available."""
    staff = UserFactory(is_staff=True)
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(shop=shop, title=FIRST_TITLE, price="100.00", units=5))
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key="first-order",
        expected_total=Decimal("100.00"),
    )
    order = result.checkout.orders.get()
    for to in ("accepted", "packed", "ready_for_pickup", "delivered"):
        order_transition(order=order, to=to, actor=Actor.staff(staff))
    return order.number


def test_a_buyer_sees_their_points_and_pays_part_of_an_order_with_them(page: Page, live_server):
    timer = Timer("loyalty journey")
    shop = ShopFactory(name=SHOP, slug="joo-chiat-kueh")
    buyer, address = buyer_with_address(email=BUYER_EMAIL)
    first_number = _first_order_delivered(buyer, address, shop)
    assert LoyaltyAccount.objects.get(user=buyer).balance == 600
    cart_add(
        cart=cart_get_or_create(user=buyer),
        variant=stocked_variant(shop=shop, title=SECOND_TITLE, price="20.00", units=5),
    )
    timer.lap("data: a delivered order, a cart")
    try:
        # The header shows the balance (loaded by htmx after the page).
        sign_in(page, live_server, BUYER_EMAIL)
        expect(points_link(page)).to_have_text("Points (600)")
        timer.lap("sign in + header balance")

        # The points page: balance and its worth, tier, the way to Silver, the statement.
        points_link(page).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your points")
        facts = page.locator("main dl.loyalty-facts")
        expect(facts).to_contain_text("600 points")
        expect(facts).to_contain_text("worth $6.00")
        expect(facts).to_contain_text("Bronze: 1% back in points")
        expect(page.locator("main")).to_contain_text("Spend $300.00 more in 12 months to reach Silver.")
        statement = page.locator("main table.loyalty-statement tbody tr")
        # Earned and bonus, pending; then both out of pending and into available on delivery.
        expect(statement).to_have_count(6)
        expect(statement.filter(has_text="First purchase bonus")).to_contain_text("+500")
        expect(statement.first).to_contain_text(first_number)
        expect(statement.first).to_contain_text("Available")
        expect(statement.first.get_by_role("link", name=first_number)).to_have_attribute(
            "href", f"/orders/{first_number}/"
        )
        timer.lap("points page")

        # Checkout: use 500 of them; the split updates with the page's htmx refresh.
        page.goto("/checkout/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
        box = page.locator("main fieldset.checkout-points")
        expect(box).to_contain_text("You have 600 points (worth $6.00).")
        expect(box).to_contain_text("You can use up to 600 on this order.")
        expect(page.locator("main .checkout-total")).to_have_text("Total: $20.00")
        box.get_by_label("Points to use", exact=True).fill("500")
        box.get_by_label("Points to use", exact=True).press("Tab")  # the change event: htmx refreshes
        split = page.locator("main .checkout-split")
        expect(split).to_contain_text("Points: −$5.00")
        expect(split).to_contain_text("To pay: $15.00")
        expect(page.locator("main fieldset.checkout-points input[name=points]")).to_have_value("500")
        timer.lap("checkout + split")

        page.get_by_role("radio", name="Pay on pickup").check()
        page.get_by_role("button", name="Place order", exact=True).click()
        expect(page).to_have_url(re.compile(r"/checkout/C[A-Z2-9]{8}/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
        done = page.locator("main p.checkout-split")
        expect(done).to_contain_text("Paid with 500 points ($5.00)")
        expect(done).to_contain_text("To pay in money: $15.00")
        expect(points_link(page)).to_have_text("Points (100)")
        timer.lap("place order")

        checkout = Checkout.objects.get(buyer=buyer, points_used=500)
        order = checkout.orders.get()
        assert (order.points_used, order.points_value, order.amount_due) == (500, Decimal("5.00"), Decimal("15.00"))
        assert LedgerEntry.objects.get(kind="redeem").points == -500

        # The order page: the points paid, the money to pay, and the points this order earns.
        page.locator("main section.order-summary").get_by_role("link", name=order.number).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
        facts = page.locator("main dl.order-facts")
        expect(facts).to_contain_text("Paid with 500 points ($5.00)")
        expect(facts).to_contain_text("To pay in money")
        expect(facts).to_contain_text("$15.00")
        expect(page.locator("main section.order-points")).to_contain_text(
            "15 points, pending until the order is delivered or collected."
        )
        timer.lap("order page")

        # The points page again: 100 left, 15 pending on the new order.
        points_link(page).click()
        expect(page.locator("main dl.loyalty-facts")).to_contain_text("100 points")
        expect(page.locator("main ul.loyalty-pending")).to_contain_text(order.number)
        redeemed = page.locator("main table.loyalty-statement tbody tr").filter(has_text="Redeemed")
        expect(redeemed).to_contain_text("-500")
        expect(redeemed).to_contain_text(f"Used on order {order.number}")
        assert ledger_drift()[1] == []
        timer.lap("points page after")
    finally:
        print(timer.report())

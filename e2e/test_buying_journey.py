"""The buying journey in a real browser.

1. A buyer signs in, finds a product of one shop by search and puts 2 in the cart, finds a product
   of another shop and adds it, checks the cart (one section per shop, the total), checks out:
   adds an address from checkout's link and comes back to checkout, pays on pickup, and sees one
   order per shop on the confirmation and in "Your orders".
2. A buyer with a saved card (saved through localstripe server-side: Stripe.js cannot load offline)
   sets the 1-Click defaults on the site's 1-Click page, buys with "Buy now with 1-Click", lands on
   the confirmation with the card charged, then cancels: refund and stock back.
3. "Place order" sent twice at once (a double click that reaches the server twice) makes one checkout,
   and sent again after it was placed (a retry, Back and submit) shows the first one's confirmation.

The live server runs in this process: the ``settings`` changes of ``fake_stripe`` apply to it, Celery
tasks run eagerly after commit in its thread, and ``django.core.mail.outbox`` holds the mail.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.inventory.models import StockItem
from apps.orders.models import Checkout, Order
from apps.orders.services import cart_add, cart_get_or_create
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.payments.models import Payment
from apps.payments.selectors import payment_get_by_reference
from apps.payments.tests.conftest import fake_stripe, localstripe_server  # noqa: F401  (fixtures)
from apps.payments.tests.test_stripe_integration import save_card
from apps.shops.tests.factories import ShopFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUYER_EMAIL = "nurul.hakim@example.com"

JAM_SHOP = "Tiong Bahru Preserves"
JAM_TITLE = "Rambutan jam"
JAM_PRICE = "12.40"
JAM_UNITS = 6

SYRUP_SHOP = "Katong Sugar Works"
SYRUP_TITLE = "Gula melaka syrup"
SYRUP_PRICE = "9.50"
SYRUP_UNITS = 4

CART_TOTAL = "$34.30"  # 2 × 12.40 + 9.50
CART_TOTAL_AMOUNT = Decimal("34.30")

RECIPIENT = "Nurul Hakim"
ADDRESS_LINE = "21 Eng Hoon Street"
ADDRESS_POSTCODE = "169767"

ORDER_NUMBER = re.compile(r"^LB[A-Z2-9]{8}$")


# --- Helpers -------------------------------------------------------------------------------------


class Timer:
    """Wall-clock time of each step, printed at the end (visible with ``-s`` or on failure)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = self.last = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.steps.append((step, now - self.last))
        self.last = now

    def report(self) -> str:
        lines = [f"  {step:<32} {seconds:6.2f} s" for step, seconds in self.steps]
        return "\n".join([f"{self.name} timings:", *lines, f"  {'total':<32} {self.last - self.start:6.2f} s"])


def sign_in(page: Page, live_server, email: str) -> None:
    page.goto("/accounts/login/")
    form = page.locator("main form")
    form.locator("input[name=login]").fill(email)
    form.locator("input[name=password]").fill(DEFAULT_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("details.account-menu")).to_be_visible()


def account_menu(page: Page, link: str) -> None:
    """Open the header's account menu and follow one of its links, as a buyer does."""
    menu = page.locator("details.account-menu")
    menu.locator("summary").click()
    menu.get_by_role("link", name=link, exact=True).click()


def expect_message(page: Page, text: str) -> None:
    expect(page.locator("main .messages")).to_contain_text(text)


def search_and_open(page: Page, word: str, title: str, shop_name: str) -> None:
    """Search from the header's box; the product is the one result; open it."""
    box = page.get_by_role("searchbox", name="Search products and shops near you")
    box.fill(word)
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/search/\?q={word}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Results for “{word}”")
    results = page.locator("main ul.search-results > li")
    expect(results).to_have_count(1)
    expect(results).to_contain_text(shop_name)
    results.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("main .product-summary")).to_contain_text(f"by {shop_name}")


def add_to_cart(page: Page, title: str, quantity: int) -> None:
    panel = page.locator("form.buy-panel")
    panel.get_by_label("Quantity", exact=True).fill(str(quantity))
    panel.get_by_role("button", name="Add to cart", exact=True).click()
    expect_message(page, f"{title} (M) is in your cart.")  # the variant's option: size M
    expect(page.get_by_role("heading", level=1)).to_have_text(title)  # back on the product page


def cart_link(page: Page):
    return page.locator("header a.cart-link")


def stock_on_hand(variant) -> int:
    return StockItem.objects.get(variant=variant).on_hand


# --- 1. Search, cart from two shops, checkout paying on pickup ------------------------------------


def test_buyer_searches_fills_a_cart_from_two_shops_and_checks_out_paying_on_pickup(page: Page, live_server):
    timer = Timer("buying journey")
    jam = stocked_variant(
        shop=ShopFactory(name=JAM_SHOP, slug="tiong-bahru-preserves"),
        title=JAM_TITLE,
        price=JAM_PRICE,
        units=JAM_UNITS,
        sku="RJ-250",
    )
    syrup = stocked_variant(
        shop=ShopFactory(name=SYRUP_SHOP, slug="katong-sugar-works", address_line1="112 East Coast Road"),
        title=SYRUP_TITLE,
        price=SYRUP_PRICE,
        units=SYRUP_UNITS,
        sku="GM-500",
    )
    buyer = UserFactory(email=BUYER_EMAIL, first_name="Nurul", last_name="Hakim")  # no address yet
    try:
        sign_in(page, live_server, BUYER_EMAIL)
        timer.lap("sign in")

        # Shop A's product, by search: 2 in the cart.
        search_and_open(page, "rambutan", JAM_TITLE, JAM_SHOP)
        add_to_cart(page, JAM_TITLE, 2)
        expect(cart_link(page)).to_have_text("Cart (2)")
        # Shop B's product: 1 more.
        search_and_open(page, "melaka", SYRUP_TITLE, SYRUP_SHOP)
        add_to_cart(page, SYRUP_TITLE, 1)
        expect(cart_link(page)).to_have_text("Cart (3)")
        expect(cart_link(page).locator(".cart-count")).to_have_attribute("aria-label", "3 items")
        timer.lap("search + add to cart ×2")

        # The cart: one section per shop, and the total.
        cart_link(page).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
        sections = page.locator("main section.cart-shop")
        expect(sections).to_have_count(2)
        jam_section = sections.filter(has=page.get_by_role("heading", name=JAM_SHOP, exact=True))
        expect(jam_section.locator("tbody tr")).to_have_count(1)
        expect(jam_section.locator("tbody tr")).to_contain_text(JAM_TITLE)
        expect(jam_section.locator("tbody tr input[name=quantity]")).to_have_value("2")
        expect(jam_section.locator("tfoot")).to_contain_text("$24.80")
        syrup_section = sections.filter(has=page.get_by_role("heading", name=SYRUP_SHOP, exact=True))
        expect(syrup_section.locator("tbody tr")).to_contain_text(SYRUP_TITLE)
        expect(syrup_section.locator("tbody tr input[name=quantity]")).to_have_value("1")
        expect(syrup_section.locator("tfoot")).to_contain_text("$9.50")
        expect(page.locator("main .cart-total")).to_have_text(f"Total: {CART_TOTAL}")
        timer.lap("cart")

        # Checkout: no address yet, so add one from checkout's link and come back.
        page.get_by_role("button", name="Check out").click()  # a link styled as a button
        expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
        expect(page.locator("main")).to_contain_text("You have no saved address yet.")
        page.get_by_role("link", name="Add an address", exact=True).click()
        expect(page).to_have_url(re.compile(r"/accounts/addresses/new/\?next=/checkout/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Add an address")
        form = page.locator("main form")
        form.get_by_label("Recipient name", exact=True).fill(RECIPIENT)
        form.get_by_label("Phone", exact=True).fill("+65 9876 5432")
        form.get_by_label("Address", exact=True).fill(ADDRESS_LINE)
        form.get_by_label("Postcode", exact=True).fill(ADDRESS_POSTCODE)
        form.get_by_role("button", name="Save address").click()
        expect(page).to_have_url(f"{live_server.url}/checkout/")
        expect_message(page, "Address saved.")
        address = page.get_by_role("radio", name=f"{RECIPIENT}, {ADDRESS_LINE}, {ADDRESS_POSTCODE}")
        expect(address).to_be_checked()  # the first address is the default
        timer.lap("checkout + add an address")

        # One section per shop, each picked up at its shop; pay on pickup; place the order.
        expect(page.locator("main section.checkout-shop")).to_have_count(2)
        jam_group = page.get_by_role("region", name=JAM_SHOP)
        expect(jam_group).to_contain_text(f"2 × {JAM_TITLE}")
        expect(jam_group).to_contain_text("Pickup at the shop")
        expect(page.get_by_role("region", name=SYRUP_SHOP)).to_contain_text("112 East Coast Road")
        page.get_by_role("radio", name="Pay on pickup").check()  # the only way to pay: cards are off
        expect(page.locator("main .checkout-total")).to_have_text(f"Total: {CART_TOTAL}")
        mail.outbox.clear()
        # An impatient double click: one checkout all the same (Chromium sends the form once; the
        # server's idempotency key covers a second request, see the last tests).
        posts = []
        page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
        page.get_by_role("button", name="Place order", exact=True).dblclick()

        # The confirmation: two orders, one per shop.
        expect(page).to_have_url(re.compile(r"/checkout/C[A-Z2-9]{8}/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
        expect(page.locator("main [role=status]").first).to_contain_text(
            "Your 2 orders are placed, one per shop. You pay when you pick them up."
        )
        summaries = page.locator("main section.order-summary")
        expect(summaries).to_have_count(2)
        checkout = Checkout.objects.get(buyer=buyer)  # one, after the double click
        print(f"Place order double click: {len(posts)} POST request(s) sent")
        orders = list(checkout.orders.select_related("shop").order_by("pk"))
        numbers = {order.shop.name: order.number for order in orders}
        assert set(numbers) == {JAM_SHOP, SYRUP_SHOP}
        for shop_name, number in numbers.items():
            assert ORDER_NUMBER.match(number), number
            summary = summaries.filter(has=page.get_by_role("heading", name=f"{number} · {shop_name}"))
            expect(summary).to_contain_text("Confirmed (pay on pickup)")
        expect(page.locator("main")).to_contain_text(f"Total paid or due: {CART_TOTAL}")
        expect(page.get_by_role("button", name="Cancel this order")).to_have_count(0)  # 1-Click only
        expect(cart_link(page)).to_have_text("Cart")  # empty now
        timer.lap("place order + confirmation")

        # In the database: confirmed orders, stock sold, one email per order.
        assert (checkout.status, checkout.payment_method, checkout.total) == (
            "placed",
            "pay_on_pickup",
            CART_TOTAL_AMOUNT,
        )
        assert [order.status for order in orders] == [Order.Status.CONFIRMED] * 2
        assert stock_on_hand(jam) == JAM_UNITS - 2
        assert stock_on_hand(syrup) == SYRUP_UNITS - 1
        assert (checkout.address["recipient"], checkout.address["lines"]) == (RECIPIENT, [ADDRESS_LINE])
        # Per order: the confirmation, and its tax invoice (issued by a task after the checkout commits).
        subjects = sorted(m.subject for m in mail.outbox if m.to == [BUYER_EMAIL])
        confirmations = [f"Your order {number} from {shop}" for shop, number in numbers.items()]
        invoices = [s for s in subjects if s.startswith("Your tax invoice INV-")]
        assert sorted(set(subjects) - set(invoices)) == sorted(confirmations), subjects
        assert sorted(s.rsplit(" ", 1)[1] for s in invoices) == sorted(numbers.values()), subjects

        # "Your orders", from the account menu: both orders; open one.
        account_menu(page, "Your orders")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your orders")
        rows = page.locator("main table.order-table tbody tr")
        expect(rows).to_have_count(2)
        for shop_name, number in numbers.items():
            row = rows.filter(has=page.get_by_role("link", name=number, exact=True))
            expect(row).to_contain_text(shop_name)
            expect(row).to_contain_text("Confirmed (pay on pickup)")
        rows.get_by_role("link", name=numbers[JAM_SHOP], exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {numbers[JAM_SHOP]}")
        facts = page.locator("main dl.order-facts")
        expect(facts).to_contain_text(JAM_SHOP)
        expect(facts).to_contain_text("Pay on pickup")
        line = page.locator("main table.order-lines tbody tr")
        expect(line).to_have_count(1)
        expect(line).to_contain_text(JAM_TITLE)
        expect(line).to_contain_text("RJ-250")
        expect(page.locator("main table.order-lines tfoot")).to_contain_text("$24.80")
        timer.lap("order list + order page")
    finally:
        print(timer.report())


# --- 2. 1-Click with a saved card ------------------------------------------------------------------


def test_one_click_with_a_saved_card_then_cancel(page: Page, live_server, fake_stripe):  # noqa: F811
    timer = Timer("1-Click journey")
    kueh = stocked_variant(
        shop=ShopFactory(name="Joo Chiat Kueh House", slug="joo-chiat-kueh"),
        title="Ondeh-ondeh box",
        price="7.50",
        units=5,
        sku="OO-6",
    )
    buyer, address = buyer_with_address(email=BUYER_EMAIL)
    card = save_card(fake_stripe, buyer)  # what the Saved cards page does with Stripe.js
    timer.lap("data + saved card")
    try:
        sign_in(page, live_server, BUYER_EMAIL)

        # The 1-Click defaults, on the site's page.
        account_menu(page, "1-Click Buying")
        expect(page.get_by_role("heading", level=1)).to_have_text("1-Click Buying")
        page.get_by_role("switch", name="Use 1-Click").check()
        page.get_by_label("Default address", exact=True).select_option(str(address.pk))
        page.get_by_label("Default card", exact=True).select_option(str(card.pk))
        page.get_by_role("button", name="Save", exact=True).click()
        expect_message(page, "1-Click settings saved.")
        expect(page.get_by_role("switch", name="Use 1-Click")).to_be_checked()
        expect(page.get_by_label("Default card", exact=True)).to_have_value(str(card.pk))
        timer.lap("sign in + 1-Click settings")

        # The product page offers 1-Click; buy 2.
        search_and_open(page, "ondeh", "Ondeh-ondeh box", "Joo Chiat Kueh House")
        panel = page.locator("form.buy-panel")
        expect(panel).to_contain_text(f"Card ending {card.last4} · pickup at the shop · {address.line1}")
        panel.get_by_label("Quantity", exact=True).fill("2")
        panel.get_by_role("button", name="Buy now with 1-Click").click()

        expect(page).to_have_url(re.compile(r"/checkout/C[A-Z2-9]{8}/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
        expect(page.locator("main section.order-summary")).to_contain_text("2 × Ondeh-ondeh box")
        expect(page.locator("main section.order-summary")).to_contain_text("Paid")
        cancel = page.get_by_role("button", name="Cancel this order")
        expect(cancel).to_be_visible()
        timer.lap("1-Click buy")

        checkout = Checkout.objects.get(buyer=buyer)
        order = checkout.orders.get()
        assert (checkout.channel, checkout.status, order.status) == ("one_click", "placed", "paid")
        assert order.total == Decimal("15.00")
        payment = payment_get_by_reference(reference=checkout.number)
        assert (payment.status, payment.saved_card_id) == (Payment.Status.SUCCEEDED, card.pk)
        intents = fake_stripe.payment_intents()
        assert [(i.status, i.amount, i.currency) for i in intents] == [("succeeded", 1500, "sgd")]
        assert stock_on_hand(kueh) == 3
        subjects = sorted(m.subject for m in mail.outbox if m.to == [BUYER_EMAIL])
        assert subjects[0].startswith("Your order ") and subjects[1].startswith("Your tax invoice INV-"), subjects
        assert subjects[0] == f"Your order {order.number} from Joo Chiat Kueh House"
        assert subjects[1].endswith(f"for order {order.number}") and len(subjects) == 2

        # Changed their mind: cancel, within the window.
        cancel.click()
        expect_message(page, "Your order is cancelled. Any payment is refunded to your card.")
        expect(page.locator("main")).to_contain_text("Cancelled.")
        expect(page.get_by_role("button", name="Cancel this order")).to_have_count(0)
        timer.lap("cancel")

        checkout.refresh_from_db()
        order.refresh_from_db()
        payment.refresh_from_db()
        assert (checkout.status, order.status, order.amount_refunded) == ("cancelled", "cancelled", Decimal("15.00"))
        assert (payment.status, payment.amount_refunded) == (Payment.Status.REFUNDED, Decimal("15.00"))
        refunds = list(fake_stripe.client.v1.refunds.list(params={"limit": 10}).data)
        assert [(r.amount, r.payment_intent) for r in refunds] == [(1500, intents[0].id)]
        assert stock_on_hand(kueh) == 5  # back on the shelf
    finally:
        print(timer.report())


# --- 3. "Place order" sent twice ------------------------------------------------------------------


def _open_checkout_with_a_cart(page: Page, live_server):
    jam = stocked_variant(title=JAM_TITLE, price=JAM_PRICE, units=JAM_UNITS)
    buyer, _address = buyer_with_address(email=BUYER_EMAIL)
    cart_add(cart=cart_get_or_create(user=buyer), variant=jam, quantity=2)
    sign_in(page, live_server, BUYER_EMAIL)
    page.goto("/checkout/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    return buyer, jam


# Posts the checkout form twice (the same page: the same idempotency key) with fetch, ``together``
# or one after the other, and returns the path each request ended on after its redirects.
POST_CHECKOUT_TWICE = """async (together) => {
    const form = document.querySelector("main form.checkout-form");
    const send = () => fetch(location.href, {method: "POST", body: new FormData(form)})
        .then((response) => new URL(response.url).pathname);
    if (together) return Promise.all([send(), send()]);
    const first = await send();
    return [first, await send()];
}"""


def test_place_order_sent_twice_at_once_makes_one_checkout(page: Page, live_server):
    buyer, jam = _open_checkout_with_a_cart(page, live_server)

    landed = page.evaluate(POST_CHECKOUT_TWICE, True)

    checkout = Checkout.objects.get(buyer=buyer)
    assert Checkout.objects.count() == 1 and checkout.orders.count() == 1
    assert stock_on_hand(jam) == JAM_UNITS - 2  # sold once
    done = f"/checkout/{checkout.number}/"
    assert landed == [done, done], landed  # both show the one confirmation


def test_place_order_sent_again_after_it_was_placed_shows_the_confirmation(page: Page, live_server):
    """A retry (the first response lost, or Back and submit again) finds the first checkout."""
    buyer, jam = _open_checkout_with_a_cart(page, live_server)

    landed = page.evaluate(POST_CHECKOUT_TWICE, False)

    checkout = Checkout.objects.get(buyer=buyer)
    assert Checkout.objects.count() == 1 and stock_on_hand(jam) == JAM_UNITS - 2
    assert landed == [f"/checkout/{checkout.number}/"] * 2, landed

"""Buyer–seller messaging in two real browsers at once: a conversation about an order.

A buyer who ordered a celadon bowl opens the order page and messages the shop about the order (a
link to a glaze guide and a ``<script>`` in the text). The shop's manager, who has the inbox open in
another browser, sees the conversation appear without reloading (htmx polling), opens it (the link
is clickable, the script is shown as text and never runs) and replies. The buyer, who kept the
conversation open, sees the reply appear without reloading, and the "Read" receipt on their own
message.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.messaging.models import Conversation, Message
from apps.orders.services import cart_add, cart_get_or_create, checkout_place
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .conftest import DEFAULT_TIMEOUT_MS

pytestmark = pytest.mark.django_db(transaction=True)

BUYER_EMAIL = "nur@example.com"
MANAGER_EMAIL = "rahim@example.com"
GUIDE_URL = "https://glaze.example.com/care"
SCRIPT = "<script>window.__pwned = 1</script>"
QUESTION = f"Hello! Is the bowl food safe? I read {GUIDE_URL} first. {SCRIPT}"
REPLY = "Yes, the celadon glaze is food safe. Your bowl is ready on Saturday."
# Both pages poll every few seconds: allow a few rounds.
POLL_TIMEOUT_MS = max(DEFAULT_TIMEOUT_MS, 20_000)


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.locator("main form input[name=login]").fill(email)
    page.locator("main form input[name=password]").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("details.account-menu")).to_be_visible()


def mark_no_reload(page: Page) -> None:
    """A flag on the window: it survives htmx swaps and disappears if the page reloads."""
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_a_buyer_and_the_shop_talk_about_an_order_live(page: Page, browser, live_server):
    shop = ShopFactory(name="Katong Clay Studio", offers_pickup=True)
    bowl = stocked_variant(shop=shop, price="24.00", units=5, title="Celadon bowl", sku="BOWL-1")
    manager = UserFactory(email=MANAGER_EMAIL, first_name="Rahim")
    MembershipFactory(shop=shop, user=manager, role="manager")
    buyer, address = buyer_with_address(email=BUYER_EMAIL, first_name="Nur")
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=bowl, quantity=1)
    order = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key="messaging-journey",
        expected_total=Decimal("24.00"),
    ).checkout.orders.get()

    # The manager has the shop's inbox open in their own browser: nothing yet.
    seller_context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="Asia/Singapore")
    seller_context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    seller = seller_context.new_page()
    try:
        sign_in(seller, MANAGER_EMAIL)
        seller.goto(f"/sell/{shop.slug}/messages/")
        expect(seller.locator("#inbox-list tr[data-conversation]")).to_have_count(0)
        mark_no_reload(seller)

        # The buyer writes to the shop from the order page.
        sign_in(page, BUYER_EMAIL)
        page.goto(f"/orders/{order.number}/")
        page.get_by_role("link", name="Message the shop about this order").click()
        expect(page.locator("main")).to_contain_text(order.number)
        page.get_by_label("Message", exact=True).fill(QUESTION)
        page.get_by_role("button", name="Send").click()
        thread = page.locator("#thread")
        own = thread.locator("article.message-own")
        expect(own).to_have_count(1)
        expect(own.locator(".message-receipt")).to_have_text("Sent")
        conversation = Conversation.objects.get(buyer=buyer, shop=shop)
        assert conversation.order_id == order.pk and conversation.subject_key == f"order:{order.pk}"
        mark_no_reload(page)

        # The conversation appears in the manager's inbox by itself, unread, about the order.
        row = seller.locator(f"#inbox-list tr[data-conversation='{conversation.pk}']")
        expect(row).to_be_visible(timeout=POLL_TIMEOUT_MS)
        expect(row).to_contain_text(f"Order {order.number}")
        expect(row.locator("[data-unread]")).to_be_visible()
        expect(row).to_contain_text("Hello! Is the bowl food safe?")
        assert_not_reloaded(seller)

        # The manager opens it: the link is a real link, the script is text and did not run.
        row.get_by_role("link", name="Hello! Is the bowl food safe?").click()
        message = seller.locator("#thread article.message-from-buyer")
        expect(message).to_have_count(1)
        link = message.get_by_role("link", name=GUIDE_URL)
        expect(link).to_have_attribute("href", GUIDE_URL)
        expect(link).to_have_attribute("rel", "nofollow noopener ugc")
        expect(message.locator(".message-body")).to_contain_text(SCRIPT)
        assert message.locator("script").count() == 0
        assert seller.evaluate("window.__pwned") is None
        assert page.evaluate("window.__pwned") is None

        seller.get_by_label("Reply", exact=True).fill(REPLY)
        seller.get_by_role("button", name="Send").click()
        expect(seller.locator("#thread article.message-own")).to_contain_text(REPLY)
        assert Message.objects.filter(conversation=conversation).count() == 2

        # The buyer, who kept the page open, sees the reply come in and their message read.
        reply = thread.locator("article.message-from-shop")
        expect(reply).to_contain_text(REPLY, timeout=POLL_TIMEOUT_MS)
        expect(reply).to_contain_text("Katong Clay Studio")
        expect(own.locator(".message-receipt[data-read]")).to_have_text("Read", timeout=POLL_TIMEOUT_MS)
        assert_not_reloaded(page)
        assert page.evaluate("window.__pwned") is None
    finally:
        seller_context.close()

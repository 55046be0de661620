"""The order engine in a real browser: orders from two channels worked through to the end.

A buyer's web order (pay on pickup) and a till order sent by the shop's POS through the API
(``POST /api/v1/orders`` with the shop's key, processed by the intake pipeline) land in the shop's
queue. The manager accepts both in one bulk action, packs the web order, marks it ready and
collected, cancels the till order with a reason (it was paid at the till: refunded in full, stock
back). The buyer follows the order's timeline and opens its tax invoice. A third order, from the
phone desk, keeps failing at its payment step until it is a dead letter; a staff member signs in with
MFA, finds it in the back office and re-pushes it after the fault is gone: the order is made.

Celery tasks run eagerly after commit in this process (the live server's thread).
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from decimal import Decimal

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory, current_totp, totp_device_for
from apps.inventory.models import StockItem
from apps.orders.models import Order, OrderIntake
from apps.orders.services import cart_add, cart_get_or_create, checkout_place
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.shops.models import ApiScope
from apps.shops.tests.factories import MembershipFactory, ShopFactory, api_key_for

pytestmark = pytest.mark.django_db(transaction=True)

MANAGER_EMAIL = "rahim@example.com"
STAFF_EMAIL = "ops@example.com"


def sign_in(page: Page, email: str, *, device=None) -> None:
    page.goto("/accounts/login/")
    page.locator("main form input[name=login]").fill(email)
    page.locator("main form input[name=password]").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    if device is not None:
        page.locator("main form input[name=code]").fill(current_totp(device))
        page.get_by_role("button", name="Verify").click()
    expect(page.locator("details.account-menu")).to_be_visible()


def sign_out(page: Page) -> None:
    page.context.clear_cookies()


def api_post(live_server, path: str, key: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310  (the live server on 127.0.0.1)
        live_server.url + path,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Api-Key {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": body["external_ref"],
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def expect_message(page: Page, text: str) -> None:
    expect(page.locator("main .messages")).to_contain_text(text)


def test_orders_from_two_channels_are_worked_to_the_end_and_a_dead_letter_is_re_pushed(page: Page, live_server):
    shop = ShopFactory(name="Katong Clay Studio", offers_pickup=True)
    bowl = stocked_variant(shop=shop, price="24.00", units=10, title="Celadon bowl", sku="BOWL-1")
    cup = stocked_variant(shop=shop, price="9.50", units=10, title="Tea cup", sku="CUP-1")
    manager = UserFactory(email=MANAGER_EMAIL)
    MembershipFactory(shop=shop, user=manager, role="manager")
    _key, raw_key = api_key_for(shop, [ApiScope.ORDERS])

    # A buyer's web order, paying at the counter.
    buyer, address = buyer_with_address(email="nur@example.com")
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=bowl, quantity=1)
    web = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key="journey-web",
        expected_total=Decimal("24.00"),
    ).checkout.orders.get()

    # The shop's till sends an order it was paid for.
    status, body = api_post(
        live_server,
        "/api/v1/orders",
        raw_key,
        {
            "channel": "pos",
            "external_ref": "TILL-0042",
            "currency": "SGD",
            "customer": {"name": "Walk-in Wong", "email": "wong@example.com"},
            "fulfilment": "pickup",
            "payment": "paid",
            "lines": [{"sku": "CUP-1", "quantity": 2, "unit_price": "9.50"}],
        },
    )
    assert status == 202, body
    till = Order.objects.get(channel="pos", external_ref="TILL-0042")
    assert till.status == Order.Status.PAID
    assert StockItem.objects.get(variant=cup).on_hand == 8

    # The manager's queue: both orders need action; accept them together.
    sign_in(page, MANAGER_EMAIL)
    page.goto(f"/sell/{shop.slug}/orders/")
    rows = page.locator("table.order-table tbody tr[data-order]")
    expect(rows).to_have_count(2)
    page.get_by_label(f"Select order {web.number}").check()
    page.get_by_label(f"Select order {till.number}").check()
    page.get_by_label("Action").select_option("accepted")
    page.get_by_role("button", name="Apply to selected").click()
    expect_message(page, "2")
    assert set(Order.objects.filter(shop=shop).values_list("status", flat=True)) == {"accepted"}

    # The web order: packed, ready for pickup, collected.
    page.goto(f"/sell/{shop.slug}/orders/{web.number}/")
    for button, status in (
        ("Packed", "packed"),
        ("Ready for pickup", "ready_for_pickup"),
        ("Collected by the buyer", "delivered"),
    ):
        page.locator(f"form.order-action[data-action={status}]").get_by_role("button", name=button).click()
        expect(page.locator("dd[data-status]")).to_have_attribute("data-status", status)
    timeline = page.locator("main")
    for text in ("Accepted", "Packed", "Ready for pickup", "Delivered", MANAGER_EMAIL):
        expect(timeline).to_contain_text(text)

    # The till order: cancelled with a reason; it was paid, so it is refunded and the cups go back.
    page.goto(f"/sell/{shop.slug}/orders/{till.number}/")
    cancel = page.locator("form.order-action[data-action=cancelled]")
    cancel.locator("input[name=reason]").fill("Cracked glaze, customer chose another set")
    cancel.locator("button").click()
    expect(page.locator("dd[data-status]")).to_have_attribute("data-status", "cancelled")
    till.refresh_from_db()
    assert (till.status, till.amount_refunded) == (Order.Status.CANCELLED, Decimal("19.00"))
    assert StockItem.objects.get(variant=cup).on_hand == 10
    assert any("wong@example.com" in m.to for m in mail.outbox)

    # The buyer follows the order and opens the tax invoice.
    sign_out(page)
    sign_in(page, "nur@example.com")
    page.goto(f"/orders/{web.number}/")
    main = page.locator("main")
    for text in ("The shop accepted your order", "Your order is packed", "Ready for you to collect", "Delivered"):
        expect(main.locator("ol.order-timeline")).to_contain_text(text)
    expect(main).not_to_contain_text(MANAGER_EMAIL)  # the buyer sees "the shop", not staff emails
    page.get_by_role("link", name=re.compile("invoice", re.I)).first.click()
    expect(page.locator("main")).to_contain_text("INV-")
    expect(page.locator("main")).to_contain_text("GST")

    # A phone-desk order whose payment step keeps failing lands in the dead-letter queue.
    os.environ["ORDER_PIPELINE_FAIL_STEP"] = "payment"
    try:
        status, body = api_post(
            live_server,
            "/api/v1/orders",
            raw_key,
            {
                "channel": "phone",
                "external_ref": "PHONE-7",
                "currency": "SGD",
                "customer": {"name": "Madam Lim", "phone": "+65 6345 1234"},
                "fulfilment": "pickup",
                "payment": "pay_on_pickup",
                "lines": [{"sku": "BOWL-1", "quantity": 1, "unit_price": "24.00"}],
            },
        )
    finally:
        del os.environ["ORDER_PIPELINE_FAIL_STEP"]
    intake = OrderIntake.objects.get(external_ref="PHONE-7")
    assert (intake.status, intake.step, intake.attempts) == ("dead_letter", "payment", 10)

    # Staff (with MFA) find it in the back office and push it through again.
    staff = UserFactory(email=STAFF_EMAIL, is_staff=True)
    device = totp_device_for(staff)
    sign_out(page)
    sign_in(page, STAFF_EMAIL, device=device)
    page.goto("/backoffice/orders/incoming/")
    expect(page.locator("main")).to_contain_text("PHONE-7")
    page.get_by_role("link", name="PHONE-7").click()
    expect(page.locator("main")).to_contain_text("Payment")
    page.get_by_role("button", name="Fix and re-push").click()
    expect(page.locator("dd[data-status]")).to_have_attribute("data-status", "done")
    intake.refresh_from_db()
    assert intake.order is not None and intake.order.status == Order.Status.CONFIRMED

"""Same-day delivery in a real browser, from the slot to the doorstep.

A buyer near a Tiong Bahru shop picks tomorrow's 10:00–12:00 slot at checkout (its fee added to the
total) and places the order. At the slot's cut-off the run is built (the beat job's service, at a
time past the cut-off); the shop's manager accepts and packs the order, opens the delivery board for
that day and presses "Courier left": the order is out for delivery. The delivery partner reports it
delivered through the logistics API with the shop's logistics key, and the buyer's order page says
so. Celery tasks run eagerly after commit in this process.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.core.geo import sg_postal_district
from apps.delivery.models import Courier, DeliveryRun, DeliverySlot, DeliveryZone, SlotBooking
from apps.delivery.services_runs import delivery_run_build
from apps.orders.actors import Actor
from apps.orders.models import Order
from apps.orders.services import cart_add, cart_get_or_create, order_transition
from apps.orders.tests.factories import buyer_with_address, stocked_variant
from apps.shops.models import ApiScope
from apps.shops.tests.factories import MembershipFactory, ShopFactory, api_key_for

pytestmark = pytest.mark.django_db(transaction=True)

SG = ZoneInfo("Asia/Singapore")
BUYER_EMAIL = "siew.ling@example.com"
MANAGER_EMAIL = "hafiz@example.com"


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.locator("main form input[name=login]").fill(email)
    page.locator("main form input[name=password]").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("details.account-menu")).to_be_visible()


def test_a_buyer_books_a_slot_and_the_order_is_delivered_through_the_logistics_api(page: Page, live_server):
    district = sg_postal_district("168898")  # Tiong Bahru, where the buyer lives
    shop = ShopFactory(
        name="Tiong Bahru Bakes",
        latitude=district.point.latitude,
        longitude=district.point.longitude,
        time_zone="Asia/Singapore",
        currency="SGD",
        offers_pickup=True,
    )
    DeliveryZone.objects.create(shop=shop, radius_km=Decimal("5"), fee=Decimal("4.00"), free_above=Decimal("80"))
    tomorrow = (datetime.now(SG) + timedelta(days=1)).date()
    slot = DeliverySlot.objects.create(
        shop=shop, weekday=tomorrow.weekday(), starts=time(10), ends=time(12), cutoff=time(9), capacity=5
    )
    Courier.objects.create(shop=shop, name="Kumar", phone="+65 9000 1111", email="kumar@example.com")
    cake = stocked_variant(shop=shop, price="18.00", units=5, title="Pandan chiffon cake", sku="PCC-1")
    manager = UserFactory(email=MANAGER_EMAIL)
    MembershipFactory(shop=shop, user=manager, role="manager")
    _key, logistics_key = api_key_for(shop, [ApiScope.LOGISTICS])
    buyer, _address = buyer_with_address(email=BUYER_EMAIL)
    cart_add(cart=cart_get_or_create(user=buyer), variant=cake, quantity=1)

    # Checkout: tomorrow's slot, with its fee in the total; pay the courier.
    sign_in(page, BUYER_EMAIL)
    page.goto("/checkout/")
    choice = page.locator(f"input[name=fulfilment_{shop.pk}][value^='delivery:{slot.pk}:{tomorrow.isoformat()}']")
    expect(choice).to_have_count(1)
    expect(page.locator("fieldset.fulfilment-choice")).to_contain_text("order by 09:00")
    choice.check()
    page.get_by_role("button", name="Update delivery options and total").click()
    expect(page.locator("main")).to_contain_text("22.00")  # 18.00 + 4.00 delivery
    page.locator("input[name=payment_method][value=pay_on_pickup]").check()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("main")).to_contain_text("Tiong Bahru Bakes")
    order = Order.objects.get(buyer=buyer)
    assert (order.fulfilment, order.delivery_fee, order.total) == ("delivery", Decimal("4.00"), Decimal("22.00"))
    booking = SlotBooking.objects.get(reference=order.number)
    assert (booking.slot_id, booking.date, booking.status) == (slot.pk, tomorrow, "confirmed")

    # The slot's cut-off passes: the run is built; the shop accepts and packs the order.
    run = delivery_run_build(slot=slot, date=tomorrow, now=datetime.combine(tomorrow, time(9, 1), tzinfo=SG))
    assert run is not None and run.courier.name == "Kumar" and run.stops.count() == 1
    for to in (Order.Status.ACCEPTED, Order.Status.PACKED):
        order_transition(order=order, to=to, actor=Actor.staff(UserFactory(is_staff=True)))

    # The manager's delivery board for that day: the courier leaves.
    page.context.clear_cookies()
    sign_in(page, MANAGER_EMAIL)
    page.goto(f"/sell/{shop.slug}/delivery/board/?date={tomorrow.isoformat()}")
    expect(page.locator("main")).to_contain_text(order.number)
    expect(page.locator("main")).to_contain_text("Kumar")
    page.get_by_role("button", name="Courier left").click()
    expect(page.locator("main")).to_contain_text("On the road")
    order.refresh_from_db()
    assert order.status == Order.Status.OUT_FOR_DELIVERY
    assert DeliveryRun.objects.get(pk=run.pk).status == "started"

    # The delivery partner reports it delivered.
    request = urllib.request.Request(  # noqa: S310  (the live server on 127.0.0.1)
        f"{live_server.url}/api/v1/logistics/orders/{order.number}/delivered",
        data=json.dumps({}).encode(),
        headers={"Authorization": f"Api-Key {logistics_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        assert response.status == 200, response.read()
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert any(BUYER_EMAIL in m.to and "on its way" in m.subject for m in mail.outbox)

    # The buyer sees it.
    page.context.clear_cookies()
    sign_in(page, BUYER_EMAIL)
    page.goto(f"/orders/{order.number}/")
    expect(page.locator("main")).to_contain_text("Delivered")
    expect(page.locator("main")).to_contain_text("10:00")

"""The stock journey in a real browser: an inventory manager receives a delivery, sets a low-stock
threshold, watches the dashboard's stock panel change by itself while orders come in (no reload),
gets one low-stock alert email, and uploads a stock count whose bad line is reported.

The orders are checkouts made by this test through the inventory services (the orders app's door),
while the page stays open; Celery tasks run eagerly after commit in this process.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.models import InventoryAlert, StockItem, StockMovement
from apps.inventory.services import LineRequest, reservation_commit, stock_receive, stock_reserve
from apps.shops.tests.factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db(transaction=True)

MANAGER_EMAIL = "siti@example.com"


def label(text: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(text)}:?$")


def _sell(variant, units: int, reference: str) -> None:
    stock_reserve(shop=variant.shop, reference=reference, lines=[LineRequest(variant.pk, units)])
    reservation_commit(reference=reference)


def test_inventory_manager_receives_stock_and_sees_sales_live(page: Page, live_server, tmp_path: Path):
    shop = ShopFactory(name="Tiong Bahru Teas")
    teapot = VariantFactory(product=ProductFactory(shop=shop, title="Clay teapot"), sku="TEAPOT-1", options={})
    cups = VariantFactory(product=ProductFactory(shop=shop, title="Tea cups"), sku="CUPS-6", options={})
    stock_receive(variant=cups, quantity=20)
    user = UserFactory(email=MANAGER_EMAIL)
    MembershipFactory(shop=shop, user=user, role="inventory_manager")

    page.goto("/accounts/login/")
    page.locator("main form input[name=login]").fill(MANAGER_EMAIL)
    page.locator("main form input[name=password]").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("details.account-menu")).to_be_visible()

    # Receive a delivery of teapots.
    page.goto(f"/sell/{shop.slug}/stock/")
    page.get_by_role("button", name="Receive stock").click()
    page.get_by_label(label("SKU")).fill("TEAPOT-1")
    page.get_by_label(label("Units")).fill("12")
    page.get_by_label(label("Reason")).fill("supplier delivery")
    page.get_by_label(label("Reference")).fill("PO-311")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main .messages")).to_contain_text("Stock received.")
    expect(page.locator(".stock-levels")).to_contain_text("12")
    movement = StockMovement.objects.get(item__variant=teapot, kind="receipt")
    assert (movement.actor, movement.reference) == (user, "PO-311")

    # Alert when fewer than 5 are left.
    page.get_by_label(label("Low-stock threshold")).fill("5")
    page.get_by_role("button", name="Save threshold").click()
    expect(page.locator("main .messages")).to_contain_text("Low-stock threshold saved.")

    # The dashboard's stock panel, left open while orders come in.
    page.goto(f"/sell/{shop.slug}/")
    available = page.locator("#stock-live [data-stock-available]")
    expect(available).to_have_text("32")
    mail.outbox.clear()
    _sell(teapot, 4, "WEB-1001")
    expect(available).to_have_text("28", timeout=12_000)  # polled, no reload
    expect(page.locator("#stock-live .stock-feed")).to_contain_text("WEB-1001")
    _sell(teapot, 4, "WEB-1002")  # 4 teapots left: below 5
    _sell(teapot, 1, "WEB-1003")
    expect(available).to_have_text("23", timeout=12_000)
    expect(page.locator("#stock-live")).to_contain_text("1 item is low on stock")
    assert InventoryAlert.objects.filter(shop=shop, kind="low_stock").count() == 1
    alerts = [m for m in mail.outbox if "Low stock" in m.subject]
    assert len(alerts) == 1 and alerts[0].to == [MANAGER_EMAIL]

    # A stock count from the shelves, with one SKU that does not exist.
    count_file = tmp_path / "count.csv"
    count_file.write_text("sku,counted\nTEAPOT-1,2\nCUPS-6,20\nMUGS-2,4\n", encoding="utf-8")  # one teapot broke
    page.goto(f"/sell/{shop.slug}/stock/counts/")
    page.get_by_label(label("CSV file")).set_input_files(str(count_file))
    page.get_by_role("button", name="Upload and apply").click()
    expect(page.locator("#count-progress")).to_contain_text("Done")
    expect(page.locator("#count-progress-bar")).to_have_attribute("value", "100")
    errors = page.locator("table.import-errors")
    expect(errors).to_contain_text("MUGS-2")
    expect(errors.locator("tbody tr").first.locator("td").first).to_have_text("4")
    expect(page.locator(".import-summary")).to_contain_text("Adjusted")
    assert StockItem.objects.get(variant=teapot).on_hand == 2  # 12 received, 9 sold, counted 2
    adjustment = StockMovement.objects.get(item__variant=teapot, kind="adjustment")
    assert (adjustment.quantity, adjustment.reason, adjustment.actor) == (-1, "stock count", user)
    assert not StockMovement.objects.filter(item__variant=cups, kind="adjustment").exists()  # count matched

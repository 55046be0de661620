"""The seller's stock pages: the live table, one item's history and threshold, the change forms
(who may use them, what bad input gets), locations, alert settings and the dashboard panel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.models import InventorySettings, StockItem, StockLocation, StockMovement
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    stock_location_create,
    stock_receive,
    stock_reserve,
)
from apps.shops.tests.factories import ShopFactory

from .checks import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    shop = ShopFactory()
    stock_receive(
        variant=VariantFactory(product=ProductFactory(shop=shop, title="Indigo sarong"), sku="SAR-M"), quantity=10
    )
    stock_location_create(shop=shop, name="Back room", kind="warehouse")
    return shop


def url(name: str, shop, **kwargs) -> str:
    return reverse(f"inventory_seller:{name}", kwargs={"shop_slug": shop.slug, **kwargs})


def _item(shop, sku="SAR-M", location="Main store") -> StockItem:
    return StockItem.objects.get(shop=shop, variant__sku=sku, location__name=location)


def test_every_role_sees_the_stock_table(client, seller, shop):
    for role in ("owner", "manager", "inventory_manager", "warehouse_staff"):
        seller(client, role=role, shop=shop)
        response = client.get(url("list", shop))
        assert response.status_code == 200
        assert "Indigo sarong (M)" in response.content.decode()


def test_the_table_searches_filters_and_keeps_its_query_count(client, seller, shop, django_assert_max_num_queries):
    seller(client, role="manager", shop=shop)
    for n in range(30):
        stock_receive(variant=VariantFactory(product=ProductFactory(shop=shop, title=f"Teapot {n}")), quantity=n + 1)
    with django_assert_max_num_queries(12):
        page = client.get(url("list", shop)).content.decode()
    assert page.count('data-item="') == 31

    page = client.get(url("list", shop), {"q": "sar-m"}).content.decode()
    assert page.count('data-item="') == 1
    item = _item(shop)
    StockItem.objects.filter(pk=item.pk).update(low_stock_threshold=20)
    page = client.get(url("list", shop), {"low": "1"}).content.decode()
    assert page.count('data-item="') == 1 and "SAR-M" in page
    back_room = StockLocation.objects.get(shop=shop, name="Back room")
    assert 'data-item="' not in client.get(url("list", shop), {"location": back_room.pk}).content.decode()


def test_htmx_refresh_returns_only_the_rows_with_current_levels(client, seller, shop):
    seller(client, role="warehouse_staff", shop=shop)
    variant = _item(shop).variant
    stock_reserve(shop=shop, reference="O-1", lines=[LineRequest(variant.pk, 3)])
    reservation_commit(reference="O-1")

    response = client.get(url("list", shop), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="stock-rows")

    body = response.content.decode()
    assert body.lstrip().startswith('<tbody id="stock-rows"') and "<html" not in body
    assert '<td class="num" data-available>7' in body


def test_inventory_staff_receive_stock_and_it_names_them(client, seller, shop):
    member = seller(client, role="warehouse_staff", shop=shop)
    main = StockLocation.objects.get(shop=shop, name="Main store")
    response = client.post(
        url("receive", shop),
        {"sku": "SAR-M", "location": main.pk, "quantity": 5, "reason": "supplier delivery", "reference": "PO-7"},
    )
    item = _item(shop)
    assert response.status_code == 302 and response["Location"] == url("item", shop, item_id=item.pk)
    assert item.on_hand == 15
    movement = StockMovement.objects.filter(item=item).first()
    assert (movement.kind, movement.actor, movement.reference) == ("receipt", member.user, "PO-7")


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owners_and_managers_read_stock_but_cannot_move_it(client, seller, shop, role):
    seller(client, role=role, shop=shop)
    for name in ("receive", "adjust", "transfer", "shrinkage", "counts"):
        assert client.get(url(name, shop)).status_code == 403
    response = client.post(url("threshold", shop, item_id=_item(shop).pk), {"low_stock_threshold": 3})
    assert response.status_code == 403
    assert _item(shop).low_stock_threshold == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sku": "NOPE", "mode": "counted", "value": 3, "reason": "count"}, "No product of your shop has the SKU"),
        ({"sku": "SAR-M", "mode": "counted", "value": -3, "reason": "count"}, "A count cannot be negative."),
        ({"sku": "SAR-M", "mode": "delta", "value": 0, "reason": "count"}, "A change of 0 units changes nothing"),
        ({"sku": "SAR-M", "mode": "delta", "value": -3, "reason": ""}, "This field is required."),
        ({"sku": "SAR-M", "mode": "delta", "value": -11, "reason": "broken"}, "only 10 on hand"),
        ({"sku": "SAR-M", "mode": "delta", "value": "lots", "reason": "x"}, "Enter a whole number."),
    ],
)
def test_bad_adjustments_get_a_form_error_and_change_nothing(client, seller, shop, data, message):
    seller(client, role="inventory_manager", shop=shop)
    main = StockLocation.objects.get(shop=shop, name="Main store")
    response = client.post(url("adjust", shop), {**data, "location": main.pk})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _item(shop).on_hand == 10
    assert StockMovement.objects.filter(shop=shop).count() == 1


def test_counting_to_the_books_changes_nothing(client, seller, shop):
    seller(client, role="inventory_manager", shop=shop)
    main = StockLocation.objects.get(shop=shop, name="Main store")
    response = client.post(
        url("adjust", shop), {"sku": "SAR-M", "location": main.pk, "mode": "counted", "value": 10, "reason": "count"}
    )
    assert response.status_code == 302
    assert StockMovement.objects.filter(shop=shop).count() == 1


def test_transfer_and_write_off(client, seller, shop):
    seller(client, role="inventory_manager", shop=shop)
    main = StockLocation.objects.get(shop=shop, name="Main store")
    back = StockLocation.objects.get(shop=shop, name="Back room")

    same = client.post(
        url("transfer", shop), {"sku": "SAR-M", "source": main.pk, "destination": main.pk, "quantity": 1}
    )
    assert "Choose two different locations" in same.content.decode()
    too_many = client.post(
        url("transfer", shop), {"sku": "SAR-M", "source": main.pk, "destination": back.pk, "quantity": 11}
    )
    assert "only 10 available" in too_many.content.decode()
    moved = client.post(
        url("transfer", shop), {"sku": "SAR-M", "source": main.pk, "destination": back.pk, "quantity": 4}
    )
    assert moved.status_code == 302
    lost = client.post(
        url("shrinkage", shop), {"sku": "SAR-M", "location": back.pk, "quantity": 1, "reason": "damaged"}
    )
    assert lost.status_code == 302
    assert (_item(shop).on_hand, _item(shop, location="Back room").on_hand) == (6, 3)
    assert_ledger_balanced()


def test_item_page_shows_history_and_the_threshold_can_be_set(client, seller, shop):
    seller(client, role="inventory_manager", shop=shop)
    item = _item(shop)
    stock_reserve(shop=shop, reference="O-9", lines=[LineRequest(item.variant_id, 2)])
    reservation_commit(reference="O-9")

    page = client.get(url("item", shop, item_id=item.pk)).content.decode()
    assert "O-9" in page and "Sale" in page
    assert "Reserved for a checkout" not in page  # holds only on request
    assert "Reserved for a checkout" in client.get(url("item", shop, item_id=item.pk), {"holds": "1"}).content.decode()

    response = client.post(url("threshold", shop, item_id=item.pk), {"low_stock_threshold": 12})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.low_stock_threshold == 12 and item.low_stock_alerted_at is not None  # 8 < 12: alerted at once
    bad = client.post(url("threshold", shop, item_id=item.pk), {"low_stock_threshold": -1}, follow=True)
    assert "Ensure this value is greater than or equal to 0." in bad.content.decode()


def test_owner_adds_a_location_and_makes_it_the_default(client, seller, shop):
    seller(client, role="owner", shop=shop)
    response = client.post(url("locations", shop), {"name": "Jurong warehouse", "kind": "warehouse"})
    assert response.status_code == 302
    clash = client.post(url("locations", shop), {"name": "jurong WAREHOUSE", "kind": "warehouse"})
    assert "already has a location called" in clash.content.decode()
    jurong = StockLocation.objects.get(shop=shop, name="Jurong warehouse")
    client.post(url("location-default", shop, location_id=jurong.pk))
    assert StockLocation.objects.get(shop=shop, is_default=True) == jurong


def test_alert_settings_save_a_webhook(client, seller, shop):
    seller(client, role="owner", shop=shop)
    response = client.post(url("alerts", shop), {"email_alerts": "on", "webhook_url": "https://hooks.example.com/T1"})
    assert response.status_code == 302
    assert InventorySettings.objects.get(shop=shop).webhook_url == "https://hooks.example.com/T1"
    bad = client.post(url("alerts", shop), {"email_alerts": "on", "webhook_url": "ftp://files.example.com/x"})
    assert bad.status_code == 200 and "Enter an http:// or https:// URL." in bad.content.decode()


def test_warehouse_staff_cannot_change_alert_settings(client, seller, shop):
    seller(client, role="warehouse_staff", shop=shop)
    assert client.get(url("alerts", shop)).status_code == 403


def test_dashboard_loads_the_live_stock_panel_which_shows_sales_as_they_happen(client, seller, shop):
    seller(client, role="manager", shop=shop)
    dashboard = client.get(reverse("shops:dashboard", kwargs={"shop_slug": shop.slug})).content.decode()
    assert f'hx-get="{url("live", shop)}"' in dashboard and "every 5s" in dashboard

    before = client.get(url("live", shop)).content.decode()
    assert 'data-available="10"' in before
    variant = _item(shop).variant
    stock_reserve(shop=shop, reference="WEB-42", lines=[LineRequest(variant.pk, 3)])
    held = client.get(url("live", shop)).content.decode()
    assert 'data-available="7"' in held
    reservation_commit(reference="WEB-42")
    after = client.get(url("live", shop)).content.decode()
    assert 'data-on-hand="7"' in after and "WEB-42" in after

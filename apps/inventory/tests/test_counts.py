"""CSV stock counts: differences become "stock count" adjustments, matching lines change nothing,
bad lines are reported by line and change nothing, and the portal shows the progress."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.counts import stock_count_create, stock_count_process
from apps.inventory.errors import StockError
from apps.inventory.models import StockCountImport, StockItem, StockMovement
from apps.inventory.services import LineRequest, stock_location_create, stock_receive, stock_reserve
from apps.shops.tests.factories import ShopFactory

from .checks import assert_ledger_balanced

pytestmark = pytest.mark.django_db


def upload(text: str | bytes, name: str = "count.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, content_type="text/csv")


@pytest.fixture
def shop():
    shop = ShopFactory()
    for sku, units in (("TEA-1", 10), ("TEA-2", 5), ("TEA-3", 7)):
        stock_receive(variant=VariantFactory(product=ProductFactory(shop=shop), sku=sku), quantity=units)
    stock_location_create(shop=shop, name="Back room", kind="warehouse")
    return shop


def _on_hand(shop, sku, location="Main store") -> int:
    return StockItem.objects.get(shop=shop, variant__sku=sku, location__name=location).on_hand


def _run(shop, text, user=None, location=None) -> StockCountImport:
    count = stock_count_create(shop=shop, created_by=user, upload=upload(text), location=location, enqueue=False)
    stock_count_process(count_id=count.pk)
    count.refresh_from_db()
    return count


def test_differences_become_stock_count_adjustments(shop):
    count = _run(shop, "sku,counted,location\nTEA-1,8,\nTEA-2,5,\nTEA-3,9,Main store\nTEA-1,4,Back room\n")

    assert (count.status, count.adjusted_rows, count.unchanged_rows, count.errors) == ("done", 3, 1, [])
    assert (_on_hand(shop, "TEA-1"), _on_hand(shop, "TEA-2"), _on_hand(shop, "TEA-3")) == (8, 5, 9)
    assert _on_hand(shop, "TEA-1", "Back room") == 4
    adjustments = StockMovement.objects.filter(shop=shop, kind="adjustment")
    assert sorted(adjustments.values_list("quantity", flat=True)) == [-2, 2, 4]
    assert set(adjustments.values_list("reason", "reference")) == {("stock count", f"COUNT-{count.pk}")}
    assert_ledger_balanced()


def test_bad_lines_are_reported_by_line_and_change_nothing(shop):
    text = (
        "SKU,Counted\n"
        "TEA-1,3\n"  # line 2: good
        "NOPE-9,4\n"  # 3: unknown SKU
        "TEA-2,-1\n"  # 4: negative
        "TEA-3,lots\n"  # 5: not a number
        ",2\n"  # 6: no SKU
        "TEA-1,6\n"  # 7: counted twice
    )
    count = _run(shop, text)

    assert count.status == "done" and count.adjusted_rows == 1
    by_line = {(e["line"], e["column"]): e["message"] for e in count.errors}
    assert set(by_line) == {(3, "sku"), (4, "counted"), (5, "counted"), (6, "sku"), (7, "sku")}
    assert "NOPE-9" in by_line[(3, "sku")]
    assert by_line[(4, "counted")] == "A count cannot be negative."
    assert "“lots” is not a count" in by_line[(5, "counted")]
    assert "first on line 2" in by_line[(7, "sku")]
    assert (_on_hand(shop, "TEA-1"), _on_hand(shop, "TEA-2"), _on_hand(shop, "TEA-3")) == (3, 5, 7)


def test_unknown_location_is_reported(shop):
    count = _run(shop, "sku,counted,location\nTEA-1,3,Attic\n")
    assert count.errors[0]["column"] == "location"
    assert "Attic" in count.errors[0]["message"] and "Back room" in count.errors[0]["message"]
    assert _on_hand(shop, "TEA-1") == 10


def test_a_count_below_what_checkouts_hold_is_refused_for_that_line(shop):
    variant = StockItem.objects.get(shop=shop, variant__sku="TEA-1").variant
    stock_reserve(shop=shop, reference="CHK-1", lines=[LineRequest(variant.pk, 6)])

    count = _run(shop, "sku,counted\nTEA-1,2\nTEA-2,1\n")

    assert [e["line"] for e in count.errors] == [2]
    assert "held for checkouts" in count.errors[0]["message"]
    assert (_on_hand(shop, "TEA-1"), _on_hand(shop, "TEA-2")) == (10, 1)


def test_running_a_count_again_changes_nothing_twice(shop):
    count = _run(shop, "sku,counted\nTEA-1,8\n")
    StockCountImport.objects.filter(pk=count.pk).update(status="running")  # as if the worker died

    stock_count_process(count_id=count.pk)

    count.refresh_from_db()
    assert (count.status, count.adjusted_rows, count.unchanged_rows) == ("done", 0, 1)
    assert StockMovement.objects.filter(shop=shop, kind="adjustment").count() == 1


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("sku,counted\nTEA-1,1\n", "count.xlsx", "Upload a .csv file"),
        ("sku,qty\nTEA-1,1\n", "count.csv", "missing required columns: counted"),
        ("sku;counted\nTEA-1;1\n", "count.csv", "not semicolons"),
        ("sku,counted\n", "count.csv", "no counts below it"),
        (b"PK\x03\x04binary", "count.csv", "not a CSV text file"),
        ("", "count.csv", "The file is empty"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_a_reason(shop, content, name, message):
    with pytest.raises(StockError, match=message):
        stock_count_create(shop=shop, created_by=None, upload=upload(content, name), enqueue=False)
    assert not StockCountImport.objects.exists()


def test_another_shops_location_is_refused(shop):
    other = stock_location_create(shop=ShopFactory(), name="Theirs")
    with pytest.raises(StockError, match="your own locations"):
        stock_count_create(shop=shop, created_by=None, upload=upload("sku,counted\nTEA-1,1\n"), location=other)


def test_upload_page_applies_the_count_and_shows_progress_and_problems(
    client, seller, shop, django_capture_on_commit_callbacks
):
    membership = seller(client, role="inventory_manager", shop=shop)
    url = reverse("inventory_seller:counts", kwargs={"shop_slug": shop.slug})
    location = shop.stock_locations.get(name="Main store")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": upload("sku,counted\nTEA-1,7\nBAD,1\n"), "location": location.pk})

    count = StockCountImport.objects.get(shop=shop)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "inventory_seller:count", kwargs={"shop_slug": shop.slug, "count_id": count.pk}
    )
    assert count.status == "done" and count.created_by == membership.user  # eager task in tests
    assert _on_hand(shop, "TEA-1") == 7
    page = client.get(response["Location"]).content.decode()
    assert "count-progress-bar" in page and "BAD" in page
    progress = client.get(
        reverse("inventory_seller:count-progress", kwargs={"shop_slug": shop.slug, "count_id": count.pk})
    )
    assert 'hx-trigger="every 1s"' not in progress.content.decode()  # finished: polling stops
    errors = client.get(reverse("inventory_seller:count-errors", kwargs={"shop_slug": shop.slug, "count_id": count.pk}))
    assert errors["Content-Type"].startswith("text/csv") and "BAD" in errors.content.decode("utf-8-sig")


def test_upload_page_shows_a_file_error_on_the_form(client, seller, shop):
    seller(client, role="warehouse_staff", shop=shop)
    url = reverse("inventory_seller:counts", kwargs={"shop_slug": shop.slug})
    location = shop.stock_locations.get(name="Main store")
    response = client.post(url, {"file": upload("sku,qty\nTEA-1,1\n"), "location": location.pk})
    assert response.status_code == 200
    assert "missing required columns" in response.content.decode()


def test_counts_need_a_role_that_moves_stock(client, seller, shop):
    seller(client, role="manager", shop=shop)
    response = client.get(reverse("inventory_seller:counts", kwargs={"shop_slug": shop.slug}))
    assert response.status_code == 403

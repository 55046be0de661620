"""The stock API: levels and the ledger (reads), receipts and adjustments (writes), scoped to the
URL's shop for its API keys (scope ``stock``) and members (by role), with problem documents for
every refusal, nothing changed by a refused write, and pinned query counts on the lists."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.models import StockItem, StockMovement
from apps.inventory.services import LineRequest, stock_adjust, stock_receive, stock_reserve
from apps.shops.tests.factories import ShopFactory, api_key_for

from .factories import StockLocationFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
SINGAPORE = ZoneInfo("Asia/Singapore")


def _url(shop, path: str = "") -> str:
    return f"/api/v1/shops/{shop.slug}/stock{path}"


def _key(shop, scopes=("stock",)) -> dict:
    _key_obj, raw = api_key_for(shop, list(scopes))
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}


def _post(client, shop, path: str, body, auth=None):
    return client.post(_url(shop, path), body, content_type="application/json", **(auth if auth is not None else {}))


def _problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


def _field_errors(response) -> dict[str, str]:
    body = _problem(response, 400, "validation-error")
    return {e["field"]: e["message"] for e in body["errors"]}


def _ledger_size() -> int:
    return StockMovement.objects.count()


@pytest.fixture
def shop(sarong):
    """The sarong's shop (its default location is made by the first receipt)."""
    return sarong.shop


@pytest.fixture
def auth(shop) -> dict:
    return _key(shop)


@pytest.fixture
def stocked(shop, sarong):
    """Sarong: 6 in the main store (4 held by a checkout). Rattan basket: 4 in the main store, 9 in
    the Jurong warehouse (threshold 10 there: low)."""
    rattan = VariantFactory(product=ProductFactory(shop=shop, title="Rattan basket"), sku="RB-L", options={})
    warehouse = StockLocationFactory(shop=shop, name="Jurong warehouse")
    stock_receive(variant=sarong, quantity=6, reference="PO-1")
    stock_receive(variant=rattan, quantity=4)
    far = stock_receive(variant=rattan, quantity=9, location=warehouse)
    # Low from the start and already alerted (these tests are about the API, not the alerts).
    StockItem.objects.filter(pk=far.item.pk).update(low_stock_threshold=10, low_stock_alerted_at=timezone.now())
    stock_reserve(shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 4)])
    return {"sarong": sarong, "rattan": rattan, "warehouse": warehouse, "far_item": far.item}


# --- levels ------------------------------------------------------------------------------------


def test_levels_list_one_row_per_variant_and_location_in_product_order(client, shop, auth, stocked):
    """Each row names the item, SKU, product, variant, location and its levels; rows of other shops
    never show."""
    VariantFactory(sku="ELSEWHERE")  # another shop's variant, stocked there
    stock_receive(variant=VariantFactory(sku="OTHER-SHOP"), quantity=3)

    response = client.get(_url(shop), **auth)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3 and body["next"] is None
    rows = [(r["sku"], r["location"]["name"], r["on_hand"], r["reserved"], r["available"]) for r in body["results"]]
    sarong_sku = stocked["sarong"].sku
    assert rows == [
        (sarong_sku, "Main store", 6, 4, 2),
        ("RB-L", "Main store", 4, 0, 4),
        ("RB-L", "Jurong warehouse", 9, 0, 9),
    ]
    first = body["results"][0]
    assert first["product_title"] == "Indigo sarong" and first["variant_name"] == "M"
    assert first["variant_id"] == stocked["sarong"].pk and first["product_id"] == stocked["sarong"].product_id
    assert set(first) >= {"id", "low_stock_threshold", "is_low", "updated_at"}
    assert body["results"][2]["is_low"] is True and body["results"][2]["low_stock_threshold"] == 10
    assert body["results"][1]["is_low"] is False and body["results"][1]["variant_name"] == ""


def test_levels_filter_by_sku_words_location_and_low_stock(client, shop, auth, stocked):
    def skus_at(**params):
        response = client.get(_url(shop), params, **auth)
        assert response.status_code == 200, response.content
        return [(r["sku"], r["location"]["name"]) for r in response.json()["results"]]

    sarong_sku = stocked["sarong"].sku
    assert skus_at(sku="RB-L") == [("RB-L", "Main store"), ("RB-L", "Jurong warehouse")]
    assert skus_at(sku="rb-l") == []  # exact
    assert skus_at(q="sarong") == [(sarong_sku, "Main store")]
    assert skus_at(q="rb-") == [("RB-L", "Main store"), ("RB-L", "Jurong warehouse")]
    assert skus_at(location=stocked["warehouse"].pk) == [("RB-L", "Jurong warehouse")]
    assert skus_at(low="true") == [("RB-L", "Jurong warehouse")]
    assert len(skus_at(low="false")) == 3
    assert skus_at(location=StockLocationFactory().pk) == []  # another shop's location: nothing of it shows


def test_levels_filters_are_validated(client, shop, auth):
    assert set(_field_errors(client.get(_url(shop), {"low": "maybe"}, **auth))) == {"low"}
    assert set(_field_errors(client.get(_url(shop), {"location": "main"}, **auth))) == {"location"}
    assert set(_field_errors(client.get(_url(shop), {"location": str(10**30)}, **auth))) == {"location"}


def test_levels_page_by_number(client, shop, auth, stocked):
    first = client.get(_url(shop), {"page_size": 2}, **auth).json()
    assert len(first["results"]) == 2 and first["count"] == 3 and first["next"]
    second = client.get(first["next"], **auth).json()
    assert [r["sku"] for r in second["results"]] == ["RB-L"] and second["next"] is None
    _problem(client.get(_url(shop), {"page": 9}, **auth), 404)


def test_levels_list_queries_do_not_grow_with_rows(client, shop, auth, django_assert_max_num_queries):
    warehouse = StockLocationFactory(shop=shop)
    for _ in range(12):
        variant = VariantFactory(product=ProductFactory(shop=shop))
        stock_receive(variant=variant, quantity=2)
        stock_receive(variant=variant, quantity=1, location=warehouse)
    client.get(_url(shop), **auth)  # records the key's last use (a write at most once a minute)
    # key lookup, count, one page of items with variant, product and location joined
    with django_assert_max_num_queries(3):
        response = client.get(_url(shop), {"page_size": 100}, **auth)
    assert len(response.json()["results"]) == 24


def test_one_level_and_another_shops_item_is_404(client, shop, auth, stocked):
    item = stocked["far_item"]
    body = client.get(_url(shop, f"/{item.pk}"), **auth).json()
    assert body["id"] == item.pk and body["on_hand"] == 9 and body["location"]["name"] == "Jurong warehouse"

    foreign = stock_receive(variant=VariantFactory(), quantity=1).item
    _problem(client.get(_url(shop, f"/{foreign.pk}"), **auth), 404)
    _problem(client.get(_url(shop, f"/{2**70}"), **auth), 404)


# --- receipts ----------------------------------------------------------------------------------


def test_key_receives_by_sku_into_the_default_location(client, shop, auth, sarong):
    body = {"sku": sarong.sku, "quantity": 12, "reason": "supplier delivery", "reference": "PO-77"}

    response = _post(client, shop, "/receipts", body, auth)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["changed"] is True
    movement = data["movement"]
    assert movement["kind"] == "receipt" and movement["quantity"] == 12 and movement["on_hand_after"] == 12
    assert movement["sku"] == sarong.sku and movement["location"]["name"] == "Main store"
    assert movement["reason"] == "supplier delivery" and movement["reference"] == "PO-77"
    assert movement["actor"] is None  # an API key is not a person
    assert data["level"]["on_hand"] == 12 and data["level"]["available"] == 12
    assert data["level"]["id"] == movement["item_id"]
    item = StockItem.objects.get(variant=sarong)
    assert item.on_hand == 12 and item.location.is_default


def test_receipt_by_variant_id_into_a_named_location(client, shop, auth, sarong):
    warehouse = StockLocationFactory(shop=shop)
    body = {"variant_id": sarong.pk, "quantity": 3, "location": warehouse.pk}

    data = _post(client, shop, "/receipts", body, auth).json()

    assert data["level"]["location"] == {"id": warehouse.pk, "name": warehouse.name}
    assert StockItem.objects.get(variant=sarong, location=warehouse).on_hand == 3


def test_a_retried_receipt_is_received_again(client, shop, auth, sarong):
    """No idempotency: the same reference twice is two receipts (look it up in the ledger first)."""
    body = {"sku": sarong.sku, "quantity": 2, "reference": "PO-9"}
    _post(client, shop, "/receipts", body, auth)
    assert _post(client, shop, "/receipts", body, auth).json()["level"]["on_hand"] == 4


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sku": "NO-SUCH-SKU"}, "sku", "no variant with SKU"),
        ({"sku": None}, "sku", "null"),
        ({"sku": "OTHER-SHOP"}, "sku", "no variant with SKU"),
        ({"sku": None, "variant_id": "other-shop"}, "variant_id", "no variant"),
        ({"variant_id": "own"}, "variant_id", "not both"),
        ({"quantity": 0}, "quantity", "greater than or equal to 1"),
        ({"quantity": -5}, "quantity", "greater than or equal to 1"),
        ({"quantity": 2.5}, "quantity", "whole number"),
        ({"quantity": "ten"}, "quantity", "whole number"),
        ({"quantity": True}, "quantity", "whole number"),
        ({"quantity": 10**12}, "quantity", "split it"),
        ({"quantity": None}, "quantity", "null"),
        ({"location": "other-shop"}, "location", "no stock location"),
        ({"location": 10**30}, "location", "less than or equal"),
        ({"reason": "x" * 201}, "reason", "200"),
        ({"reference": "x" * 101}, "reference", "100"),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_receipt_is_a_400_problem_naming_the_field_and_changes_nothing(
    client, shop, auth, sarong, change, field, message
):
    other_shop_variant = VariantFactory(sku="OTHER-SHOP")
    body = {"sku": sarong.sku, "quantity": 3, **change}
    if body.get("variant_id") == "other-shop":
        body["variant_id"] = other_shop_variant.pk
    if body.get("variant_id") == "own":
        body["variant_id"] = sarong.pk
    if body.get("location") == "other-shop":
        body["location"] = StockLocationFactory(shop=other_shop_variant.shop).pk
    if body.get("sku") is None and "sku" in change and "variant_id" in change:
        del body["sku"]

    errors = _field_errors(_post(client, shop, "/receipts", body, auth))

    assert field in errors, errors
    assert message in errors[field], errors
    assert _ledger_size() == 0 and not StockItem.objects.exists()


def test_receipt_needs_a_variant_and_a_quantity(client, shop, auth):
    errors = _field_errors(_post(client, shop, "/receipts", {}, auth))
    assert set(errors) == {"quantity"}
    errors = _field_errors(_post(client, shop, "/receipts", {"quantity": 1}, auth))
    assert set(errors) == {"sku"} and "Name the variant" in errors["sku"]


@pytest.mark.parametrize("body", [[], "12", None, [{"sku": "A", "quantity": 1}]])
def test_a_body_that_is_not_an_object_is_a_400(client, shop, auth, body):
    response = client.post(_url(shop, "/receipts"), json.dumps(body), content_type="application/json", **auth)
    _problem(response, 400)
    assert _ledger_size() == 0


def test_malformed_json_and_form_bodies_are_problems(client, shop, auth):
    _problem(client.post(_url(shop, "/receipts"), "{nope", content_type="application/json", **auth), 400)
    _problem(client.post(_url(shop, "/receipts"), {"sku": "A", "quantity": "1"}, **auth), 415)


# --- adjustments -------------------------------------------------------------------------------


def test_counted_adjustment_sets_on_hand_and_records_the_difference(client, shop, auth, stocked):
    rattan = stocked["rattan"]
    body = {"sku": "RB-L", "counted": 7, "reason": "stock count", "reference": "COUNT-3"}

    response = _post(client, shop, "/adjustments", body, auth)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["changed"] is True
    assert data["movement"]["kind"] == "adjustment" and data["movement"]["quantity"] == 3
    assert data["movement"]["reason"] == "stock count" and data["movement"]["reference"] == "COUNT-3"
    assert data["level"]["on_hand"] == 7 and data["level"]["location"]["name"] == "Main store"
    assert StockItem.objects.get(variant=rattan, location__is_default=True).on_hand == 7


def test_delta_adjustment_at_a_location(client, shop, auth, stocked):
    warehouse = stocked["warehouse"]
    body = {"variant_id": stocked["rattan"].pk, "location": warehouse.pk, "delta": -2, "reason": "damaged"}

    data = _post(client, shop, "/adjustments", body, auth).json()

    assert data["movement"]["quantity"] == -2 and data["level"]["on_hand"] == 7
    assert data["level"]["is_low"] is True


def test_a_count_that_matches_the_books_changes_nothing(client, shop, auth, stocked):
    before = _ledger_size()
    response = _post(client, shop, "/adjustments", {"sku": "RB-L", "counted": 4, "reason": "stock count"}, auth)

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["changed"] is False and data["movement"] is None
    assert data["level"]["on_hand"] == 4 and data["level"]["sku"] == "RB-L"
    assert _ledger_size() == before


def test_counting_zero_of_a_never_stocked_variant_changes_nothing(client, shop, auth):
    variant = VariantFactory(product=ProductFactory(shop=shop))
    response = _post(client, shop, "/adjustments", {"sku": variant.sku, "counted": 0, "reason": "count"}, auth)
    assert response.status_code == 200, response.content
    assert response.json() == {"changed": False, "movement": None, "level": None}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"delta": 2}, "counted", "not both"),
        ({"counted": None}, "counted", "null"),
        ({"reason": ""}, "reason", "Give a reason"),
        ({"reason": "   "}, "reason", "Give a reason"),
        ({"reason": None}, "reason", "null"),
        ({"counted": -1}, "counted", "greater than or equal to 0"),
        ({"counted": 1.5}, "counted", "whole number"),
        ({"counted": 10**7}, "counted", "check the number"),
        ({"sku": "NO-SUCH-SKU"}, "sku", "no variant with SKU"),
        ({"location": "other-shop"}, "location", "no stock location"),
    ],
)
def test_bad_adjustment_is_a_400_problem_and_changes_nothing(client, shop, auth, stocked, change, field, message):
    body = {"sku": "RB-L", "counted": 1, "reason": "stock count", **change}
    if body.get("location") == "other-shop":
        body["location"] = StockLocationFactory().pk
    before = _ledger_size()

    errors = _field_errors(_post(client, shop, "/adjustments", body, auth))

    assert field in errors, errors
    assert message in errors[field], errors
    assert _ledger_size() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [({"reason": "_absent_"}, "reason"), ({"counted": "_absent_"}, "counted"), ({"delta": 0}, "delta")],
)
def test_adjustment_needs_a_reason_and_a_nonzero_change(client, shop, auth, stocked, change, field):
    body = {"sku": "RB-L", "counted": 1, "reason": "stock count", **change}
    body = {k: v for k, v in body.items() if v != "_absent_"}
    if "delta" in change:
        del body["counted"]
    assert field in _field_errors(_post(client, shop, "/adjustments", body, auth))


def test_adjustment_below_the_units_held_for_checkouts_is_refused(client, shop, auth, stocked):
    """The service's rule comes back as a problem saying what to do; nothing changes."""
    sarong = stocked["sarong"]
    before = _ledger_size()

    response = _post(client, shop, "/adjustments", {"sku": sarong.sku, "counted": 1, "reason": "count"}, auth)

    body = _problem(response, 400, "not-enough-stock")
    assert "held for checkouts" in body["detail"]
    assert _ledger_size() == before
    assert StockItem.objects.get(variant=sarong).on_hand == 6


def test_taking_away_more_than_is_on_hand_is_refused(client, shop, auth, stocked):
    response = _post(client, shop, "/adjustments", {"sku": "RB-L", "delta": -5, "reason": "lost"}, auth)
    assert "only 4 on hand" in _problem(response, 400, "not-enough-stock")["detail"]


# --- movements ---------------------------------------------------------------------------------


def _movements(client, shop, auth, **params) -> list[dict]:
    response = client.get(_url(shop, "/movements"), params, **auth)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_movements_are_the_shops_ledger_newest_first(client, shop, auth, stocked):
    stock_receive(variant=VariantFactory(), quantity=5)  # another shop's ledger

    rows = _movements(client, shop, auth)

    assert [(r["kind"], r["sku"], r["quantity"], r["reserved_delta"]) for r in rows] == [
        ("reservation", stocked["sarong"].sku, 0, 4),
        ("receipt", "RB-L", 9, 0),
        ("receipt", "RB-L", 4, 0),
        ("receipt", stocked["sarong"].sku, 6, 0),
    ]
    assert rows[1]["location"]["name"] == "Jurong warehouse" and rows[1]["on_hand_after"] == 9
    assert rows[0]["reference"] == "chk-1" and rows[3]["reference"] == "PO-1"
    assert set(rows[0]) >= {"id", "item_id", "variant_id", "product_title", "variant_name", "actor", "created_at"}


def test_movements_filter_by_kind_variant_sku_and_location(client, shop, auth, stocked):
    sarong, rattan = stocked["sarong"], stocked["rattan"]

    def kinds(**params):
        return [(r["kind"], r["sku"]) for r in _movements(client, shop, auth, **params)]

    assert kinds(kind="reservation") == [("reservation", sarong.sku)]
    assert kinds(kind="reservation,receipt") == kinds()
    assert kinds(kind=["reservation", "adjustment"]) == [("reservation", sarong.sku)]
    assert kinds(kind="sale") == []
    assert kinds(kind="") == kinds()  # an empty kind is no filter
    assert kinds(variant=rattan.pk) == [("receipt", "RB-L"), ("receipt", "RB-L")]
    assert kinds(sku=sarong.sku) == [("reservation", sarong.sku), ("receipt", sarong.sku)]
    assert kinds(sku=sarong.sku, kind="receipt") == [("receipt", sarong.sku)]
    assert kinds(location=stocked["warehouse"].pk) == [("receipt", "RB-L")]
    assert kinds(variant=VariantFactory().pk) == []  # another shop's variant: nothing of it shows
    assert kinds(sku="NO-SUCH-SKU") == []


def test_an_unknown_kind_is_a_400_listing_the_valid_ones(client, shop, auth):
    errors = _field_errors(client.get(_url(shop, "/movements"), {"kind": "receipt,refund"}, **auth))
    assert "'refund'" in errors["kind"]
    assert "receipt, sale, return, adjustment" in errors["kind"]


@pytest.fixture
def ledger_on_days(shop, sarong, monkeypatch):
    """Three receipts of the sarong made at 09:00 Singapore time on 1, 2 and 3 March 2025."""
    made = []
    for day in (1, 2, 3):
        moment = datetime(2025, 3, day, 9, 0, tzinfo=SINGAPORE)
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        made.append(stock_receive(variant=sarong, quantity=day, reference=f"D{day}"))
    monkeypatch.undo()
    return made


def test_movements_between_dates_and_times_in_shop_time(client, shop, auth, ledger_on_days):
    def refs(**params):
        return [r["reference"] for r in _movements(client, shop, auth, **params)]

    assert refs() == ["D3", "D2", "D1"]
    assert refs(since="2025-03-02") == ["D3", "D2"]
    assert refs(until="2025-03-02") == ["D2", "D1"]  # a date includes its whole day
    assert refs(since="2025-03-02", until="2025-03-02") == ["D2"]
    assert refs(since="2025-03-02T09:00:00") == ["D3", "D2"]  # no offset: shop time, inclusive
    assert refs(since="2025-03-02T09:00:01+08:00") == ["D3"]
    assert refs(since="2025-03-02T01:00:00Z") == ["D3", "D2"]  # 09:00 in Singapore
    assert refs(until="2025-03-02T09:00:00+08:00") == ["D1"]  # a moment is exclusive


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-02-30"}, "since"),
        ({"until": "2025-13-01"}, "until"),
        ({"until": "2025-03-01T25:00"}, "until"),
        ({"since": "2025-03-02T09:00:00 08:00"}, "since"),  # an unescaped "+" arrives as a space
        ({"since": "2025-03-03", "until": "2025-03-01"}, "until"),
        ({"variant": "abc"}, "variant"),
        ({"location": "-1"}, "location"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "0001-01-01"}, "since"),
    ],
)
def test_bad_movement_filters_are_a_400_naming_the_parameter(client, shop, auth, params, field):
    errors = _field_errors(client.get(_url(shop, "/movements"), params, **auth))
    assert field in errors, errors
    if field == "since" and "T" in params["since"]:
        assert "%2B" in errors["since"]


def test_movements_page_with_a_cursor(client, shop, auth, sarong):
    made = [stock_receive(variant=sarong, quantity=1) for _ in range(5)]
    seen, url, pages = [], _url(shop, "/movements?page_size=2"), 0
    while url:
        body = client.get(url, **auth).json()
        seen.extend(r["id"] for r in body["results"])
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert seen == [m.pk for m in reversed(made)]


def test_movement_list_queries_do_not_grow_with_rows(client, shop, auth, django_assert_max_num_queries):
    warehouse = StockLocationFactory(shop=shop)
    for _ in range(10):
        variant = VariantFactory(product=ProductFactory(shop=shop))
        stock_receive(variant=variant, quantity=3, location=warehouse)
        stock_adjust(variant=variant, delta=-1, reason="damaged", location=warehouse)
    client.get(_url(shop, "/movements"), **auth)  # records the key's last use
    # key lookup, one page of movements with variant, product, location and actor joined
    with django_assert_max_num_queries(2):
        response = client.get(_url(shop, "/movements"), {"kind": "receipt,adjustment", "page_size": 100}, **auth)
    assert len(response.json()["results"]) == 20


# --- who may -----------------------------------------------------------------------------------


def test_a_key_without_the_stock_scope_gets_403_naming_it(client, shop, sarong, stocked):
    auth = _key(shop, scopes=["catalog:read", "catalog:write", "orders"])
    for response in (
        client.get(_url(shop), **auth),
        client.get(_url(shop, "/movements"), **auth),
        client.get(_url(shop, f"/{stocked['far_item'].pk}"), **auth),
        _post(client, shop, "/receipts", {"sku": sarong.sku, "quantity": 1}, auth),
        _post(client, shop, "/adjustments", {"sku": sarong.sku, "delta": 1, "reason": "x"}, auth),
    ):
        assert "stock" in _problem(response, 403, "scope-missing")["detail"]
    assert StockItem.objects.get(variant=sarong).on_hand == 6


def test_another_shops_key_gets_404_and_changes_nothing(client, shop, sarong):
    other = _key(ShopFactory())
    _problem(client.get(_url(shop), **other), 404)
    _problem(client.get(_url(shop, "/movements"), **other), 404)
    _problem(_post(client, shop, "/receipts", {"sku": sarong.sku, "quantity": 1}, other), 404)
    _problem(_post(client, shop, "/adjustments", {"sku": sarong.sku, "counted": 3, "reason": "x"}, other), 404)
    assert _ledger_size() == 0


def test_no_credentials_is_refused(client, shop):
    _problem(client.get(_url(shop)), 403, "not-authenticated")
    _problem(_post(client, shop, "/receipts", {"quantity": 1}), 403, "not-authenticated")


def test_an_inventory_manager_writes_and_is_named_in_the_ledger(client, seller, shop, sarong):
    membership = seller(client, role="inventory_manager", shop=shop)

    data = _post(client, shop, "/receipts", {"sku": sarong.sku, "quantity": 5}).json()
    assert data["movement"]["actor"] == membership.user.display_name
    response = _post(client, shop, "/adjustments", {"sku": sarong.sku, "delta": -1, "reason": "damaged"})
    assert response.status_code == 201, response.content

    rows = client.get(_url(shop, "/movements")).json()["results"]
    assert [(r["kind"], r["actor"]) for r in rows] == [
        ("adjustment", membership.user.display_name),
        ("receipt", membership.user.display_name),
    ]
    assert StockMovement.objects.filter(actor=membership.user).count() == 2


def test_warehouse_staff_receive_stock(client, seller, shop, sarong):
    seller(client, role="warehouse_staff", shop=shop)
    assert _post(client, shop, "/receipts", {"sku": sarong.sku, "quantity": 5}).status_code == 201


@pytest.mark.parametrize("role", ["manager", "owner"])
def test_owners_and_managers_read_stock_but_do_not_change_it(client, seller, shop, stocked, role):
    """Only the people who count and shelve stock (inventory manager, warehouse staff) move it."""
    seller(client, role=role, shop=shop)
    sarong = stocked["sarong"]
    assert client.get(_url(shop)).status_code == 200
    assert client.get(_url(shop, "/movements")).status_code == 200
    assert client.get(_url(shop, f"/{stocked['far_item'].pk}")).status_code == 200
    before = _ledger_size()
    _problem(_post(client, shop, "/receipts", {"sku": sarong.sku, "quantity": 1}), 403, "shop-permission-denied")
    _problem(
        _post(client, shop, "/adjustments", {"sku": sarong.sku, "counted": 9, "reason": "x"}),
        403,
        "shop-permission-denied",
    )
    assert _ledger_size() == before


def test_a_member_of_another_shop_gets_404(client, seller, shop, sarong):
    seller(client, role="inventory_manager")
    _problem(client.get(_url(shop)), 404)
    _problem(_post(client, shop, "/receipts", {"sku": sarong.sku, "quantity": 1}), 404)


def test_write_routes_answer_405_to_reads_and_read_routes_to_writes(client, shop, auth):
    _problem(client.get(_url(shop, "/receipts"), **auth), 405)
    _problem(client.get(_url(shop, "/adjustments"), **auth), 405)
    _problem(_post(client, shop, "/movements", {}, auth), 405)
    _problem(_post(client, shop, "", {}, auth), 405)


def test_schema_documents_the_stock_routes(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {op["operationId"] for path, ops in schema["paths"].items() if "/stock" in path for op in ops.values()}
    assert operations == {
        "shop_stock_list",
        "shop_stock_retrieve",
        "shop_stock_receipts_create",
        "shop_stock_adjustments_create",
        "shop_stock_movements_list",
    }


def test_days_are_read_in_the_shops_time_zone(client, sarong, monkeypatch):
    """A shop in another time zone: a date filter covers that shop's calendar day."""
    shop = sarong.shop
    shop.time_zone = "Europe/London"
    shop.save(update_fields=["time_zone"])
    # 23:30 on 1 March in London is 07:30 on 2 March in Singapore.
    moment = datetime(2025, 3, 1, 23, 30, tzinfo=ZoneInfo("Europe/London"))
    monkeypatch.setattr(timezone, "now", lambda: moment)
    stock_receive(variant=sarong, quantity=1, reference="LATE")
    monkeypatch.undo()
    auth = _key(shop)
    assert [r["reference"] for r in _movements(client, shop, auth, since="2025-03-01", until="2025-03-01")] == ["LATE"]
    assert _movements(client, shop, auth, since="2025-03-02") == []

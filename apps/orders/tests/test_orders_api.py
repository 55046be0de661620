"""Orders API: POST /api/v1/orders (API key or member, Idempotency-Key, duplicates, problems), the
intake read, and the shop-scoped order list, detail and transitions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.core.models import IdempotencyRecord
from apps.orders.models import Order, OrderIntake
from apps.shops.models import ApiScope
from apps.shops.tests.factories import ShopFactory, api_key_for

from .factories import stocked_variant

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
URL = "/api/v1/orders"


@pytest.fixture
def shop():
    shop = ShopFactory(slug="kopi-corner", currency="SGD")
    stocked_variant(shop=shop, price="12.50", units=10, title="Oolong tea", sku="TEA-001")
    return shop


def key_client(shop, scopes=(ApiScope.ORDERS,)) -> Client:
    _key, raw = api_key_for(shop, list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


@pytest.fixture
def till(shop) -> Client:
    return key_client(shop)


def body(**overrides) -> dict:
    data = {
        "channel": "pos",
        "external_ref": "POS-1001",
        "currency": "SGD",
        "payment": "paid",
        "lines": [{"sku": "TEA-001", "quantity": 2, "unit_price": "12.50"}],
    }
    data.update(overrides)
    return data


def post(client, data, **headers):
    raw = data if isinstance(data, str) else json.dumps(data)
    return client.post(URL, data=raw, content_type="application/json", headers=headers)


def place(client, django_capture_on_commit_callbacks, **overrides) -> Order:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body(**overrides))
    assert response.status_code == 202, response.content
    return OrderIntake.objects.get(pk=response.json()["id"]).order


# --- POST /api/v1/orders -------------------------------------------------------------------------------


def test_a_till_sends_an_order_and_follows_it_to_the_order(till, shop, django_capture_on_commit_callbacks):
    """202 with the intake and a Location; once the pipeline ran, the Location shows it done with
    the order's number."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post(till, body())
    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "received" and data["external_ref"] == "POS-1001" and data["duplicate"] is False
    assert data["shop"] == "kopi-corner" and data["channel"] == "pos"
    assert response["Location"].endswith(f"/api/v1/orders/intakes/{data['id']}")
    followed = till.get(response["Location"]).json()
    order = Order.objects.get()
    assert followed["status"] == "done" and followed["order"] == order.number and followed["errors"] == []
    assert order.status == "paid" and order.channel == "pos"
    assert order.events.first().actor_label.startswith("API key")


def test_a_bad_order_is_a_422_problem_listing_every_field(till):
    """Unknown SKU, negative quantity, a float price and the wrong currency in one problem."""
    bad = body(
        currency="USD",
        lines=[
            {"sku": "TEA-001", "quantity": -2, "unit_price": "12.50"},
            {"sku": "MISSING", "quantity": 1, "unit_price": 3.5},
        ],
    )
    response = post(till, bad)
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "invalid-order"
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"currency", "lines[0].quantity", "lines[1].sku", "lines[1].unit_price"}
    assert not OrderIntake.objects.exists()


def test_missing_fields_and_unknown_channel_are_named(till):
    response = post(till, {"channel": "fax"})
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert "channel" in {e["field"] for e in response.json()["errors"]}
    response = post(till, {})
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"external_ref", "currency", "payment", "lines"} <= fields


def test_malformed_json_is_a_400_problem(till):
    response = post(till, '{"external_ref": ')
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


def test_a_key_cannot_send_another_shops_order(till, shop):
    other = ShopFactory(slug="other-shop")
    response = post(till, body(shop=other.slug))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["shop"]


def test_a_key_without_the_orders_scope_is_refused(shop):
    response = post(key_client(shop, scopes=[ApiScope.STOCK]), body())
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "scope-missing"


def test_without_credentials_nothing_is_accepted(client, shop):
    response = post(client, body())
    assert response.status_code in (401, 403) and response["Content-Type"] == PROBLEM
    assert not OrderIntake.objects.exists()


def test_a_resent_order_answers_200_with_the_first_one(till, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(till, body())
        again = post(till, body(note="sent twice"))
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    assert OrderIntake.objects.count() == 1 and Order.objects.count() == 1


def test_an_idempotency_key_replays_the_first_answer(till, django_capture_on_commit_callbacks):
    """The same key and body: the same 202 body again (marked replayed), one intake."""
    with django_capture_on_commit_callbacks(execute=True):
        first = post(till, body(), **{"Idempotency-Key": "till-7-0001"})
        second = post(till, body(), **{"Idempotency-Key": "till-7-0001"})
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json() and second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert OrderIntake.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def test_an_idempotency_key_reused_with_another_body_is_a_422(till):
    post(till, body(), **{"Idempotency-Key": "till-7-0002"})
    response = post(till, body(external_ref="POS-2000"), **{"Idempotency-Key": "till-7-0002"})
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "idempotency-key-reused"
    assert OrderIntake.objects.count() == 1


def test_a_failed_request_keeps_no_idempotency_record(till):
    """A 422 is not stored: the fixed request with the same key goes through."""
    assert post(till, body(lines=[]), **{"Idempotency-Key": "k-3"}).status_code == 422
    assert not IdempotencyRecord.objects.exists()
    assert post(till, body(), **{"Idempotency-Key": "k-3"}).status_code == 202


def test_idempotency_keys_are_per_caller(till, shop):
    """Another shop's key using the same key string gets its own answer."""
    other = ShopFactory(slug="teh-tarik")
    stocked_variant(shop=other, price="3.00", units=5, sku="TEA-001")
    first = post(till, body(), **{"Idempotency-Key": "shared"})
    second = post(key_client(other), body(), **{"Idempotency-Key": "shared"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] != second.json()["id"] and second.json()["shop"] == "teh-tarik"


def test_an_overlong_idempotency_key_is_a_400(till):
    response = post(till, body(), **{"Idempotency-Key": "x" * 256})
    assert response.status_code == 400 and response.json()["code"] == "idempotency-key-invalid"


def test_a_member_who_manages_orders_sends_one_for_their_shop(client, seller, shop):
    membership = seller(client, role="manager", shop=shop)
    response = post(client, body(shop="kopi-corner"))
    assert response.status_code == 202
    assert OrderIntake.objects.get().submitted_by_label == membership.user.email
    # Their only shop: it may be left out.
    assert post(client, body(external_ref="PHONE-1", channel="phone")).status_code == 202


def test_a_member_without_orders_manage_is_refused(client, seller, shop):
    seller(client, role="inventory_manager", shop=shop)
    response = post(client, body(shop="kopi-corner"))
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM


def test_a_member_cannot_send_orders_to_a_shop_they_are_not_in(client, seller, shop):
    seller(client, role="owner")
    response = post(client, body(shop="kopi-corner"))
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


# --- GET /api/v1/orders/intakes/{id} ---------------------------------------------------------------------


def test_another_shops_intake_is_not_found(till, shop, client, seller, django_capture_on_commit_callbacks):
    """A key and a member of another shop get 404 for this shop's intake; the shop's own member sees it."""
    with django_capture_on_commit_callbacks(execute=True):
        intake_id = post(till, body()).json()["id"]
    other = ShopFactory()
    assert key_client(other).get(f"/api/v1/orders/intakes/{intake_id}").status_code == 404
    seller(client, role="owner", shop=other)
    response = client.get(f"/api/v1/orders/intakes/{intake_id}")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    own = Client()
    seller(own, role="manager", shop=shop)
    assert own.get(f"/api/v1/orders/intakes/{intake_id}").json()["status"] == "done"
    assert till.get("/api/v1/orders/intakes/999999").status_code == 404


# --- shop-scoped order reads --------------------------------------------------------------------------------


def test_the_order_list_is_filtered_and_paginated_with_pinned_queries(
    till, shop, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for n in range(3):
        place(till, django_capture_on_commit_callbacks, external_ref=f"POS-{n}")
    place(till, django_capture_on_commit_callbacks, external_ref="KIOSK-1", channel="kiosk", payment="pay_on_pickup")
    url = f"/api/v1/shops/{shop.slug}/orders"
    with django_assert_max_num_queries(6):
        response = till.get(url)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 4 and results[0]["lines"][0]["sku"] == "TEA-001"
    assert results[0]["total"] == "25.00"
    assert {o["external_ref"] for o in till.get(url, {"channel": "kiosk"}).json()["results"]} == {"KIOSK-1"}
    assert len(till.get(url, {"status": "paid"}).json()["results"]) == 3
    assert len(till.get(url, {"status": "paid,confirmed"}).json()["results"]) == 4
    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    assert till.get(url, {"since": tomorrow}).json()["results"] == []
    page = till.get(url, {"page_size": 3}).json()
    assert len(page["results"]) == 3 and page["next"]
    assert len(till.get(page["next"]).json()["results"]) == 1


def test_bad_list_filters_are_400_problems(till, shop):
    response = till.get(f"/api/v1/shops/{shop.slug}/orders", {"status": "lost", "since": "yesterday"})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert {e["field"] for e in response.json()["errors"]} == {"status", "since"}


def test_an_order_is_read_with_its_lines_and_timeline(till, shop, django_capture_on_commit_callbacks):
    order = place(till, django_capture_on_commit_callbacks)
    response = till.get(f"/api/v1/shops/{shop.slug}/orders/{order.number}")
    assert response.status_code == 200
    data = response.json()
    assert data["number"] == order.number and data["lines"][0]["list_price"] == "12.50"
    moves = [(e["from_status"], e["to_status"]) for e in data["events"] if e["kind"] == "transition"]
    assert moves == [
        ("", "pending_payment"),
        ("pending_payment", "paid"),
    ]


def test_another_shops_order_is_not_found(till, shop, django_capture_on_commit_callbacks):
    order = place(till, django_capture_on_commit_callbacks)
    other = ShopFactory()
    assert key_client(other).get(f"/api/v1/shops/{other.slug}/orders/{order.number}").status_code == 404
    assert key_client(other).get(f"/api/v1/shops/{shop.slug}/orders/{order.number}").status_code == 404


# --- transitions ----------------------------------------------------------------------------------------------


def transition(client, shop, order, **data):
    return client.post(
        f"/api/v1/shops/{shop.slug}/orders/{order.number}/transitions",
        data=json.dumps(data),
        content_type="application/json",
    )


def test_an_integration_accepts_an_order(till, shop, django_capture_on_commit_callbacks):
    order = place(till, django_capture_on_commit_callbacks)
    response = transition(till, shop, order, to="accepted")
    assert response.status_code == 201 and response.json()["status"] == "accepted"
    event = [e for e in response.json()["events"] if e["kind"] == "transition"][-1]
    assert (event["from_status"], event["to_status"], event["actor_kind"], event["channel"]) == (
        "paid",
        "accepted",
        "api_key",
        "api",
    )


def test_an_illegal_move_is_a_409_and_changes_nothing(till, shop, django_capture_on_commit_callbacks):
    order = place(till, django_capture_on_commit_callbacks)
    response = transition(till, shop, order, to="delivered")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "illegal-transition"
    response = transition(till, shop, order, to="cancelled")
    assert response.status_code == 409 and response.json()["code"] == "reason-required"
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_move_the_caller_may_not_make_is_a_403(till, shop, django_capture_on_commit_callbacks):
    """A logistics key may hand over but not accept an order."""
    order = place(till, django_capture_on_commit_callbacks)
    response = transition(key_client(shop, scopes=[ApiScope.LOGISTICS]), shop, order, to="accepted")
    assert response.status_code == 403 and response.json()["code"] == "transition-not-allowed"


def test_a_bad_transition_body_is_a_400(till, shop, django_capture_on_commit_callbacks):
    order = place(till, django_capture_on_commit_callbacks)
    response = transition(till, shop, order, to="teleported", extra=1)
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"to", "extra"}


def test_the_schema_documents_the_orders_api(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for operation in ("orders_create", "orders_intakes_retrieve", "shop_orders_list", "shop_orders_transitions_create"):
        assert operation in text

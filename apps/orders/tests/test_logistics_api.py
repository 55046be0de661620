"""The logistics API: a shop's logistics key (its own shop only) and a platform logistics key (every
shop); the list of orders to deliver; delivered / failed per order and in bulk, each an order
transition with an event; bad input and tenant isolation."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image
from rest_framework.test import APIClient

from apps.delivery.models import RunStop
from apps.delivery.services_keys import logistics_key_create, logistics_key_revoke
from apps.delivery.services_runs import delivery_run_build, delivery_run_start
from apps.delivery.tests.factories import CourierFactory, delivering_shop
from apps.orders.models import Order
from apps.shops.models import ApiScope
from apps.shops.tests.factories import api_key_for

from .factories import buyer_with_address, stocked_variant
from .test_delivery_checkout import code, pack, place, tomorrow_slot

pytestmark = pytest.mark.django_db
LIST = "/api/v1/logistics/orders"
PROBLEM = "application/problem+json"


def _png(name="proof.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _shop_with_run(orders: int = 2, *, start: bool = True):
    """A delivering shop with ``orders`` packed delivery orders on tomorrow's slot, its run built (and
    started: the orders are out for delivery)."""
    shop = delivering_shop()
    CourierFactory(shop=shop)
    slot, day = tomorrow_slot(shop)
    made = []
    for i in range(orders):
        user, address = buyer_with_address()
        variant = stocked_variant(shop=shop, price="10.00")
        variant.weight_grams = 250
        variant.save(update_fields=["weight_grams"])
        order = place(
            user, address, variant, fulfilment=code(slot, day), quantity=2, key=f"lg-{shop.pk}-{i}"
        ).checkout.orders.get()
        pack(order)
        made.append(order)
    after_cutoff = datetime.combine(day, slot.cutoff, tzinfo=ZoneInfo(shop.time_zone)) + timedelta(minutes=1)
    run = delivery_run_build(slot=slot, date=day, now=after_cutoff)
    if start:
        delivery_run_start(run=run, actor_label="Courier")
    return shop, slot, day, made


def shop_key_client(shop, scopes=(ApiScope.LOGISTICS,)) -> APIClient:
    _key, raw = api_key_for(shop, list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def platform_client(raw: str | None = None) -> APIClient:
    if raw is None:
        _key, raw = logistics_key_create(name="Speedy Couriers")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Logistics-Key {raw}")
    return client


# --- who may call -----------------------------------------------------------------------------------------


def test_calls_without_a_key_or_with_a_revoked_one_are_401(db):
    """No credentials, an unknown or a revoked platform key: 401 problem documents saying what to do."""
    assert APIClient().get(LIST).status_code == 401
    key, raw = logistics_key_create(name="Old Partner")
    assert platform_client(raw).get(LIST).status_code == 200
    logistics_key_revoke(key=key)
    response = platform_client(raw).get(LIST)
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert "revoked" in response.json()["detail"]
    assert platform_client("lbl_nope_nope").get(LIST).status_code == 401


def test_a_shop_key_without_the_logistics_scope_is_403():
    """A catalog key cannot use the logistics API; the message names the scope it needs."""
    shop = delivering_shop()
    response = shop_key_client(shop, scopes=[ApiScope.CATALOG_READ]).get(LIST)
    assert response.status_code == 403 and "scope logistics" in response.json()["detail"]


def test_the_management_command_makes_a_working_key(capsys):
    """``manage.py logistics_key_create NAME`` prints the key once and a summary line."""
    call_command("logistics_key_create", "Lalamove SG")
    out = capsys.readouterr().out.splitlines()
    raw = out[1]
    assert raw.startswith("lbl_") and out[-1].startswith("Created platform logistics key")
    assert platform_client(raw).get(LIST).status_code == 200


# --- the list -------------------------------------------------------------------------------------------------


def test_the_list_gives_what_a_courier_needs(django_assert_max_num_queries):
    """Number, shop, status, address and coordinates, parcel weight (Σ weight × quantity), items, slot
    and contact phone; in a fixed number of queries whatever the page size."""
    shop, slot, day, orders = _shop_with_run(3)
    client = shop_key_client(shop)

    with django_assert_max_num_queries(4):  # key, key touch, page (+ savepoint slack)
        response = client.get(LIST)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["number"] for r in rows] == [o.number for o in orders]
    row = rows[0]
    assert row["status"] == "out_for_delivery" and row["shop"]["slug"] == shop.slug
    assert row["parcel_weight_grams"] == 500 and row["items"] == 2
    assert row["slot"] == {"id": slot.pk, "date": day.isoformat(), "from": "14:00", "until": "16:00"}
    assert row["address"]["postcode"] == "168898" and row["contact_phone"] == "+65 9123 4567"
    assert row["coordinates"]["lat"] and row["coordinates"]["lon"]


def test_the_list_filters_by_date_slot_status_and_shop():
    """Filters narrow the list; a bad filter is a 400 problem naming the field."""
    shop, slot, day, orders = _shop_with_run(2)
    client = shop_key_client(shop)
    assert len(client.get(LIST, {"date": day.isoformat(), "slot": slot.pk}).json()["results"]) == 2
    assert client.get(LIST, {"date": (day + timedelta(days=1)).isoformat()}).json()["results"] == []
    assert client.get(LIST, {"status": "delivered"}).json()["results"] == []
    assert len(client.get(LIST, {"shop": shop.slug}).json()["results"]) == 2
    bad = client.get(LIST, {"status": "teleported"})
    assert bad.status_code == 400 and bad["Content-Type"] == PROBLEM and bad.json()["errors"][0]["field"] == "status"


def test_a_shop_key_sees_its_own_shop_only_and_a_platform_key_every_shop():
    """Tenant isolation: shop A's key never sees shop B's orders (B's slug is a 404); the platform key
    sees both, and may narrow to one shop."""
    shop_a, _s, _d, orders_a = _shop_with_run(1)
    shop_b, _s, _d, orders_b = _shop_with_run(1)
    client_a = shop_key_client(shop_a)

    assert [r["number"] for r in client_a.get(LIST).json()["results"]] == [orders_a[0].number]
    assert client_a.get(LIST, {"shop": shop_b.slug}).status_code == 404

    platform = platform_client()
    assert {r["number"] for r in platform.get(LIST).json()["results"]} == {orders_a[0].number, orders_b[0].number}
    assert [r["number"] for r in platform.get(LIST, {"shop": shop_b.slug}).json()["results"]] == [orders_b[0].number]


# --- delivered / failed ------------------------------------------------------------------------------------


def test_delivered_moves_the_order_with_a_logistics_event():
    """POST …/delivered: the run's stop is delivered and the order too, on its timeline by the key."""
    shop, _slot, _day, (order, _other) = _shop_with_run(2)
    response = shop_key_client(shop).post(f"{LIST}/{order.number}/delivered", {}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "delivered"
    order.refresh_from_db()
    assert order.status == "delivered"
    event = order.events.get(to_status="delivered")
    assert (event.actor_kind, event.actor_label) == ("logistics", "API key Test integration")
    assert RunStop.objects.get(booking__reference=order.number).status == "delivered"


def test_failed_needs_a_reason_and_keeps_an_optional_photo():
    """POST …/failed without a reason: 422, nothing changes; with a reason and a photo (multipart): the
    order's delivery failed with that reason and the stop keeps the photo."""
    shop, _slot, _day, (order, _other) = _shop_with_run(2)
    client = platform_client()

    missing = client.post(f"{LIST}/{order.number}/failed", {"reason": " "}, format="json")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    order.refresh_from_db()
    assert order.status == "out_for_delivery"

    response = client.post(
        f"{LIST}/{order.number}/failed", {"reason": "nobody home", "photo": _png()}, format="multipart"
    )

    assert response.status_code == 200 and response.json()["status"] == "delivery_failed"
    order.refresh_from_db()
    assert order.events.get(to_status="delivery_failed").reason == "nobody home"
    assert RunStop.objects.get(booking__reference=order.number).photo.name.endswith(".png")


def test_a_photo_that_is_not_an_image_is_422():
    """A text file sent as the photo: a 422 naming the photo field; the order stays out for delivery."""
    shop, _slot, _day, (order,) = _shop_with_run(1)
    fake = SimpleUploadedFile("proof.png", b"not an image", content_type="image/png")
    response = platform_client().post(f"{LIST}/{order.number}/delivered", {"photo": fake}, format="multipart")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "photo"
    order.refresh_from_db()
    assert order.status == "out_for_delivery"


def test_an_order_not_out_for_delivery_is_409_with_the_state_machines_message():
    """A packed order whose run has not left: 409 saying what status it is in; nothing changes."""
    shop, _slot, _day, (order,) = _shop_with_run(1, start=False)
    response = shop_key_client(shop).post(f"{LIST}/{order.number}/delivered", {}, format="json")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == f"Order {order.number} is Packed: it cannot become Delivered."
    order.refresh_from_db()
    assert order.status == "packed"


def test_another_shops_order_is_404_for_a_shop_key():
    """A courier with shop A's key cannot update shop B's order: 404, and B's order does not move."""
    shop_a, *_rest = _shop_with_run(1)
    _shop_b, _s, _d, (order_b,) = _shop_with_run(1)
    response = shop_key_client(shop_a).post(f"{LIST}/{order_b.number}/delivered", {}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    order_b.refresh_from_db()
    assert order_b.status == "out_for_delivery"
    assert shop_key_client(shop_a).post(f"{LIST}/LBNOSUCH1/failed", {"reason": "x"}, format="json").status_code == 404


def test_a_retried_call_with_the_same_idempotency_key_answers_the_same():
    """The same Idempotency-Key and body: the first answer again, marked replayed; the order moved once."""
    shop, _slot, _day, (order,) = _shop_with_run(1)
    client = shop_key_client(shop)
    url = f"{LIST}/{order.number}/delivered"
    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert order.events.filter(to_status="delivered").count() == 1


def test_an_order_handed_over_outside_a_run_is_delivered_directly():
    """An order the shop sent out itself (no run): the call moves it all the same."""
    from apps.orders.services import order_transition

    from .test_delivery_checkout import staff_actor

    shop, _slot, _day, (order,) = _shop_with_run(1, start=False)
    RunStop.objects.filter(booking__reference=order.number).delete()
    order_transition(order=order, to=Order.Status.OUT_FOR_DELIVERY, actor=staff_actor())

    response = platform_client().post(f"{LIST}/{order.number}/delivered", {}, format="json")

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "delivered"


# --- bulk -----------------------------------------------------------------------------------------------------


def test_bulk_reports_each_outcome_on_its_own():
    """One call: a delivery, a failure with a reason, a failure without one, another shop's order and
    an unknown number; each is reported, the good ones move, the others change nothing."""
    shop, _slot, _day, (one, two, three) = _shop_with_run(3)
    _other_shop, _s, _d, (foreign,) = _shop_with_run(1)
    body = [
        {"number": one.number, "outcome": "delivered"},
        {"number": two.number, "outcome": "failed", "reason": "gate locked"},
        {"number": three.number, "outcome": "failed"},
        {"number": foreign.number, "outcome": "delivered"},
        {"number": "LBNOSUCH1", "outcome": "delivered"},
    ]

    response = shop_key_client(shop).post(f"{LIST}/bulk", body, format="json")

    assert response.status_code == 200
    results = response.json()
    assert [(r["number"], r["ok"]) for r in results] == [
        (one.number, True),
        (two.number, True),
        (three.number, False),
        (foreign.number, False),
        ("LBNOSUCH1", False),
    ]
    assert results[1]["status"] == "delivery_failed"
    assert results[2]["code"] == "reason-required" and results[3]["code"] == "not-found"
    statuses = {o.number: o.status for o in Order.objects.all()}
    assert (statuses[one.number], statuses[two.number], statuses[three.number], statuses[foreign.number]) == (
        "delivered",
        "delivery_failed",
        "out_for_delivery",
        "out_for_delivery",
    )


def test_bulk_refuses_a_malformed_body():
    """Not a list, an unknown outcome, or more than 100 items: 400 problem documents, nothing moves."""
    shop, _slot, _day, (order,) = _shop_with_run(1)
    client = shop_key_client(shop)
    assert client.post(f"{LIST}/bulk", {"number": order.number}, format="json").status_code == 400
    bad = client.post(f"{LIST}/bulk", [{"number": order.number, "outcome": "lost"}], format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "0.outcome"
    many = [{"number": order.number, "outcome": "delivered"}] * 101
    assert client.post(f"{LIST}/bulk", many, format="json").status_code == 400
    order.refresh_from_db()
    assert order.status == "out_for_delivery"

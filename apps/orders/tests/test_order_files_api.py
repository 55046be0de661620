"""The order files API: upload (shop API key, member, platform staff), follow a file and read its
report, with problem documents for every refusal and other shops' files out of sight (Celery runs
eagerly here, so a file is processed by the time the upload answers)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.tests.factories import StaffFactory
from apps.orders.models import OrderFile, OrderIntake
from apps.shops.tests.factories import ShopFactory, api_key_for

from .factories import stocked_variant

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/files"
PROBLEM = "application/problem+json"


def order(**overrides) -> dict:
    body = {
        "shop": "kopi-corner",
        "channel": "pos",
        "external_ref": "POS-1",
        "currency": "SGD",
        "payment": "paid",
        "lines": [{"sku": "TEA-001", "quantity": 1, "unit_price": "12.50"}],
    }
    body.update(overrides)
    return body


def orders_file(*orders, name: str = "orders.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, json.dumps({"orders": list(orders)}).encode(), content_type="application/json")


def key_auth(shop, scopes=("orders",)) -> dict:
    _key, raw = api_key_for(shop, list(scopes))
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}


def problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def shop():
    shop = ShopFactory(slug="kopi-corner", currency="SGD")
    stocked_variant(shop=shop, price="12.50", units=20, title="Oolong tea", sku="TEA-001")
    return shop


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """``post(data, **headers)``: a multipart upload, with the queued processing run at commit."""

    def _post(data, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data, **headers)

    return _post


def test_a_shop_key_uploads_a_file_and_follows_it(client, shop, post):
    """202 with the file's id, status and a Location; the Location shows the counters and the
    report of every order."""
    auth = key_auth(shop)
    response = post({"file": orders_file(order(external_ref="K-1"), order(external_ref="K-2", currency="USD"))}, **auth)
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"] == f"http://testserver{URL}/{body['id']}"
    assert body["shop"] == "kopi-corner" and body["format"] == "json"
    order_file = OrderFile.objects.get(pk=body["id"])
    assert order_file.uploaded_by_label == "API key Test integration" and order_file.uploaded_by is None

    detail = client.get(response["Location"], **auth)
    assert detail.status_code == 200
    data = detail.json()
    assert data["status"] == "processed" and data["progress"] == 100
    assert (data["total"], data["accepted"], data["duplicates"], data["rejected"]) == (2, 1, 0, 1)
    accepted, rejected = data["report"]
    assert accepted["outcome"] == "accepted" and accepted["order"] and accepted["intake_status"] == "done"
    assert rejected["outcome"] == "rejected" and rejected["errors"][0]["field"] == "currency"

    only_rejected = client.get(f"{URL}/{body['id']}?outcome=rejected", **auth).json()["report"]
    assert [row["external_ref"] for row in only_rejected] == ["K-2"]


def test_the_report_downloads_as_csv(client, shop, post):
    """``…/report.csv`` answers a CSV of the report, even to a client that asks for text/csv only."""
    auth = key_auth(shop)
    file_id = post({"file": orders_file(order(external_ref="CSV-1"))}, **auth).json()["id"]
    response = client.get(f"{URL}/{file_id}/report.csv", HTTP_ACCEPT="text/csv", **auth)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["external_ref"], r["outcome"]) for r in rows] == [("CSV-1", "accepted")]


def test_a_resent_file_answers_202_and_reports_duplicates(client, shop, post):
    """The same file uploaded again is accepted as a new file whose orders are all duplicates."""
    auth = key_auth(shop)
    content = json.dumps({"orders": [order(external_ref="D-1"), order(external_ref="D-2")]}).encode()
    post({"file": SimpleUploadedFile("a.json", content)}, **auth)
    second = post({"file": SimpleUploadedFile("a.json", content)}, **auth)
    assert second.status_code == 202
    data = client.get(second["Location"], **auth).json()
    assert [row["outcome"] for row in data["report"]] == ["duplicate", "duplicate"]
    assert OrderIntake.objects.count() == 2


def test_an_xml_file_uploads_too(client, shop, post):
    """An XML file is told by its content and processed the same way."""
    xml = (
        b'<orders><order shop="kopi-corner" channel="kiosk" external-ref="X-1"><currency>SGD</currency>'
        b'<payment>paid</payment><lines><line sku="TEA-001" quantity="1" unit-price="12.50"/></lines></order></orders>'
    )
    auth = key_auth(shop)
    response = post({"file": SimpleUploadedFile("from-kiosk.dat", xml)}, **auth)
    assert response.status_code == 202
    assert response.json()["format"] == "xml"
    assert client.get(response["Location"], **auth).json()["accepted"] == 1


def test_a_key_without_the_orders_scope_is_refused(shop, post):
    """A key with other scopes only: 403 naming the scope it needs; nothing stored."""
    response = post({"file": orders_file(order())}, **key_auth(shop, scopes=("stock",)))
    assert "orders" in problem(response, 403, "scope-missing")["detail"]
    assert not OrderFile.objects.exists()


def test_without_credentials_the_upload_is_refused(post):
    response = post({"file": orders_file(order())})
    problem(response, 403, "not-authenticated")
    assert not OrderFile.objects.exists()


def test_an_oversize_upload_is_a_413(shop, post, settings):
    """Over ORDER_FILE_MAX_BYTES: 413 with the limit in the detail; nothing stored."""
    settings.ORDER_FILE_MAX_BYTES = 200
    response = post({"file": orders_file(order(), order(), order())}, **key_auth(shop))
    body = problem(response, 413, "order-file-too-large")
    assert "at most 200 bytes" in body["detail"] and body["max_bytes"] == 200
    assert not OrderFile.objects.exists()


def test_a_declared_oversize_body_is_refused_before_it_is_read(shop, client, settings):
    """A Content-Length far over the limit is refused from the header alone."""
    settings.ORDER_FILE_MAX_BYTES = 10
    response = client.post(
        URL, {"file": orders_file(*[order(external_ref=f"R-{i}") for i in range(2000)])}, **key_auth(shop)
    )
    problem(response, 413, "order-file-too-large")


@pytest.mark.parametrize(
    ("upload", "status", "code", "words"),
    [
        (SimpleUploadedFile("orders.json", b"external_ref,sku\nA,TEA-001\n"), 415, "unsupported-order-file", "XML"),
        (SimpleUploadedFile("orders.json", b""), 422, "empty-order-file", "empty"),
    ],
)
def test_a_file_that_is_not_an_order_file_is_refused(shop, post, upload, status, code, words):
    """Neither XML nor JSON (whatever its name): 415; an empty file: 422; nothing stored."""
    response = post({"file": upload}, **key_auth(shop))
    assert words in problem(response, status, code)["detail"]
    assert not OrderFile.objects.exists()


def test_a_missing_file_field_or_a_json_body_is_a_clear_error(client, shop, post):
    """No ``file`` in the form: 400 on ``file``; a JSON body instead of multipart: 415."""
    auth = key_auth(shop)
    body = problem(post({"shop": "kopi-corner"}, **auth), 400, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["file"]
    problem(client.post(URL, {"orders": []}, content_type="application/json", **auth), 415)


def test_a_malformed_file_is_accepted_then_reported_as_unreadable(client, shop, post):
    """Looks like JSON but is broken: 202, then the file is ``failed`` with a file-level error."""
    auth = key_auth(shop)
    response = post({"file": SimpleUploadedFile("bad.json", b'{"orders": [')}, **auth)
    assert response.status_code == 202
    data = client.get(response["Location"], **auth).json()
    assert data["status"] == "failed" and "not valid JSON" in data["error"]


def test_another_shops_file_is_not_found(client, shop, post):
    """A key or member of another shop asking for a file by id: 404, as if it did not exist."""
    file_id = post({"file": orders_file(order())}, **key_auth(shop)).json()["id"]
    other = ShopFactory()
    for path in (f"{URL}/{file_id}", f"{URL}/{file_id}/report.csv"):
        problem(client.get(path, **key_auth(other)), 404)
    problem(client.get(f"{URL}/999999", **key_auth(shop)), 404)


def test_a_key_cannot_upload_for_another_shop(shop, post):
    """Naming another shop with a key is a 404 (a key only ever sees its own shop)."""
    other = ShopFactory()
    problem(post({"file": orders_file(order()), "shop": other.slug}, **key_auth(shop)), 404)


def test_a_member_who_manages_orders_uploads_for_their_shop(client, shop, post, seller):
    """A manager uploads (their only shop is assumed); another shop's member gets 404 for it."""
    membership = seller(client, role="manager", shop=shop)
    response = post({"file": orders_file(order(external_ref="M-1"))})
    assert response.status_code == 202, response.content
    order_file = OrderFile.objects.get(pk=response.json()["id"])
    assert order_file.shop == shop and order_file.uploaded_by == membership.user
    assert client.get(response["Location"]).json()["accepted"] == 1

    client.logout()
    seller(client, role="owner")  # a member of another shop
    problem(client.get(response["Location"]), 404)


def test_a_member_whose_role_may_not_manage_orders_is_refused(client, shop, post, seller):
    """Warehouse staff may not upload order files: 403 naming the permission."""
    seller(client, role="warehouse_staff", shop=shop)
    problem(post({"file": orders_file(order()), "shop": shop.slug}), 403)
    assert not OrderFile.objects.exists()


def test_platform_staff_upload_files_for_any_shops(client, shop, post, login_verified):
    """Staff (MFA verified) upload a file holding orders for several shops; each goes to its shop."""
    other = ShopFactory(slug="teh-tarik", currency="SGD")
    stocked_variant(shop=other, price="3.00", units=5, title="Teh", sku="TEH-1")
    login_verified(client, StaffFactory())
    content = orders_file(
        order(external_ref="S-1"),
        order(external_ref="S-2", shop="teh-tarik", lines=[{"sku": "TEH-1", "quantity": 1, "unit_price": "3.00"}]),
    )
    response = post({"file": content})
    assert response.status_code == 202, response.content
    assert response.json()["shop"] is None
    data = client.get(response["Location"]).json()
    assert data["accepted"] == 2
    assert set(OrderIntake.objects.values_list("shop__slug", flat=True)) == {"kopi-corner", "teh-tarik"}


def test_staff_without_a_verified_session_are_refused(client, shop, post):
    """Staff must pass MFA first: 403 ``mfa-required``."""
    client.force_login(StaffFactory())
    problem(post({"file": orders_file(order())}), 403, "mfa-required")


def test_the_file_list_shows_only_the_callers_files_in_a_fixed_number_of_queries(
    client, shop, post, django_assert_max_num_queries
):
    """The list holds the key's shop's files only, newest first, in a fixed number of queries."""
    auth = key_auth(shop)
    ids = [post({"file": orders_file(order(external_ref=f"L-{i}"))}, **auth).json()["id"] for i in range(3)]
    other = ShopFactory()
    post({"file": orders_file(order(shop=other.slug))}, **key_auth(other))
    with django_assert_max_num_queries(3):  # the key, its touch, the page
        response = client.get(URL, **auth)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == ids[::-1]

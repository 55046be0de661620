"""Batch order files (XML and JSON): the documented schemas, safe parsing, and processing a file
order by order into incoming orders with a report (Celery runs eagerly here)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from pathlib import Path

import pytest
import xmlschema
from django.core.files.base import ContentFile
from django.http import Http404
from jsonschema import Draft202012Validator

from apps.orders.errors import IntakeError
from apps.orders.models import OrderFile, OrderIntake
from apps.orders.order_files import (
    JSON_SCHEMA_PATH,
    XSD_PATH,
    OrderFileError,
    OrderFileTooLarge,
    OrderFileUnsupported,
    order_file_parse,
    order_file_sniff,
)
from apps.orders.selectors_files import (
    order_file_get,
    order_file_progress,
    order_file_report_csv,
    order_file_report_rows,
    order_files_list,
)
from apps.orders.services_files import order_file_process, order_file_receive
from apps.shops.tests.factories import ShopFactory

from .factories import stocked_variant

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE_JSON = DATA / "orders_example.json"
EXAMPLE_XML = DATA / "orders_example.xml"


def order(**overrides) -> dict:
    body = {
        "shop": "kopi-corner",
        "channel": "pos",
        "external_ref": "POS-1",
        "currency": "SGD",
        "customer": {"name": "Mei Tan", "email": "mei@example.com", "phone": "+65 9123 4567"},
        "payment": "paid",
        "lines": [{"sku": "TEA-001", "quantity": 2, "unit_price": "12.50"}],
    }
    body.update(overrides)
    return body


def json_file(*orders, raw: str | None = None) -> bytes:
    return (raw if raw is not None else json.dumps({"orders": list(orders)})).encode()


def errors_by_field(parsed) -> dict[str, str]:
    return {e["field"]: e["message"] for e in parsed.errors}


def upload(content: bytes, name: str = "orders.json", **kwargs) -> OrderFile:
    return order_file_receive(uploaded_file=ContentFile(content, name=name), **kwargs)


@pytest.fixture
def tea():
    """Kopi Corner sells TEA-001 at 12.50 SGD and CUP-002 at 8.00 SGD, with stock."""
    shop = ShopFactory(slug="kopi-corner", currency="SGD")
    variant = stocked_variant(shop=shop, price="12.50", units=50, title="Oolong tea", sku="TEA-001")
    stocked_variant(shop=shop, price="8.00", units=50, title="Tea cup", sku="CUP-002")
    return variant


# --- the documented format ---------------------------------------------------------------------------


def test_json_schema_is_a_valid_schema_and_the_example_follows_it():
    """The JSON Schema in the repo is itself valid, and the documented JSON example passes it."""
    schema = json.loads(JSON_SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(json.loads(EXAMPLE_JSON.read_text())))
    assert errors == []


def test_xml_example_follows_the_xsd():
    """The documented XML example is valid against the XSD in the repo."""
    schema = xmlschema.XMLSchema(str(XSD_PATH))
    schema.validate(str(EXAMPLE_XML))


def test_the_xml_and_json_examples_are_the_same_orders():
    """Both examples read to the same payloads: the two formats carry the same fields."""
    from_json = order_file_parse(EXAMPLE_JSON.read_bytes(), file_format="json")
    from_xml = order_file_parse(EXAMPLE_XML.read_bytes(), file_format="xml")
    assert [p.errors for p in from_json + from_xml] == [[]] * 4
    assert [p.payload for p in from_json] == [p.payload for p in from_xml]
    assert from_xml[0].payload["lines"][0] == {"sku": "RATTAN-BASKET-M", "quantity": 2, "unit_price": "12.50"}


@pytest.mark.parametrize(
    ("order_xml", "field"),
    [
        ('<order channel="pos" external-ref="A"><currency>SGD</currency><payment>paid</payment>'
         '<lines><line sku="T" quantity="1" unit-price="1.00"/></lines></order>', "shop"),
        ('<order shop="s" external-ref="A"><currency>SGD</currency><payment>paid</payment>'
         '<lines><line sku="T" quantity="-1" unit-price="1.00"/></lines></order>', "lines[0].quantity"),
        ('<order shop="s" external-ref="A"><currency>SGD</currency><payment>paid</payment>'
         '<lines><line sku="T" quantity="1" unit-price="1.5.0"/></lines></order>', "lines[0].unit_price"),
        ('<order shop="s" external-ref="A"><currency>SGD</currency><payment>paid</payment><colour>red</colour>'
         '<lines><line sku="T" quantity="1" unit-price="1.00"/></lines></order>', "colour"),
        ('<order shop="s" external-ref="A"><currency>sgd</currency><payment>paid</payment>'
         '<lines><line sku="T" quantity="1" unit-price="1.00"/></lines></order>', "currency"),
    ],
)  # fmt: skip
def test_the_xsd_and_the_parser_refuse_the_same_bad_orders(order_xml, field):
    """An order the XSD refuses is refused by the parser too, on the field at fault."""
    document = f"<orders>{order_xml}</orders>".encode()
    assert not xmlschema.XMLSchema(str(XSD_PATH)).is_valid(document.decode())
    [parsed] = order_file_parse(document, file_format="xml")
    assert parsed.payload is None
    assert field in errors_by_field(parsed)


# --- reading files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'\xef\xbb\xbf  {"orders": []}', "json"),
        (b"\n<?xml version='1.0'?><orders/>", "xml"),
        ("<orders/>".encode("utf-16"), "xml"),
        (b"sku,quantity\nTEA,1", None),
        (b"%PDF-1.7", None),
    ],
)
def test_the_format_is_told_by_the_content(head, expected):
    """XML and JSON are recognised by their first bytes (BOM and white space allowed), not the name."""
    assert order_file_sniff(head) == expected


def test_a_bad_order_is_reported_and_the_others_are_read():
    """A JSON file with good and bad orders: each bad one gets its position, reference and errors."""
    content = json_file(
        order(external_ref="OK-1"),
        order(external_ref="BAD-1", lines=[{"sku": "TEA-001", "quantity": -2, "unit_price": "12.50"}]),
        "not an order",
        order(external_ref="OK-2"),
    )
    parsed = order_file_parse(content, file_format="json")
    assert [p.position for p in parsed] == [1, 2, 3, 4]
    assert [p.ok for p in parsed] == [True, False, False, True]
    assert parsed[1].external_ref == "BAD-1"
    assert "from 1 to 999" in errors_by_field(parsed[1])["lines[0].quantity"]
    assert "must be an object" in errors_by_field(parsed[2])[""]


def test_money_as_a_json_number_is_refused_with_use_a_string():
    """``"unit_price": 12.5`` (a float) is an error on that order telling to write a string."""
    [parsed] = order_file_parse(
        json_file(raw='{"orders": [{"shop": "s", "external_ref": "A", "currency": "SGD", "payment": "paid",'
                 ' "discount": 1, "lines": [{"sku": "T", "quantity": 1, "unit_price": 12.5}]}]}'),
        file_format="json",
    )  # fmt: skip
    errors = errors_by_field(parsed)
    assert "as a string" in errors["lines[0].unit_price"]
    assert "as a string" in errors["discount"]


def test_duplicate_keys_reject_the_order_not_the_file():
    """A key given twice in an order rejects that order (which value was meant is unknown)."""
    content = b'{"orders": [{"shop": "s", "shop": "t", "external_ref": "A", "currency": "SGD", "payment": "paid",' \
              b' "lines": [{"sku": "T", "quantity": 1, "quantity": 2, "unit_price": "1.00"}]}]}'  # fmt: skip
    [parsed] = order_file_parse(content, file_format="json")
    errors = errors_by_field(parsed)
    assert "more than once" in errors["shop"]
    assert "more than once" in errors["lines[0].quantity"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"orders": [{"shop": "s",', "not valid JSON"),
        (b'{"orders": [{"discount": NaN}]}', "NaN"),
        (b'{"orders": [{"discount": -Infinity}]}', "Infinity"),
        (b'[{"shop": "s"}]', '{"orders": [ … ]}'),
        (b'{"orders": [], "extra": 1}', "extra"),
        (b'{"orders": {"shop": "s"}}', "must be a list"),
        (b'{"orders": "\xff\xfe"}', "UTF-8"),
        (b"", "empty"),
    ],
)
def test_a_broken_json_file_is_one_clear_file_level_error(content, words):
    """Malformed JSON, NaN/Infinity, a top-level list, unknown keys, bad encoding, an empty file:
    one error for the whole file, saying what to fix."""
    with pytest.raises(OrderFileError) as caught:
        order_file_parse(content, file_format="json")
    assert words in caught.value.message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<orders><order shop="&lol9;" external-ref="A"/></orders>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE orders [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<orders><order shop="s" external-ref="&secret;"/></orders>"""


@pytest.mark.parametrize("content", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_xml_with_entities_is_refused_without_expanding_them(content):
    """Entity expansion and external entities are refused for the whole file, at once (no
    expansion: it takes milliseconds) and nothing from outside the file shows up in the error."""
    started = time.monotonic()
    with pytest.raises(OrderFileError) as caught:
        order_file_parse(content, file_format="xml")
    assert time.monotonic() - started < 1
    assert caught.value.code == "xml-declarations-refused"
    assert "entities" in caught.value.message
    assert "root:" not in caught.value.message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"<orders><order shop='s'></orders>", "not well-formed XML (line 1"),
        (b"<shipments/>", "<orders> as its root"),
        (b"<orders>loose text<order/></orders>", "Unexpected text"),
    ],
)
def test_a_broken_xml_file_is_one_clear_file_level_error(content, words):
    """Malformed XML, another root element, stray text: one error for the whole file."""
    with pytest.raises(OrderFileError) as caught:
        order_file_parse(content, file_format="xml")
    assert words in caught.value.message


def test_xml_structure_errors_name_the_order_and_the_field():
    """Unknown attributes, repeated elements and a wrong element are errors of that order only."""
    content = b"""<orders>
      <order shop="s" external-ref="A" colour="red"><currency>SGD</currency><currency>SGD</currency>
        <payment>paid</payment><lines><line sku="T" quantity="1" unit-price="1.00" size="L"/></lines></order>
      <invoice/>
      <order shop="s" external-ref="B"><currency>SGD</currency><payment>paid</payment>
        <lines><line sku="T" quantity="1" unit-price="1.00"/></lines></order>
    </orders>"""
    first, second, third = order_file_parse(content, file_format="xml")
    assert set(errors_by_field(first)) == {"colour", "currency", "lines[0].size"}
    assert first.external_ref == "A"
    assert "Expected an <order>" in errors_by_field(second)[""]
    assert third.ok and third.payload["external_ref"] == "B" and third.payload["channel"] == "batch"


def test_too_many_orders_is_a_file_level_error(settings):
    """More orders than ORDER_FILE_MAX_ORDERS: the file is refused, naming the limit."""
    settings.ORDER_FILE_MAX_ORDERS = 2
    with pytest.raises(OrderFileError) as caught:
        order_file_parse(json_file(order(), order(), order()), file_format="json")
    assert "at most 2" in caught.value.message
    with pytest.raises(OrderFileError):
        order_file_parse(b"<orders><order/><order/><order/></orders>", file_format="xml")


# --- receiving and processing files -------------------------------------------------------------------


@pytest.mark.django_db
def test_receiving_stores_the_file_and_queues_processing_after_commit(tea, django_capture_on_commit_callbacks):
    """The file is stored through the storage backend with its SHA-256 and format (by content, not
    by its misleading name); processing is queued only when the transaction commits."""
    content = json_file(order())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order_file = upload(content, name="orders.txt", label="POS night batch")
    assert len(callbacks) == 1
    order_file.refresh_from_db()
    assert order_file.status == OrderFile.Status.RECEIVED
    assert order_file.format == "json" and order_file.original_name == "orders.txt"
    assert order_file.size == len(content)
    assert order_file.sha256 == hashlib.sha256(content).hexdigest()
    assert order_file.uploaded_by_label == "POS night batch"
    with order_file.file.open("rb") as stored:
        assert stored.read() == content
    callbacks[0]()
    order_file.refresh_from_db()
    assert order_file.status == OrderFile.Status.PROCESSED


@pytest.mark.django_db
def test_an_oversize_file_is_refused_and_nothing_is_stored(settings):
    """Over ORDER_FILE_MAX_BYTES: a 413 IntakeError saying the limit; no OrderFile is made."""
    settings.ORDER_FILE_MAX_BYTES = 100
    with pytest.raises(OrderFileTooLarge) as caught:
        upload(json_file(order(), order()))
    assert isinstance(caught.value, IntakeError) and caught.value.status_code == 413
    assert "at most 100 bytes" in caught.value.message
    assert not OrderFile.objects.exists()


@pytest.mark.django_db
def test_a_file_neither_xml_nor_json_is_refused_and_nothing_is_stored():
    """A CSV renamed to .json is told by its content and refused (415)."""
    with pytest.raises(OrderFileUnsupported) as caught:
        upload(b"shop,sku,quantity\nkopi-corner,TEA-001,2\n", name="orders.json")
    assert caught.value.status_code == 415
    assert not OrderFile.objects.exists()


MIXED = {
    "orders": [
        order(external_ref="GOOD-1"),
        {"shop": "kopi-corner", "external_ref": "MALFORMED-2", "currency": "SGD", "payment": "paid"},
        order(external_ref="UNKNOWN-SKU-3", lines=[{"sku": "NOPE-999", "quantity": 1, "unit_price": "1.00"}]),
        order(external_ref="NEGATIVE-4", lines=[{"sku": "TEA-001", "quantity": -1, "unit_price": "12.50"}]),
        order(external_ref="CURRENCY-5", currency="USD"),
        order(external_ref="FLOAT-6", lines=[{"sku": "TEA-001", "quantity": 1, "unit_price": 12.5}]),
        order(external_ref="GOOD-7", channel="kiosk", lines=[{"sku": "CUP-002", "quantity": 3, "unit_price": "8.00"}]),
    ]
}


def _process_now(content: bytes, django_capture_on_commit_callbacks, **kwargs) -> OrderFile:
    with django_capture_on_commit_callbacks(execute=True):
        order_file = upload(content, **kwargs)
    order_file.refresh_from_db()
    return order_file


@pytest.mark.django_db
def test_a_mixed_file_accepts_the_good_orders_and_reports_each_bad_one(tea, django_capture_on_commit_callbacks):
    """Good orders become incoming orders (and then orders); each bad one (malformed, unknown SKU,
    negative quantity, wrong currency, float price) is rejected with a clear error in the report,
    and never stops the orders after it."""
    content = json.dumps(MIXED).encode()  # FLOAT-6's price is the JSON number 12.5
    order_file = _process_now(content, django_capture_on_commit_callbacks)

    assert order_file.status == OrderFile.Status.PROCESSED
    assert (order_file.total, order_file.accepted, order_file.duplicates, order_file.rejected) == (7, 2, 0, 5)
    rows = {row["external_ref"]: row for row in order_file.report}
    assert [row["position"] for row in order_file.report] == [1, 2, 3, 4, 5, 6, 7]
    assert rows["GOOD-1"]["outcome"] == rows["GOOD-7"]["outcome"] == "accepted"

    def errors(ref):
        assert rows[ref]["outcome"] == "rejected" and rows[ref]["intake_id"] is None
        return {e["field"]: e["message"] for e in rows[ref]["errors"]}

    assert errors("MALFORMED-2") == {"lines": "This field is required."}
    assert "NOPE-999" in errors("UNKNOWN-SKU-3")["lines[0].sku"]
    assert "from 1 to 999" in errors("NEGATIVE-4")["lines[0].quantity"]
    assert "SGD" in errors("CURRENCY-5")["currency"]
    assert "as a string" in errors("FLOAT-6")["lines[0].unit_price"]

    intakes = OrderIntake.objects.filter(source_file=order_file).order_by("position")
    assert [(i.external_ref, i.channel, i.position) for i in intakes] == [("GOOD-1", "pos", 1), ("GOOD-7", "kiosk", 7)]
    assert {row["intake_id"] for row in (rows["GOOD-1"], rows["GOOD-7"])} == {i.pk for i in intakes}
    report_rows = {row["external_ref"]: row for row in order_file_report_rows(order_file=order_file)}
    assert report_rows["GOOD-1"]["order"]  # the pipeline made the order
    assert report_rows["GOOD-1"]["intake_status"] == OrderIntake.Status.DONE


@pytest.mark.django_db
def test_an_xml_file_is_processed_like_a_json_one(tea, django_capture_on_commit_callbacks):
    """The same orders in XML: the good one accepted, the one with a missing attribute rejected."""
    content = b"""<?xml version="1.0" encoding="UTF-8"?>
    <orders>
      <order shop="kopi-corner" channel="phone" external-ref="TEL-1">
        <currency>SGD</currency><customer name="Arjun" phone="+65 8765 4321"/><payment>pay_on_pickup</payment>
        <lines><line sku="TEA-001" quantity="1" unit-price="12.50"/></lines>
      </order>
      <order shop="kopi-corner" channel="phone">
        <currency>SGD</currency><payment>paid</payment>
        <lines><line sku="TEA-001" quantity="1" unit-price="12.50"/></lines>
      </order>
    </orders>"""
    order_file = _process_now(content, django_capture_on_commit_callbacks, name="orders.xml")
    assert order_file.format == "xml"
    assert [(r["position"], r["outcome"]) for r in order_file.report] == [(1, "accepted"), (2, "rejected")]
    assert order_file.report[1]["errors"] == [{"field": "external_ref", "message": "This field is required."}]
    assert OrderIntake.objects.get(source_file=order_file).payload["customer"] == {
        "name": "Arjun",
        "phone": "+65 8765 4321",
    }


@pytest.mark.django_db
def test_a_resent_file_is_accepted_and_all_its_orders_are_duplicates(tea, django_capture_on_commit_callbacks):
    """The same file uploaded twice: the second is a new file, every order in it a duplicate of the
    first file's, and no incoming order is made twice."""
    content = json_file(order(external_ref="R-1"), order(external_ref="R-2"))
    first = _process_now(content, django_capture_on_commit_callbacks)
    second = _process_now(content, django_capture_on_commit_callbacks)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert second.status == OrderFile.Status.PROCESSED
    assert (second.total, second.accepted, second.duplicates, second.rejected) == (2, 0, 2, 0)
    assert [r["intake_id"] for r in second.report] == [r["intake_id"] for r in first.report]
    assert OrderIntake.objects.count() == 2
    assert first.sha256 == second.sha256


@pytest.mark.django_db
def test_processing_again_doubles_nothing_and_rebuilds_the_same_report(tea, django_capture_on_commit_callbacks):
    """A redelivered task on a file left half way: the orders already submitted are found (reported
    as accepted, not as duplicates), nothing is made twice, the counters are rebuilt."""
    order_file = _process_now(json_file(order(external_ref="A-1"), order(external_ref="A-2"), order(currency="X")), django_capture_on_commit_callbacks)  # fmt: skip
    report = order_file.report
    OrderFile.objects.filter(pk=order_file.pk).update(status=OrderFile.Status.PARSING, accepted=1, report=[])

    again = order_file_process(order_file=order_file)
    assert again.report == report
    assert (again.total, again.accepted, again.duplicates, again.rejected) == (3, 2, 0, 1)
    assert OrderIntake.objects.count() == 2

    # Once processed, a late duplicate delivery of the task changes nothing.
    assert order_file_process(order_file=order_file).report == report


@pytest.mark.django_db
def test_a_shop_file_rejects_orders_for_other_shops(tea, django_capture_on_commit_callbacks):
    """A file uploaded for one shop (its API key): an order naming another shop is rejected."""
    ShopFactory(slug="other-shop", currency="SGD")
    content = json_file(order(external_ref="MINE"), order(external_ref="THEIRS", shop="other-shop"))
    order_file = _process_now(content, django_capture_on_commit_callbacks, shop=tea.product.shop)
    assert [r["outcome"] for r in order_file.report] == ["accepted", "rejected"]
    assert "other-shop" in order_file.report[1]["errors"][0]["message"]
    assert order_file.report[1]["errors"][0]["field"] == "shop"


@pytest.mark.django_db
def test_a_malformed_file_fails_with_its_error_and_submits_nothing(tea, django_capture_on_commit_callbacks):
    """Malformed JSON (it looked like JSON at upload): the file ends ``failed`` with a file-level
    error and no incoming order."""
    order_file = _process_now(b'{"orders": [{"shop": "kopi-corner", ', django_capture_on_commit_callbacks)
    assert order_file.status == OrderFile.Status.FAILED
    assert "not valid JSON" in order_file.error
    assert order_file.report == [] and order_file.total == 0
    assert not OrderIntake.objects.exists()
    assert order_file_progress(order_file=order_file) == 100


@pytest.mark.django_db
def test_progress_is_saved_while_processing(tea, django_capture_on_commit_callbacks, monkeypatch):
    """The counters are saved every PROGRESS_EVERY orders, so the back office sees progress before
    the file is done."""
    from apps.orders import services_files

    monkeypatch.setattr(services_files, "PROGRESS_EVERY", 1)
    seen = []
    real_submit = services_files._order_submit

    def spy(*, order_file, item):
        saved = OrderFile.objects.get(pk=order_file.pk)
        seen.append((saved.status, saved.total, order_file_progress(order_file=saved)))
        return real_submit(order_file=order_file, item=item)

    monkeypatch.setattr(services_files, "_order_submit", spy)
    _process_now(json_file(order(external_ref="P-1"), order(external_ref="P-2")), django_capture_on_commit_callbacks)
    assert seen == [("parsing", 2, 0), ("parsing", 2, 50)]


@pytest.mark.django_db
def test_the_report_downloads_as_csv_that_is_safe_in_a_spreadsheet(tea, django_capture_on_commit_callbacks):
    """One CSV row per order with its outcome and errors; a reference that looks like a formula is
    neutralised."""
    content = json_file(order(external_ref="C-1"), order(external_ref="=HYPERLINK(1)", currency="USD"))
    order_file = _process_now(content, django_capture_on_commit_callbacks)
    rows = list(csv.DictReader(io.StringIO(order_file_report_csv(order_file))))
    assert [(r["position"], r["outcome"]) for r in rows] == [("1", "accepted"), ("2", "rejected")]
    assert rows[1]["external_ref"] == "'=HYPERLINK(1)"
    assert rows[1]["errors"].startswith("currency: ")
    assert rows[0]["order"] and rows[0]["intake_status"] == "done"


@pytest.mark.django_db
def test_another_shops_file_is_not_found(tea):
    """Asked for with a shop, another shop's file (or a platform one) is a 404; the lists too."""
    mine = upload(json_file(order()), shop=tea.product.shop)
    other_shop = ShopFactory()
    theirs = upload(json_file(order(shop=other_shop.slug)), shop=other_shop)
    platform = upload(json_file(order()))
    assert order_file_get(pk=mine.pk, shop=tea.product.shop) == mine
    for pk in (theirs.pk, platform.pk):
        with pytest.raises(Http404):
            order_file_get(pk=pk, shop=tea.product.shop)
    assert list(order_files_list(shop=tea.product.shop)) == [mine]
    assert set(order_files_list()) == {mine, theirs, platform}


@pytest.mark.django_db
def test_an_unexpected_error_on_one_order_rejects_it_and_the_rest_go_on(tea, monkeypatch, caplog):
    """A bug or data error while submitting one order is logged and reported on that order only."""
    from apps.orders import services_intake

    real_submit = services_intake.intake_submit

    def flaky(**kwargs):
        if kwargs["payload"]["external_ref"] == "BOOM":
            raise ValueError("something unexpected")
        return real_submit(**kwargs)

    monkeypatch.setattr(services_intake, "intake_submit", flaky)
    order_file = upload(json_file(order(external_ref="BOOM"), order(external_ref="FINE")))
    order_file = order_file_process(order_file=order_file)
    assert [r["outcome"] for r in order_file.report] == ["rejected", "accepted"]
    assert "error on our side" in order_file.report[0]["errors"][0]["message"]
    assert "could not be submitted" in caplog.text


@pytest.mark.django_db
def test_a_database_outage_fails_the_task_for_a_retry(tea, monkeypatch):
    """A lost database connection is not blamed on the order: the task fails (and Celery retries it
    with backoff); the file stays in progress and is processed from the start next time."""
    from django.db import OperationalError

    from apps.orders import services_intake

    def down(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    order_file = upload(json_file(order(external_ref="O-1")))
    with monkeypatch.context() as patch:
        patch.setattr(services_intake, "intake_submit", down)
        with pytest.raises(OperationalError):
            order_file_process(order_file=order_file)
    order_file.refresh_from_db()
    assert order_file.status == OrderFile.Status.PARSING
    assert order_file_process(order_file=order_file).accepted == 1

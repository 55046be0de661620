"""Incoming orders (API, POS, kiosk, phone desk, batch): validation, intake and the pipeline run
eagerly (the real-worker tests are in test_pipeline_worker.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.catalog.models import Product
from apps.inventory.models import StockItem, StockMovement
from apps.orders.errors import IntakeError
from apps.orders.models import Order, OrderEvent, OrderIntake
from apps.orders.selectors_intake import intake_get, intakes_dead_letter, intakes_list
from apps.orders.services_intake import (
    STEPS,
    intake_pipeline_run,
    intake_repush,
    intake_submit,
    intake_validate,
    intakes_repush,
)
from apps.payments.models import Payment, PayoutEntry
from apps.shops.tests.factories import ShopFactory

from .factories import stocked_variant

pytestmark = pytest.mark.django_db

Status = OrderIntake.Status


@pytest.fixture
def tea():
    """A shop selling TEA-001 at 12.50 SGD (10 in stock) and CUP-002 at 8.00 (5 in stock)."""
    shop = ShopFactory(slug="kopi-corner", currency="SGD")
    variant = stocked_variant(shop=shop, price="12.50", units=10, title="Oolong tea", sku="TEA-001")
    stocked_variant(shop=shop, price="8.00", units=5, title="Tea cup", sku="CUP-002")
    return variant


def payload(**overrides) -> dict:
    body = {
        "shop": "kopi-corner",
        "channel": "pos",
        "external_ref": "POS-1001",
        "currency": "SGD",
        "customer": {"name": "Mei Tan", "email": "mei@example.com", "phone": "+65 9123 4567"},
        "fulfilment": "pickup",
        "payment": "paid",
        "discount": "2.00",
        "placed_at": "2026-01-04T10:00:00+08:00",
        "note": "Gift wrap",
        "lines": [{"sku": "TEA-001", "quantity": 2, "unit_price": "12.50"}],
    }
    body.update(overrides)
    return body


def errors_of(exc_info) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc_info.value.extra["errors"]}


def on_hand(variant) -> int:
    return sum(StockItem.objects.filter(variant=variant).values_list("on_hand", flat=True))


# --- validation --------------------------------------------------------------------------------------


def test_a_valid_order_is_resolved_with_its_variants_and_totals(tea):
    """A good payload comes back with the shop, each line's variant and the totals computed."""
    order = intake_validate(payload=payload())
    assert order.shop == tea.shop
    assert order.lines[0].variant == tea
    assert order.subtotal == Decimal("25.00")
    assert order.discount == Decimal("2.00")
    assert order.total == Decimal("23.00")
    assert order.placed_at == datetime(2026, 1, 4, 2, 0, tzinfo=UTC)


def test_every_problem_of_an_order_is_listed_at_once(tea):
    """Unknown SKU, negative quantity, float price, too many decimals, a bad email and the wrong
    currency are all reported together, each on its field."""
    bad = payload(
        currency="MYR",
        customer={"email": "not-an-email"},
        lines=[
            {"sku": "TEA-001", "quantity": -1, "unit_price": "12.50"},
            {"sku": "NOPE-9", "quantity": 1, "unit_price": "1.00"},
            {"sku": "CUP-002", "quantity": 1, "unit_price": 8.0},
            {"sku": "CUP-002", "quantity": 1, "unit_price": "8.001"},
        ],
    )
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=bad)
    errors = errors_of(exc_info)
    assert set(errors) == {
        "currency",
        "customer.email",
        "lines[0].quantity",
        "lines[1].sku",
        "lines[2].unit_price",
        "lines[3].unit_price",
    }
    assert "sells in SGD" in errors["currency"]
    assert "NOPE-9" in errors["lines[1].sku"]
    assert "never as JSON numbers" in errors["lines[2].unit_price"]
    assert "at most 2 decimals" in errors["lines[3].unit_price"]
    assert exc_info.value.status_code == 422


def test_missing_fields_are_named(tea):
    """An order with only its shop lists each required field."""
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload={"shop": "kopi-corner"})
    assert set(errors_of(exc_info)) == {"external_ref", "currency", "payment", "lines"}


@pytest.mark.parametrize("price", ["NaN", "12,50", "1e3", "", "-1.00", "Infinity", None, True, 12])
def test_money_must_be_a_plain_non_negative_decimal_string(tea, price):
    """NaN, commas, exponents, empty, negative, infinite, null, booleans and numbers are refused."""
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload(lines=[{"sku": "TEA-001", "quantity": 1, "unit_price": price}]))
    assert "lines[0].unit_price" in errors_of(exc_info)


@pytest.mark.parametrize("quantity", [0, 1000, 2.0, "2", True, None])
def test_quantity_is_a_whole_number_from_1_to_999(tea, quantity):
    """Zero, more than 999, floats, strings, booleans and null are refused."""
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload(lines=[{"sku": "TEA-001", "quantity": quantity, "unit_price": "1.00"}]))
    assert "lines[0].quantity" in errors_of(exc_info)


def test_at_most_200_lines(tea):
    """201 lines are refused as a whole with a message to split the order."""
    lines = [{"sku": "TEA-001", "quantity": 1, "unit_price": "1.00"}] * 201
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload(lines=lines))
    assert "split" in errors_of(exc_info)["lines"]


def test_discount_cannot_exceed_the_items(tea):
    """A discount above the subtotal is refused."""
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload(discount="25.01"))
    assert "more than" in errors_of(exc_info)["discount"]


def test_an_item_not_on_sale_is_refused(tea):
    """A SKU whose product is a draft is not on sale."""
    Product.objects.filter(pk=tea.product_id).update(status=Product.Status.DRAFT)
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload())
    assert "not on sale" in errors_of(exc_info)["lines[0].sku"]


def test_a_shops_key_cannot_send_another_shops_order(tea):
    """With ``shop`` given (the caller's key), a payload naming another shop is refused."""
    other = ShopFactory()
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload(), shop=other)
    assert "kopi-corner" in errors_of(exc_info)["shop"]


def test_an_unknown_shop_is_refused(tea):
    with pytest.raises(IntakeError) as exc_info:
        intake_validate(payload=payload(shop="no-such-shop"))
    assert "no shop" in errors_of(exc_info)["shop"]


# --- intake ------------------------------------------------------------------------------------------


def test_a_resent_order_is_one_intake_reported_as_duplicate(tea, django_capture_on_commit_callbacks):
    """The same (shop, channel, external_ref) twice: one intake, the second call says duplicate and
    queues nothing."""
    with django_capture_on_commit_callbacks() as first_callbacks:
        first = intake_submit(payload=payload(), channel="pos")
    with django_capture_on_commit_callbacks() as second_callbacks:
        second = intake_submit(payload=payload(note="again"), channel="pos")
    assert first.created and not first.duplicate
    assert second.duplicate and not second.created and second.intake.pk == first.intake.pk
    assert OrderIntake.objects.count() == 1
    assert len(first_callbacks) == 1 and len(second_callbacks) == 0


def test_the_same_reference_on_another_channel_is_another_order(tea, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        intake_submit(payload=payload(), channel="pos")
        result = intake_submit(payload=payload(channel="kiosk"), channel="kiosk")
    assert result.created and OrderIntake.objects.count() == 2


def test_an_invalid_order_saves_nothing_and_queues_nothing(tea, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(IntakeError):
        intake_submit(payload=payload(lines=[]), channel="pos")
    assert not OrderIntake.objects.exists() and not callbacks


def test_the_pipeline_is_queued_only_after_commit(tea, django_capture_on_commit_callbacks):
    """Submitting records the intake; the order is made only once the transaction commits."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = intake_submit(payload=payload(), channel="pos")
        assert not Order.objects.exists()
    assert len(callbacks) == 1
    assert result.intake.status == Status.RECEIVED and not Order.objects.exists()


# --- the pipeline (eager) ----------------------------------------------------------------------------


def submit_and_run(django_capture_on_commit_callbacks, body=None) -> OrderIntake:
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_submit(payload=body or payload(), channel=(body or payload()).get("channel", "pos"))
    return OrderIntake.objects.select_related("order").get(pk=result.intake.pk)


def test_a_prepaid_till_order_is_made_paid_with_its_stock_sold(tea, django_capture_on_commit_callbacks):
    """POS order paid at the till: order PAID with catalog and charged prices, placed event and
    paid event, stock sold under the order number, payment collected, sale in the payout ledger."""
    intake = submit_and_run(django_capture_on_commit_callbacks)
    assert intake.status == Status.DONE and intake.steps_done == STEPS and intake.finished_at
    order = intake.order
    assert order.status == Order.Status.PAID and order.channel == "pos" and order.external_ref == "POS-1001"
    assert (order.subtotal, order.discount, order.total) == (Decimal("25.00"), Decimal("2.00"), Decimal("23.00"))
    assert order.customer_email == "mei@example.com" and order.buyer is None
    assert order.placed_at == datetime(2026, 1, 4, 2, 0, tzinfo=UTC)
    line = order.lines.get()
    assert (line.sku, line.quantity, line.unit_price, line.list_price) == (
        "TEA-001",
        2,
        Decimal("12.50"),
        Decimal("12.50"),
    )
    assert line.weight_grams == tea.weight_grams
    moves = [(e.from_status, e.to_status) for e in order.events.filter(kind=OrderEvent.Kind.TRANSITION)]
    assert moves == [("", "pending_payment"), ("pending_payment", "paid")]
    assert on_hand(tea) == 8
    assert StockMovement.objects.filter(reference=order.number, kind="sale").count() == 1
    payment = Payment.objects.get(reference=order.number)
    assert payment.status == Payment.Status.COLLECTED and payment.amount == Decimal("23.00")
    assert PayoutEntry.objects.filter(reference=order.number, kind="sale", amount=Decimal("23.00")).exists()


def test_a_pay_on_pickup_order_is_confirmed_and_waits_for_the_counter(tea, django_capture_on_commit_callbacks):
    intake = submit_and_run(django_capture_on_commit_callbacks, payload(payment="pay_on_pickup", discount=None))
    order = intake.order
    assert intake.status == Status.DONE and order.status == Order.Status.CONFIRMED
    assert order.total == Decimal("25.00")
    assert Payment.objects.get(reference=order.number).status == Payment.Status.REQUIRES_PAYMENT
    assert not PayoutEntry.objects.filter(reference=order.number).exists()
    assert on_hand(tea) == 8


def test_out_of_stock_rejects_the_intake_and_makes_no_order(tea, django_capture_on_commit_callbacks):
    """More than is in stock: rejected at reserve with a clear message; no order, stock untouched."""
    body = payload(lines=[{"sku": "TEA-001", "quantity": 11, "unit_price": "12.50"}], discount="0")
    intake = submit_and_run(django_capture_on_commit_callbacks, body)
    assert intake.status == Status.REJECTED and intake.step == "reserve"
    assert "Only 10 left" in intake.last_error and intake.errors[0]["message"] == intake.last_error
    assert intake.order is None and not Order.objects.exists()
    assert intake.attempts == 0
    assert on_hand(tea) == 10


def test_running_the_pipeline_again_changes_nothing(tea, django_capture_on_commit_callbacks):
    """A redelivered task finds every step done: still one order, stock sold once."""
    intake = submit_and_run(django_capture_on_commit_callbacks)
    OrderIntake.objects.filter(pk=intake.pk).update(status=Status.PROCESSING)
    outcome = intake_pipeline_run(intake_id=intake.pk)
    assert outcome.status == Status.DONE
    assert Order.objects.count() == 1 and on_hand(tea) == 8
    assert StockMovement.objects.filter(kind="sale").count() == 1


def test_a_step_that_keeps_failing_is_dead_lettered_then_repushed(
    tea, django_capture_on_commit_callbacks, monkeypatch, settings
):
    """A transient failure at payment is retried up to ORDER_PIPELINE_MAX_ATTEMPTS, then the
    intake is dead-lettered with its step and error. Payment commits with the order's making, so
    nothing of the order is left behind (no order, no stock sold); re-pushed once the fault is gone,
    it completes."""
    settings.ORDER_PIPELINE_RETRY_BASE_SECONDS = 0
    monkeypatch.setenv("ORDER_PIPELINE_FAIL_STEP", "payment")
    intake = submit_and_run(django_capture_on_commit_callbacks)
    assert intake.status == Status.DEAD_LETTER and intake.step == "payment"
    assert intake.attempts == 10 and "injected fault" in intake.last_error
    assert intake.steps_done == [] and intake.order is None
    assert list(intakes_dead_letter()) == [intake]
    assert not Order.objects.exists() and on_hand(tea) == 10

    monkeypatch.delenv("ORDER_PIPELINE_FAIL_STEP")
    with django_capture_on_commit_callbacks(execute=True):
        intake_repush(intake=intake)
    intake.refresh_from_db()
    assert intake.status == Status.DONE and intake.pushes == 1 and intake.attempts == 0
    assert intake.order.status == Order.Status.PAID and Order.objects.count() == 1
    assert on_hand(tea) == 8


def test_a_dead_letter_whose_order_exists_is_repushed_with_its_payload_sent_back_unchanged(
    tea, django_capture_on_commit_callbacks, monkeypatch, settings
):
    """The back office's form always sends the payload: sent back as it is, it is a plain re-push,
    even though the order was already made (only a changed payload is refused then). Found by the
    order journey's browser test."""
    settings.ORDER_PIPELINE_RETRY_BASE_SECONDS = 0
    monkeypatch.setenv("ORDER_PIPELINE_FAIL_STEP", "email")
    intake = submit_and_run(django_capture_on_commit_callbacks)
    assert intake.status == Status.DEAD_LETTER and intake.order_id is not None
    monkeypatch.delenv("ORDER_PIPELINE_FAIL_STEP")
    with pytest.raises(IntakeError, match="can only be re-pushed as it is"):
        intake_repush(intake=intake, payload={**intake.payload, "note": "changed"})
    assert intake.order.events.filter(kind=OrderEvent.Kind.PIPELINE, data__outcome="dead_letter").exists()
    with django_capture_on_commit_callbacks(execute=True):
        intake_repush(intake=intake, payload=dict(intake.payload))
    intake.refresh_from_db()
    assert intake.status == Status.DONE and Order.objects.count() == 1
    assert intake.order.events.filter(kind=OrderEvent.Kind.PIPELINE, data__outcome="repushed").exists()


def test_backoff_doubles_and_is_capped(settings):
    from apps.orders.services_intake import _backoff

    settings.ORDER_PIPELINE_RETRY_BASE_SECONDS = 2
    settings.ORDER_PIPELINE_RETRY_MAX_SECONDS = 300
    assert [_backoff(n) for n in (1, 2, 3, 8, 9, 10)] == [2, 4, 8, 256, 300, 300]


def test_a_done_intake_cannot_be_repushed(tea, django_capture_on_commit_callbacks):
    intake = submit_and_run(django_capture_on_commit_callbacks)
    with pytest.raises(IntakeError, match="nothing to re-push"):
        intake_repush(intake=intake)


def test_a_rejected_intake_is_repushed_with_a_fixed_payload(tea, django_capture_on_commit_callbacks):
    """Staff fix the quantity of a rejected order and re-push it: it goes through."""
    body = payload(lines=[{"sku": "TEA-001", "quantity": 11, "unit_price": "12.50"}], discount="0")
    intake = submit_and_run(django_capture_on_commit_callbacks, body)
    with pytest.raises(IntakeError):
        intake_repush(intake=intake, payload={**body, "lines": [{"sku": "GONE", "quantity": 1, "unit_price": "1"}]})
    intake.refresh_from_db()
    assert intake.status == Status.REJECTED and intake.payload == body
    fixed = {**body, "lines": [{"sku": "TEA-001", "quantity": 3, "unit_price": "12.50"}]}
    with django_capture_on_commit_callbacks(execute=True):
        intake_repush(intake=intake, payload=fixed)
    intake.refresh_from_db()
    assert intake.status == Status.DONE and intake.order.lines.get().quantity == 3
    assert on_hand(tea) == 7


def test_bulk_repush_skips_what_cannot_be_repushed(tea, django_capture_on_commit_callbacks, monkeypatch, settings):
    settings.ORDER_PIPELINE_RETRY_BASE_SECONDS = 0
    settings.ORDER_PIPELINE_MAX_ATTEMPTS = 2
    monkeypatch.setenv("ORDER_PIPELINE_FAIL_STEP", "confirm")
    dead = submit_and_run(django_capture_on_commit_callbacks)
    monkeypatch.delenv("ORDER_PIPELINE_FAIL_STEP")
    done = submit_and_run(django_capture_on_commit_callbacks, payload(external_ref="POS-1002"))
    assert dead.status == Status.DEAD_LETTER and done.status == Status.DONE
    with django_capture_on_commit_callbacks(execute=True):
        assert intakes_repush(intake_ids=[dead.pk, done.pk]) == 1
    dead.refresh_from_db()
    assert dead.status == Status.DONE and dead.order.status == Order.Status.PAID


def test_intake_selectors_filter_by_status_shop_channel_and_reference(tea, django_capture_on_commit_callbacks):
    first = submit_and_run(django_capture_on_commit_callbacks)
    second = submit_and_run(django_capture_on_commit_callbacks, payload(external_ref="KIOSK-7", channel="kiosk"))
    assert list(intakes_list(channel="kiosk")) == [second]
    assert list(intakes_list(query="pos-10")) == [first]
    assert list(intakes_list(query=first.order.number)) == [first]
    assert list(intakes_list(status=Status.DONE, shop=tea.shop)) == [second, first]
    assert not intakes_list(shop=ShopFactory()).exists()
    assert intake_get(pk=first.pk) == first

"""Orders from outside (API, POS, kiosk, phone desk, batch files): intake and the pipeline.

An order arrives as a payload (the shape below, the same in the API and in batch files).
:func:`intake_submit` validates it (:func:`intake_validate` lists every problem at once), records
it as an ``OrderIntake`` unique per (shop, channel, external reference) — a re-sent order is
reported as a duplicate of the first — and queues the pipeline after commit.

The pipeline (:func:`intake_pipeline_run`, run by the task ``orders.intake_process``) takes the
intake through validate → price check → reserve → payment → confirm → documents → email, in two
stages (:data:`STAGES`): each runs in one transaction that row-locks the intake and appends each
step to ``steps_done``, so a step whose transaction committed is skipped when the task runs again (a
retry, a redelivery after a worker died), and a stage whose worker died mid-way left nothing behind. A business error (the
order itself is wrong: unknown SKU, out of stock…) rejects the intake at once with its errors; any
other failure is retried with exponential backoff, and after ``ORDER_PIPELINE_MAX_ATTEMPTS`` the
intake lands in the dead-letter queue with its payload, the failed step and the last error, for
staff to fix and re-push (:func:`intake_repush`, :func:`intakes_repush`).

Payload::

    {"shop": "kampong-crafts", "channel": "pos", "external_ref": "POS-1001", "currency": "SGD",
     "customer": {"name": "…", "email": "…", "phone": "…"}, "fulfilment": "pickup",
     "payment": "paid" | "pay_on_pickup", "discount": "2.00", "placed_at": "2026-12-04T10:00:00+08:00",
     "note": "…", "lines": [{"sku": "TEA-001", "quantity": 2, "unit_price": "12.50"}]}
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.catalog.models import Variant
from apps.core.errors import ApplicationError
from apps.core.money import Money, currency_exponent
from apps.core.tasks_base import enqueue_on_commit
from apps.inventory.services import LineRequest, stock_return, stock_sell
from apps.payments.services import payment_collect, payment_start
from apps.shops.models import Shop

from .actors import Actor
from .errors import IntakeError
from .models import EXTERNAL_CHANNELS, Channel, Fulfilment, Order, OrderEvent, OrderIntake, OrderLine, PaymentMethod
from .selectors import variant_purchasable
from .services import _number, order_event_record, order_transition, orders_placed_record

logger = logging.getLogger(__name__)

MAX_LINES = 200
MAX_QUANTITY = 999
PAYMENTS = ("paid", "pay_on_pickup")
EXTERNAL_REF_MAX_LENGTH = OrderIntake._meta.get_field("external_ref").max_length
_MONEY = re.compile(r"^-?\d{1,10}(?:\.\d+)?$")

Step = OrderIntake.Step
STEPS: list[str] = list(Step.values)
# A business error in these steps rejects the intake (the order is wrong as sent). Past confirm the
# order stands: documents and email failures are retried and, at worst, dead-lettered.
REJECTING_STEPS = frozenset({Step.VALIDATE, Step.PRICE_CHECK, Step.RESERVE, Step.PAYMENT, Step.CONFIRM})
FINISHED = frozenset({OrderIntake.Status.DONE, OrderIntake.Status.REJECTED, OrderIntake.Status.DEAD_LETTER})
# Steps that commit together: the order is made, stocked, paid and confirmed in one transaction (all
# or nothing, so a failure leaves no half-made order behind); then the invoice is issued and emailed
# in a second one (a failed email gives its invoice number back: numbers stay gapless). A step
# recorded in ``steps_done`` never runs again.
STAGES: list[tuple[str, ...]] = [
    (Step.VALIDATE, Step.PRICE_CHECK, Step.RESERVE, Step.PAYMENT, Step.CONFIRM),
    (Step.DOCUMENTS, Step.EMAIL),
]


# --- validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedLine:
    sku: str
    quantity: int
    unit_price: Decimal
    variant: Variant

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class ValidatedOrder:
    """An incoming order that passed every check, with its variants and amounts resolved."""

    shop: Shop
    channel: str  # the payload's channel ("" when it named none)
    external_ref: str
    currency: str
    customer_name: str
    customer_email: str
    customer_phone: str
    fulfilment: str
    payment: str
    discount: Decimal
    placed_at: datetime | None
    note: str
    lines: list[ValidatedLine] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append({"field": field_name, "message": str(message)})

    def raise_if_any(self) -> None:
        if self.items:
            detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in self.items)
            raise IntakeError(detail, extra={"errors": self.items})


def _text(payload: dict, name: str, problems: _Problems, *, max_length: int, required: bool = False) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            problems.add(name, _("This field is required."))
        return ""
    if not isinstance(value, str):
        problems.add(name, _("Send text here."))
        return ""
    value = value.strip()
    if required and not value:
        problems.add(name, _("This field is required."))
    if len(value) > max_length:
        problems.add(name, _("At most %(max)s characters.") % {"max": max_length})
        return ""
    return value


def _money(value: Any, where: str, problems: _Problems, *, currency: str | None) -> Decimal | None:
    """A non-negative amount sent as a decimal string with at most the currency's decimals."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, float):
            problems.add(where, _('Send amounts as decimal strings, e.g. "12.50", never as JSON numbers.'))
        else:
            problems.add(where, _('Send the amount as a decimal string, e.g. "12.50".'))
        return None
    text = value.strip()
    if not _MONEY.match(text):
        problems.add(
            where, _('"%(value)s" is not an amount: send a decimal string such as "12.50".') % {"value": value}
        )
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        problems.add(where, _('"%(value)s" is not an amount.') % {"value": value})
        return None
    if amount < 0:
        problems.add(where, _("The amount cannot be negative."))
        return None
    if currency:
        places = currency_exponent(currency)
        if -amount.as_tuple().exponent > places:
            problems.add(
                where,
                _("%(currency)s amounts have at most %(places)s decimals: %(value)s has more.")
                % {"currency": currency, "places": places, "value": text},
            )
            return None
    return amount


def _shop_for(payload: dict, shop: Shop | None, problems: _Problems) -> Shop | None:
    slug = payload.get("shop")
    if shop is not None:
        if slug not in (None, "") and slug != shop.slug:
            problems.add(
                "shop",
                _("You send orders for the shop %(own)s: this order is for %(other)s. Send it with that shop's key.")
                % {"own": shop.slug, "other": slug},
            )
            return None
        return shop
    if not isinstance(slug, str) or not slug.strip():
        problems.add("shop", _("Name the shop by its web address (slug), e.g. “kampong-crafts”."))
        return None
    found = Shop.objects.filter(slug=slug.strip()).first()
    if found is None:
        problems.add("shop", _("There is no shop with the address “%(slug)s”.") % {"slug": slug})
        return None
    if found.status != Shop.Status.ACTIVE:
        problems.add("shop", _("The shop %(slug)s does not take orders right now.") % {"slug": found.slug})
        return None
    return found


def _placed_at(payload: dict, shop: Shop | None, problems: _Problems) -> datetime | None:
    value = payload.get("placed_at")
    if value in (None, ""):
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        problems.add("placed_at", _("Send an ISO 8601 date-time, e.g. 2026-12-04T10:00:00+08:00."))
        return None
    if timezone.is_naive(parsed):
        zone = ZoneInfo(str(shop.time_zone)) if shop is not None else timezone.get_default_timezone()
        parsed = timezone.make_aware(parsed, zone)
    if parsed > timezone.now() + timedelta(minutes=10):
        problems.add("placed_at", _("The order cannot be placed in the future: check the till's clock."))
        return None
    return parsed


def _customer(payload: dict, problems: _Problems) -> tuple[str, str, str]:
    customer = payload.get("customer")
    if customer in (None, ""):
        return "", "", ""
    if not isinstance(customer, dict):
        problems.add("customer", _("Send the customer as an object with name, email and phone."))
        return "", "", ""
    sub = _Problems()
    name = _text(customer, "name", sub, max_length=200)
    email = _text(customer, "email", sub, max_length=254)
    phone = _text(customer, "phone", sub, max_length=32)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            sub.add("email", _("“%(email)s” is not an email address.") % {"email": email})
    for item in sub.items:
        problems.add(f"customer.{item['field']}", item["message"])
    return name, email, phone


def _lines(payload: dict, shop: Shop | None, currency: str | None, problems: _Problems) -> list[ValidatedLine]:
    raw = payload.get("lines")
    if not isinstance(raw, list) or not raw:
        problems.add("lines", _("Send at least one line: sku, quantity and unit_price."))
        return []
    if len(raw) > MAX_LINES:
        problems.add("lines", _("At most %(max)s lines in one order: split it.") % {"max": MAX_LINES})
        return []
    parsed: list[tuple[int, str | None, int | None, Decimal | None]] = []
    for index, line in enumerate(raw):
        where = f"lines[{index}]"
        if not isinstance(line, dict):
            problems.add(where, _("Send each line as an object with sku, quantity and unit_price."))
            continue
        sku = line.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            problems.add(f"{where}.sku", _("Give the SKU of the item."))
            sku = None
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            problems.add(f"{where}.quantity", _("Send a whole number of items, e.g. 2."))
            quantity = None
        elif not 1 <= quantity <= MAX_QUANTITY:
            problems.add(f"{where}.quantity", _("The quantity must be between 1 and %(max)s.") % {"max": MAX_QUANTITY})
            quantity = None
        price = _money(line.get("unit_price"), f"{where}.unit_price", problems, currency=currency)
        parsed.append((index, sku.strip() if sku else None, quantity, price))
    if shop is None:
        return []
    skus = {sku for _i, sku, _q, _p in parsed if sku}
    variants = {v.sku: v for v in Variant.objects.filter(shop=shop, sku__in=skus).select_related("product", "shop")}
    lines = []
    for index, sku, quantity, price in parsed:
        if sku is None:
            continue
        variant = variants.get(sku)
        if variant is None:
            problems.add(
                f"lines[{index}].sku", _("%(shop)s has no item with SKU “%(sku)s”.") % {"shop": shop.name, "sku": sku}
            )
        elif not variant_purchasable(variant):
            problems.add(
                f"lines[{index}].sku", _("%(name)s (SKU %(sku)s) is not on sale.") % {"name": variant, "sku": sku}
            )
        elif quantity is not None and price is not None:
            lines.append(ValidatedLine(sku=sku, quantity=quantity, unit_price=price, variant=variant))
    return lines


def intake_validate(*, payload: dict, shop: Shop | None = None) -> ValidatedOrder:
    """Check an incoming order; raise :class:`IntakeError` whose ``extra["errors"]`` lists every
    problem (``{"field": "lines[1].sku", "message": …}``). ``shop``: the caller acts for that shop
    (its API key or member), so an order naming another shop is an error."""
    problems = _Problems()
    if not isinstance(payload, dict):
        problems.add("", _("Send one order as a JSON object."))
        problems.raise_if_any()
    the_shop = _shop_for(payload, shop, problems)
    channel = payload.get("channel") or ""
    if channel and channel not in EXTERNAL_CHANNELS:
        problems.add(
            "channel", _("Choose one of the channels: %(channels)s.") % {"channels": ", ".join(EXTERNAL_CHANNELS)}
        )
    external_ref = _text(payload, "external_ref", problems, max_length=EXTERNAL_REF_MAX_LENGTH, required=True)
    currency = payload.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        problems.add("currency", _("Give the order's currency, e.g. SGD."))
        currency = None
    elif the_shop is not None and currency.strip().upper() != the_shop.currency:
        problems.add(
            "currency",
            _("%(shop)s sells in %(own)s: this order is in %(sent)s.")
            % {"shop": the_shop.name, "own": the_shop.currency, "sent": currency},
        )
        currency = None
    else:
        currency = currency.strip().upper()
    name, email, phone = _customer(payload, problems)
    fulfilment = payload.get("fulfilment") or Fulfilment.PICKUP
    if fulfilment != Fulfilment.PICKUP:
        problems.add("fulfilment", _("Orders from outside are picked up at the shop: send “pickup”."))
    payment = payload.get("payment")
    if payment not in PAYMENTS:
        problems.add(
            "payment", _("Say how the order is paid: “paid” (at the till) or “pay_on_pickup” (when collected).")
        )
    discount_raw = payload.get("discount")
    discount = (
        Decimal("0")
        if discount_raw in (None, "")
        else _money(discount_raw, "discount", problems, currency=currency or getattr(the_shop, "currency", None))
    )
    placed_at = _placed_at(payload, the_shop, problems)
    note = _text(payload, "note", problems, max_length=500)
    lines = _lines(payload, the_shop, currency or getattr(the_shop, "currency", None), problems)
    if discount is not None and lines and len(lines) == len(payload.get("lines") or []):
        subtotal = sum((line.line_total for line in lines), Decimal("0"))
        if discount > subtotal:
            problems.add(
                "discount",
                _("The discount (%(discount)s) is more than the order's items cost (%(subtotal)s).")
                % {"discount": discount, "subtotal": subtotal},
            )
    problems.raise_if_any()
    return ValidatedOrder(
        shop=the_shop,
        channel=channel,
        external_ref=external_ref,
        currency=currency,
        customer_name=name,
        customer_email=email,
        customer_phone=phone,
        fulfilment=fulfilment,
        payment=payment,
        discount=discount,
        placed_at=placed_at,
        note=note,
        lines=lines,
    )


# --- intake ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeResult:
    intake: OrderIntake
    created: bool
    duplicate: bool


def _existing(shop: Shop, channel: str, external_ref: str) -> OrderIntake | None:
    return OrderIntake.objects.filter(shop=shop, channel=channel, external_ref=external_ref).first()


def _quick_key(payload: Any, shop: Shop | None) -> tuple[Shop | None, str]:
    """The shop and external reference of a payload, when they can be read without validating it
    (to recognise a re-sent order before anything else)."""
    if not isinstance(payload, dict):
        return None, ""
    ref = payload.get("external_ref")
    ref = ref.strip() if isinstance(ref, str) else ""
    if shop is not None:
        slug = payload.get("shop")
        return (shop if slug in (None, "", shop.slug) else None), ref
    slug = payload.get("shop")
    if not isinstance(slug, str) or not slug:
        return None, ref
    return Shop.objects.filter(slug=slug.strip()).first(), ref


def _channel_checked(channel: str) -> str:
    if channel not in EXTERNAL_CHANNELS:
        raise IntakeError(
            _("Choose one of the channels: %(channels)s.") % {"channels": ", ".join(EXTERNAL_CHANNELS)},
            extra={"errors": [{"field": "channel", "message": _("Unknown channel “%(c)s”.") % {"c": channel}}]},
        )
    return channel


@transaction.atomic
def intake_submit(
    *,
    payload: dict,
    channel: str,
    shop: Shop | None = None,
    source_file=None,
    position: int | None = None,
    submitted_by_label: str = "",
) -> IntakeResult:
    """Accept an incoming order for processing: validate it (:class:`IntakeError` listing every
    problem, nothing saved), record its ``OrderIntake`` and queue the pipeline after commit.

    The same (shop, ``channel``, external reference) again returns the first intake with
    ``duplicate=True`` and does nothing else, even when two arrive at the same moment (the unique
    constraint decides). ``shop``: the caller acts for that shop only."""
    channel = _channel_checked(channel)
    known_shop, ref = _quick_key(payload, shop)
    if known_shop is not None and ref:
        existing = _existing(known_shop, channel, ref)
        if existing is not None:
            return IntakeResult(intake=existing, created=False, duplicate=True)
    order = intake_validate(payload=payload, shop=shop)
    intake = OrderIntake(
        channel=channel,
        external_ref=order.external_ref,
        shop=order.shop,
        payload=payload,
        source_file=source_file,
        position=position,
        submitted_by_label=(submitted_by_label or "")[:200],
    )
    intake.full_clean(exclude=["shop", "source_file", "order"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            intake.save()
    except IntegrityError:
        existing = _existing(order.shop, channel, order.external_ref)
        if existing is None:
            raise
        return IntakeResult(intake=existing, created=False, duplicate=True)
    _enqueue(intake)
    return IntakeResult(intake=intake, created=True, duplicate=False)


def _enqueue(intake: OrderIntake) -> None:
    from .tasks import intake_process

    enqueue_on_commit(intake_process, intake_id=intake.pk)


# --- the pipeline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineOutcome:
    """What a run of the pipeline ended with; ``retry_in`` (seconds) when it should run again."""

    status: str
    step: str = ""
    retry_in: float | None = None


def _actor(intake: OrderIntake) -> Actor:
    return Actor.system(label=intake.submitted_by_label or str(Channel(intake.channel).label))


def _test_hooks(step: str, *, phase: str) -> None:
    """Fault injection for the real-worker tests; does nothing unless its environment variable is set.

    - ``ORDER_PIPELINE_FAIL_STEP=<step>``: the step fails with a transient error (before its work).
    - ``ORDER_PIPELINE_PAUSE_STEP=<step>`` with ``ORDER_PIPELINE_PAUSE_FILE=<path>``: the first time
      the step runs (the file does not exist yet), it creates the file after doing its work and
      sleeps ``ORDER_PIPELINE_PAUSE_SECONDS`` (default 120) before committing.
    """
    fail = os.environ.get("ORDER_PIPELINE_FAIL_STEP")
    if fail and fail == step and phase == "before":
        raise RuntimeError(f"injected fault in step {step} (ORDER_PIPELINE_FAIL_STEP)")
    pause = os.environ.get("ORDER_PIPELINE_PAUSE_STEP")
    if pause and pause == step and phase == "after":
        marker = Path(os.environ["ORDER_PIPELINE_PAUSE_FILE"])
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(float(os.environ.get("ORDER_PIPELINE_PAUSE_SECONDS", "120")))


def _validated(intake: OrderIntake) -> ValidatedOrder:
    """The intake's payload checked against the catalog, once per stage (the steps of a stage share
    the intake object and see the same rows: they run in one transaction)."""
    cached = getattr(intake, "_validated_order", None)
    if cached is None:
        cached = intake_validate(payload=intake.payload, shop=intake.shop)
        intake._validated_order = cached
    return cached


def _step_validate(intake: OrderIntake) -> None:
    _validated(intake)


def _step_price_check(intake: OrderIntake) -> None:
    """The catalog as it is now: every SKU still on sale (else the intake is rejected); how far the
    sent prices stray from the catalog's is logged here and judged by the early-warning rules once
    the order exists (confirm)."""
    order = _validated(intake)
    differing = [line.sku for line in order.lines if line.unit_price != line.variant.price]
    if differing:
        logger.info("intake %s: prices differ from the catalog for %s", intake.pk, ", ".join(differing))


def _step_reserve(intake: OrderIntake) -> None:
    """Make the order (awaiting payment, its first event) and sell its stock under its number."""
    data = _validated(intake)
    now = timezone.now()
    order = Order(
        number=_number("LB"),
        shop=data.shop,
        customer_name=data.customer_name,
        customer_email=data.customer_email,
        customer_phone=data.customer_phone,
        status=Order.Status.PENDING_PAYMENT,
        status_changed_at=now,
        channel=intake.channel,
        external_ref=intake.external_ref,
        fulfilment=data.fulfilment,
        payment_method=PaymentMethod.PAY_ON_PICKUP,
        currency=data.currency,
        subtotal=data.subtotal,
        discount=data.discount,
        total=data.total,
        address={},
        note=data.note,
        placed_at=data.placed_at or intake.created_at or now,
    )
    order.full_clean(
        exclude=["shop", "checkout", "buyer", "address"], validate_unique=False, validate_constraints=False
    )
    order.save()
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant=line.variant,
                sku=line.sku,
                title=line.variant.product.title,
                options=line.variant.options or {},
                unit_price=line.unit_price,
                list_price=line.variant.price,
                weight_grams=line.variant.weight_grams or 0,
                quantity=line.quantity,
                line_total=line.line_total,
            )
            for line in data.lines
        ]
    )
    orders_placed_record(orders=[order], actor=_actor(intake), via=intake.channel)
    stock_sell(
        shop=data.shop,
        reference=order.number,
        lines=[LineRequest(line.variant.pk, line.quantity) for line in data.lines],
    )
    intake.order = order


def _step_payment(intake: OrderIntake) -> None:
    """Pay on pickup: the payment waits for the counter. Paid at the till: it is collected now, so
    the shop's payout ledger records the sale (``payment_succeeded`` → ``order_collected``)."""
    order = intake.order
    if order.total <= 0:
        return  # discounted to nothing: no payment to take
    start = payment_start(
        reference=order.number,
        buyer=None,
        amount=Money(order.total, order.currency),
        method=PaymentMethod.PAY_ON_PICKUP,
    )
    if intake.payload.get("payment") == "paid":
        payment_collect(payment=start.payment, actor=None)


def _optional(module: str, name: str):
    """A function of another part of the orders app that may not be installed yet (None then)."""
    full = f"apps.orders.{module}"
    try:
        loaded = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise
    return getattr(loaded, name, None)


def _step_confirm(intake: OrderIntake) -> None:
    order = Order.objects.select_for_update().get(pk=intake.order_id)
    target = Order.Status.PAID if intake.payload.get("payment") == "paid" else Order.Status.CONFIRMED
    if order.status == Order.Status.PENDING_PAYMENT:
        order_transition(order=order, to=target, actor=_actor(intake), via=intake.channel, locked=True)
    elif order.status != target:
        raise IntakeError(
            _("Order %(number)s is %(status)s: it cannot be confirmed.")
            % {"number": order.number, "status": order.get_status_display()}
        )
    warnings_for_new_order = _optional("services_warnings", "warnings_for_new_order")
    if warnings_for_new_order is not None:
        warnings_for_new_order(order=order)


def _step_documents(intake: OrderIntake) -> None:
    invoice_issue = _optional("services_documents", "invoice_issue")
    if invoice_issue is not None:
        intake._invoice = invoice_issue(order=intake.order)


def _step_email(intake: OrderIntake) -> None:
    invoice = getattr(intake, "_invoice", None)  # issued by the documents step of this same stage
    if invoice is not None:
        _optional("services_documents", "document_email_send")(document=invoice)
        return
    invoice_email_send = _optional("services_documents", "invoice_email_send")
    if invoice_email_send is not None:
        invoice_email_send(order=intake.order)


STEP_FUNCTIONS = {
    Step.VALIDATE: _step_validate,
    Step.PRICE_CHECK: _step_price_check,
    Step.RESERVE: _step_reserve,
    Step.PAYMENT: _step_payment,
    Step.CONFIRM: _step_confirm,
    Step.DOCUMENTS: _step_documents,
    Step.EMAIL: _step_email,
}


def _locked(intake_id: int) -> OrderIntake:
    return OrderIntake.objects.select_for_update(of=("self",)).select_related("shop", "order").get(pk=intake_id)


class _StepFailed(Exception):
    def __init__(self, step: str, error: Exception):
        super().__init__(step)
        self.step, self.error = step, error


def _stage_run(intake_id: int, stage: tuple[str, ...], *, last: bool = False) -> bool:
    """Run the stage's steps not yet done, in one transaction with the intake's row lock, each
    appended to ``steps_done`` as it completes (after the ``last`` stage the intake is done, in the
    same transaction). False when the intake is no longer being processed (finished meanwhile). A
    failing step raises :class:`_StepFailed` naming it; the whole stage is rolled back."""
    with transaction.atomic():
        intake = _locked(intake_id)
        if intake.status in FINISHED:
            return False
        todo = [step for step in stage if step not in intake.steps_done]
        if not todo and not last:
            return True
        for step in todo:
            try:
                _test_hooks(step, phase="before")
                STEP_FUNCTIONS[step](intake)
                _test_hooks(step, phase="after")
            except Exception as exc:
                raise _StepFailed(step, exc) from exc
            intake.steps_done = [*intake.steps_done, step]
            intake.step = step
        fields = ["steps_done", "step", "status", "order", "updated_at"]
        if last:
            intake.status = OrderIntake.Status.DONE
            intake.last_error = ""
            intake.finished_at = timezone.now()
            fields += ["last_error", "finished_at"]
        else:
            intake.status = OrderIntake.Status.PROCESSING
        intake.save(update_fields=fields)
        return True


def _backoff(attempts: int) -> float:
    base = float(settings.ORDER_PIPELINE_RETRY_BASE_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), float(settings.ORDER_PIPELINE_RETRY_MAX_SECONDS))


def _errors_of(exc: ApplicationError) -> list[dict[str, str]]:
    errors = exc.extra.get("errors") if isinstance(exc.extra, dict) else None
    return list(errors) if errors else [{"field": "", "message": str(exc.message)}]


@transaction.atomic
def _reject(intake_id: int, step: str, exc: ApplicationError) -> PipelineOutcome:
    """The order is wrong as sent: the intake is rejected with its errors, at once. An order already
    made from it is cancelled and its stock put back."""
    intake = _locked(intake_id)
    if intake.status in FINISHED:
        return PipelineOutcome(intake.status, intake.step)
    intake.status = OrderIntake.Status.REJECTED
    intake.step = step
    intake.errors = _errors_of(exc)
    intake.last_error = str(exc.message)[:5000]
    intake.finished_at = timezone.now()
    intake.save(update_fields=["status", "step", "errors", "last_error", "finished_at", "updated_at"])
    if intake.order_id:
        order = Order.objects.select_for_update().get(pk=intake.order_id)
        if order.status == Order.Status.PENDING_PAYMENT:
            order_transition(
                order=order, to=Order.Status.CANCELLED, actor=Actor.system(), reason=str(exc.message), locked=True
            )
        if order.status == Order.Status.CANCELLED and not order.restocked:
            for line in order.lines.select_related("variant__shop"):
                if line.variant is not None:
                    stock_return(
                        variant=line.variant, quantity=line.quantity, reason="order rejected", reference=order.number
                    )
            order.restocked = True
            order.save(update_fields=["restocked", "updated_at"])
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.PIPELINE,
            reason=_("Rejected at step %(step)s: %(error)s") % {"step": step, "error": exc.message},
            via=intake.channel,
            data={"step": step, "outcome": "rejected"},
        )
    return PipelineOutcome(OrderIntake.Status.REJECTED, step)


@transaction.atomic
def _failed(intake_id: int, step: str, exc: Exception) -> PipelineOutcome:
    """A step failed for a reason other than the order itself: count the attempt; retry after a
    backoff, or dead-letter the intake after the last attempt."""
    intake = _locked(intake_id)
    if intake.status in FINISHED:
        return PipelineOutcome(intake.status, intake.step)
    intake.attempts += 1
    intake.step = step
    intake.last_error = f"{type(exc).__name__}: {exc}"[:5000]
    fields = ["attempts", "step", "last_error", "updated_at"]
    if intake.attempts < settings.ORDER_PIPELINE_MAX_ATTEMPTS:
        intake.save(update_fields=fields)
        return PipelineOutcome(intake.status, step, retry_in=_backoff(intake.attempts))
    intake.status = OrderIntake.Status.DEAD_LETTER
    intake.save(update_fields=[*fields, "status"])
    if intake.order_id:
        order_event_record(
            order=intake.order,
            kind=OrderEvent.Kind.PIPELINE,
            reason=_("Stopped at step %(step)s after %(attempts)s attempts: %(error)s")
            % {"step": step, "attempts": intake.attempts, "error": intake.last_error},
            via=intake.channel,
            data={"step": step, "outcome": "dead_letter", "attempts": intake.attempts},
        )
    logger.warning("intake %s dead-lettered at step %s: %s", intake_id, step, intake.last_error)
    return PipelineOutcome(OrderIntake.Status.DEAD_LETTER, step)


def intake_pipeline_run(*, intake_id: int) -> PipelineOutcome:
    """Run the intake's remaining steps in order (see the module's docstring). Safe to call again at
    any time: steps already done are skipped, a finished intake is left alone."""
    intake = OrderIntake.objects.filter(pk=intake_id).only("status").first()
    if intake is None:
        return PipelineOutcome("missing")
    if intake.status in FINISHED:
        return PipelineOutcome(intake.status)
    for number, stage in enumerate(STAGES, start=1):
        try:
            if not _stage_run(intake_id, stage, last=number == len(STAGES)):
                return PipelineOutcome(OrderIntake.objects.get(pk=intake_id).status, stage[0])
        except _StepFailed as failure:
            step, exc = failure.step, failure.error
            if isinstance(exc, ApplicationError):
                if step in REJECTING_STEPS:
                    return _reject(intake_id, step, exc)
                return _failed(intake_id, step, exc)
            logger.error("intake %s: step %s failed", intake_id, step, exc_info=exc)
            return _failed(intake_id, step, exc)
    return PipelineOutcome(OrderIntake.Status.DONE, STEPS[-1])


# --- the dead-letter queue ---------------------------------------------------------------------------


def _push_label(user) -> str:
    return getattr(user, "email", "") or "LocalBazaar"


@transaction.atomic
def intake_repush(*, intake: OrderIntake, payload: dict | None = None, user=None) -> OrderIntake:
    """Send an intake through the pipeline again (staff, after fixing the cause or the payload):
    attempts start over, status *received*, the payload (the fixed one when given) is validated
    again (:class:`IntakeError` and nothing changes if it is still wrong). Steps already done stay
    done. Refused for an intake that is done, and for a new payload once its order was made."""
    intake = _locked(intake.pk)
    if payload is not None and payload == intake.payload:
        payload = None  # sent back unchanged (the back office's form always sends it): a plain re-push
    if intake.status == OrderIntake.Status.DONE:
        raise IntakeError(
            _("Incoming order %(ref)s is done (order %(number)s): there is nothing to re-push.")
            % {"ref": intake.external_ref, "number": intake.order.number if intake.order_id else "-"},
            code="intake-done",
        )
    if intake.order_id and (payload is not None or intake.status == OrderIntake.Status.REJECTED):
        raise IntakeError(
            _(
                "Order %(number)s was already made from incoming order %(ref)s: it can only be re-pushed as it "
                "is. Send a corrected order under a new reference instead."
            )
            % {"number": intake.order.number, "ref": intake.external_ref},
            code="intake-order-made",
        )
    if payload is not None:
        checked = intake_validate(payload=payload, shop=intake.shop)
        if checked.external_ref != intake.external_ref:
            raise IntakeError(
                _("Keep the external reference %(ref)s: it is what makes this order unique.")
                % {"ref": intake.external_ref},
                extra={
                    "errors": [{"field": "external_ref", "message": _("Keep %(ref)s.") % {"ref": intake.external_ref}}]
                },
            )
        intake.payload = payload
    else:
        intake_validate(payload=intake.payload, shop=intake.shop)
    if intake.status == OrderIntake.Status.REJECTED or payload is not None:
        intake.steps_done = []
    intake.status = OrderIntake.Status.RECEIVED
    intake.attempts = 0
    intake.last_error = ""
    intake.errors = []
    intake.finished_at = None
    intake.pushes += 1
    intake.save()
    if intake.order_id:
        order_event_record(
            order=intake.order,
            kind=OrderEvent.Kind.PIPELINE,
            actor=Actor.staff(user) if getattr(user, "is_staff", False) else Actor.system(label=_push_label(user)),
            reason=_("Re-pushed from step %(step)s") % {"step": intake.step},
            via="backoffice",
            data={"outcome": "repushed", "step": intake.step, "pushes": intake.pushes},
        )
    _enqueue(intake)
    return intake


def intakes_repush(*, intake_ids: list[int], user=None) -> int:
    """Re-push many intakes (each on its own, see :func:`intake_repush`); those that cannot be
    re-pushed as they are (done, still invalid) are skipped. Returns how many were re-pushed."""
    pushed = 0
    for intake in OrderIntake.objects.filter(pk__in=list(intake_ids)).order_by("pk"):
        try:
            intake_repush(intake=intake, user=user)
        except IntakeError:
            continue
        pushed += 1
    return pushed

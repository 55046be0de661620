"""Payments writes: starting, confirming, collecting, cancelling and refunding payments, saved
cards, processing Stripe's webhook events, and the shops' payout ledger. One transaction each.

One charge per checkout. Stripe requests carry idempotency keys (``pi-<reference>``), but the
guarantee does not rest on them (a fake Stripe such as localstripe ignores them): the ``Payment``
row with its unique ``reference`` is written and locked *before* Stripe is called, so a second,
concurrent ``payment_start`` for the same reference waits for the first to commit and then returns
the same payment instead of creating another PaymentIntent.

State only moves forward once money has moved: no event, however late or repeated, takes a paid
payment back to failed or pending (see ``_transition``). Signals (``apps.payments.signals``) are sent
inside the transaction so the orders app's receivers change orders atomically with the payment.

The orders app calls ``payment_start``, ``payment_resume``, ``payment_refresh``, ``payment_collect``,
``payment_cancel``, ``payment_refund``, ``payout_record_sale`` and ``payout_record_refund``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.core.money import Money, MoneyError
from apps.shops.models import Shop

from .errors import (
    CardPaymentsUnavailable,
    PaymentConflict,
    PaymentError,
    PaymentProviderError,
    PaymentStateError,
    PayoutError,
    RefundError,
    SavedCardError,
)
from .models import Payment, PayoutEntry, Refund, SavedCard, StripeCustomer, StripeEvent
from .selectors import payments_card_enabled, platform_commission_rate
from .signals import payment_failed, payment_refunded, payment_succeeded
from .stripe_gateway import field, from_minor_units, object_id, stripe_client, to_minor_units

logger = logging.getLogger(__name__)

Status = Payment.Status
Method = Payment.Method

REFERENCE_MAX_LENGTH = Payment._meta.get_field("reference").max_length
REASON_MAX_LENGTH = Refund._meta.get_field("reason").max_length
# Once money has moved, these states never go back to pending or failed.
PAID = frozenset({Status.SUCCEEDED, Status.COLLECTED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})
# States in which the buyer still has to do something to pay by card.
AWAITING_BUYER = frozenset({Status.REQUIRES_PAYMENT, Status.REQUIRES_ACTION, Status.FAILED})
# Refunds in these states count as given back (a pending one cannot be refunded twice).
REFUND_COUNTS = (Refund.Status.PENDING, Refund.Status.REQUIRES_ACTION, Refund.Status.SUCCEEDED)
_REFUND_RANK = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}
_FOREIGN_KEYS = ("buyer", "saved_card", "collected_by", "payment", "actor", "shop", "user")

# What a buyer reads when their card is refused (Stripe's decline codes, most specific first).
DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds. Use another card, or choose pay on pickup.",
    "expired_card": "Your card has expired. Add a new card under Saved cards, or choose pay on pickup.",
    "incorrect_cvc": "The card's security code was wrong. Enter the card again, or choose pay on pickup.",
    "lost_card": "Your card was declined. Use another card, or choose pay on pickup.",
    "stolen_card": "Your card was declined. Use another card, or choose pay on pickup.",
    "processing_error": "Your bank could not process the payment just now. Try again in a minute.",
    "authentication_required": (
        "Your bank asks you to confirm this payment. Open the order and confirm the payment to finish paying."
    ),
    "card_declined": "Your card was declined. Use another card, or choose pay on pickup.",
}
DEFAULT_DECLINE = "Your card could not be charged. Use another card, or choose pay on pickup."


@dataclass(frozen=True)
class PaymentStart:
    """What checkout needs after starting (or resuming) a payment.

    ``client_secret`` is set for a card payment the buyer completes on the page with Stripe's
    Payment Element; it is None for pay on pickup and for off-session (1-Click) charges, whose
    outcome is already in ``payment.status``. When ``needs_buyer`` is true the buyer must come back
    on the page: ``payment_resume(payment=...)`` returns a fresh ``PaymentStart`` with a secret.
    """

    payment: Payment
    client_secret: str | None = None

    @property
    def needs_buyer(self) -> bool:
        return self.payment.method == Method.CARD and self.payment.status in AWAITING_BUYER

    @property
    def succeeded(self) -> bool:
        return self.payment.status in PAID


@dataclass(frozen=True)
class CardSetupStart:
    """A SetupIntent for the saved-cards page: Stripe.js confirms it with ``client_secret``."""

    setup_intent_id: str
    client_secret: str


# --- input checks --------------------------------------------------------------------------------


def _reference(value: str | None, *, what: str = "payment reference", error=PaymentError) -> str:
    reference = (value or "").strip()
    if not reference:
        raise error(f"A {what} is required.", code="reference-required")
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise error(f"The {what} is too long: keep it under {REFERENCE_MAX_LENGTH} characters.")
    return reference


def _positive(amount: Money, *, what: str = "amount", error=PaymentError) -> Money:
    if not isinstance(amount, Money):
        raise error(f"The {what} must be Money (a Decimal amount and a currency).")
    if amount.amount <= 0:
        raise error(f"The {what} must be more than zero (got {amount}).", code="invalid-amount")
    if amount.amount >= Decimal("1e12"):
        raise error(f"The {what} {amount} is too large: check the number.", code="invalid-amount")
    return amount


def _user(user: Any) -> User | None:
    return user if getattr(user, "pk", None) else None


def _clean(obj) -> None:
    obj.full_clean(exclude=_FOREIGN_KEYS, validate_unique=False, validate_constraints=False)


# --- Stripe calls ----------------------------------------------------------------------------------


def _provider_error(exc: stripe.StripeError, *, doing: str) -> PaymentProviderError:
    logger.warning("Stripe request to %s failed: %s (%s)", doing, exc.user_message or exc, type(exc).__name__)
    return PaymentProviderError(
        f"The card payment service could not {doing} just now, so nothing was changed. Try again in a minute."
    )


def _decline_message(exc: stripe.CardError) -> str:
    error = exc.error
    for code in (field(error, "decline_code"), exc.code):
        if code in DECLINE_MESSAGES:
            return DECLINE_MESSAGES[code]
    return DEFAULT_DECLINE


def _customer_id(user: User | None) -> str | None:
    if user is None:
        return None
    return StripeCustomer.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first()


# --- payment state ---------------------------------------------------------------------------------


def _status_from_intent(intent: Any) -> tuple[str, str]:
    """Our status for a PaymentIntent and, for a failure, the message to show the buyer."""
    status = field(intent, "status")
    error = field(intent, "last_payment_error")
    if status == "succeeded":
        return Status.SUCCEEDED, ""
    if status in ("processing", "requires_capture"):
        return Status.PROCESSING, ""
    if status == "requires_action":
        return Status.REQUIRES_ACTION, DECLINE_MESSAGES["authentication_required"]
    if status == "canceled":
        return Status.CANCELED, ""
    if status == "requires_payment_method" and error:
        code = field(error, "decline_code") or field(error, "code")
        return Status.FAILED, DECLINE_MESSAGES.get(code, DEFAULT_DECLINE)
    return Status.REQUIRES_PAYMENT, ""


def _transition(payment: Payment, new: str, *, error: str = "", observed_at: datetime | None = None) -> bool:
    """Move ``payment`` (locked) to ``new`` if that is a step forward; send the signal it calls for.

    - Paid (succeeded, collected, refunded): final for this purpose; nothing moves it back.
    - Succeeded wins over anything else (the money moved, whatever we thought before).
    - Cancelled stays cancelled.
    - Between the pending states (requires payment/action, processing, failed) the newest Stripe
      snapshot wins: an event observed before the state we hold is ignored.
    """
    if payment.status in PAID:
        return False
    if new == Status.SUCCEEDED:
        payment.status, payment.last_error = Status.SUCCEEDED, ""
        _synced(payment, observed_at)
        # Saved before the signal: receivers that read the payment back (is the order paid?) see it.
        _save(payment)
        payment_succeeded.send(sender=Payment, payment=payment)
        return True
    if payment.status == Status.CANCELED:
        return False
    if observed_at and payment.stripe_synced_at and observed_at < payment.stripe_synced_at:
        return False
    error = error if new in (Status.FAILED, Status.REQUIRES_ACTION) else ""
    if new == payment.status and error == payment.last_error:
        _synced(payment, observed_at)
        return False
    changed_state = new != payment.status
    payment.status, payment.last_error = new, error
    _synced(payment, observed_at)
    if changed_state and (new == Status.FAILED or (new == Status.REQUIRES_ACTION and payment.off_session)):
        payment_failed.send(sender=Payment, payment=payment)
    return True


def _synced(payment: Payment, observed_at: datetime | None) -> None:
    # Stripe's event times are whole seconds: our own observations are kept at that precision too,
    # so an event from the same second as an API answer is not taken for an older one.
    observed_at = observed_at or timezone.now().replace(microsecond=0)
    if payment.stripe_synced_at is None or observed_at > payment.stripe_synced_at:
        payment.stripe_synced_at = observed_at


def _save(payment: Payment) -> None:
    _clean(payment)
    payment.save()


def _lock(payment: Payment) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment.pk)


# --- starting a payment ----------------------------------------------------------------------------


def _payment_claim(*, reference: str, **values) -> tuple[Payment, bool]:
    """The payment for ``reference``, locked: made now (True) or by an earlier call (False).

    A concurrent call inserting the same reference waits on the unique index until the first
    transaction ends, then finds its row here (and waits for its lock)."""
    payment = Payment(reference=reference, **values)
    _clean(payment)
    try:
        with transaction.atomic():
            payment.save(force_insert=True)
        return payment, True
    except IntegrityError:
        existing = Payment.objects.select_for_update().filter(reference=reference).first()
        if existing is None:  # the clash was another unique field
            raise
        return existing, False


def _check_same(payment: Payment, *, buyer: User | None, amount: Money, method: str, saved_card, off_session):
    same = (
        payment.amount == amount.amount
        and payment.currency == amount.currency
        and payment.method == method
        and payment.buyer_id == (buyer.pk if buyer else None)
        and payment.saved_card_id == (saved_card.pk if saved_card else None)
        and payment.off_session == off_session
    )
    if not same:
        raise PaymentConflict(
            f"Checkout {payment.reference} already has a payment of {payment.amount} {payment.currency} "
            f"({payment.get_method_display()}). Start a new checkout to pay differently."
        )


def _intent_create(payment: Payment, *, customer_id: str | None, payment_method: str | None, off_session: bool):
    """Create a PaymentIntent for ``payment`` (locked) and store its id; return the intent, or
    None when an off-session confirmation was refused (then ``payment`` says why)."""
    params: dict[str, Any] = {
        "amount": to_minor_units(Money(payment.amount, payment.currency)),
        "currency": payment.currency.lower(),
        "payment_method_types": ["card"],
        "metadata": {"reference": payment.reference, "payment_id": str(payment.pk)},
    }
    if customer_id:
        params["customer"] = customer_id
    if payment_method:
        params["payment_method"] = payment_method
    if off_session:
        params.update(off_session=True, confirm=True)
    attempt = payment.intent_attempts
    key = f"pi-{payment.reference}" if attempt == 0 else f"pi-{payment.reference}-{attempt}"
    payment.intent_attempts = attempt + 1
    try:
        intent = stripe_client().v1.payment_intents.create(params=params, options={"idempotency_key": key})
    except stripe.CardError as exc:
        if not off_session:
            raise PaymentError(_decline_message(exc), code="card-declined") from exc
        # Stripe puts the PaymentIntent in the error (localstripe does not): keep it, so the buyer
        # can finish the same intent on the page.
        intent = field(exc.error, "payment_intent")
        if intent is not None:
            payment.stripe_payment_intent_id = object_id(intent)
        new = Status.REQUIRES_ACTION if exc.code == "authentication_required" else Status.FAILED
        _transition(payment, new, error=_decline_message(exc))
        _save(payment)
        return None
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="start the card payment") from exc
    payment.stripe_payment_intent_id = intent.id
    new, error = _status_from_intent(intent)
    _transition(payment, new, error=error)
    _save(payment)
    return intent


def _client_secret(payment: Payment) -> str | None:
    """The secret of the payment's current PaymentIntent while the buyer can still complete it."""
    if not payment.stripe_payment_intent_id or payment.status not in AWAITING_BUYER:
        return None
    try:
        intent = stripe_client().v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="load the card payment") from exc
    if field(intent, "status") in ("requires_payment_method", "requires_confirmation", "requires_action"):
        return field(intent, "client_secret")
    return None


@transaction.atomic
def payment_start(
    *,
    reference: str,
    buyer: User | None,
    amount: Money,
    method: str,
    saved_card: SavedCard | None = None,
    off_session: bool = False,
) -> PaymentStart:
    """Start paying ``amount`` for the checkout ``reference``. Idempotent per reference: a second
    call (a double click, a retry) returns the same payment and never charges twice; a call with
    other figures for the same reference raises :class:`PaymentConflict`.

    - Card, on the page: creates a PaymentIntent and returns its ``client_secret`` for the Payment
      Element (with ``saved_card``, that card is preselected).
    - Card, off-session (1-Click, ``off_session=True`` with the buyer's ``saved_card``): creates and
      confirms it at once. Succeeded → ``succeeded`` and ``payment_succeeded``; declined → ``failed``,
      or ``requires_action`` when the bank wants the buyer to confirm; both send ``payment_failed``
      with a message for the buyer in ``last_error`` (finish with ``payment_resume``).
    - Pay on pickup: no Stripe call; ``requires_payment`` until ``payment_collect``.
    """
    reference = _reference(reference)
    _positive(amount)
    if method not in Method.values:
        raise PaymentError(f"Unknown payment method {method!r}: choose card or pay on pickup.")
    buyer = _user(buyer)
    if method == Method.CARD and not payments_card_enabled():
        raise CardPaymentsUnavailable("Card payments are not available on this site: choose pay on pickup instead.")
    if method == Method.PAY_ON_PICKUP and (saved_card is not None or off_session):
        raise PaymentError("Pay on pickup takes no card: leave the saved card out.")
    if saved_card is not None and (buyer is None or saved_card.user_id != buyer.pk):
        raise SavedCardError("That saved card belongs to another account: choose one of your own cards.")
    if off_session and saved_card is None:
        raise SavedCardError("1-Click payment needs a saved card: add one under Saved cards, or pay on the page.")

    payment, created = _payment_claim(
        reference=reference,
        buyer=buyer,
        method=method,
        amount=amount.amount,
        currency=amount.currency,
        saved_card=saved_card,
        off_session=off_session,
    )
    if not created:
        _check_same(payment, buyer=buyer, amount=amount, method=method, saved_card=saved_card, off_session=off_session)
    if method == Method.PAY_ON_PICKUP:
        return PaymentStart(payment=payment)
    if not created and payment.intent_attempts:
        return PaymentStart(payment=payment, client_secret=None if off_session else _client_secret(payment))
    customer_id = _customer_id(buyer)
    if saved_card is not None and customer_id is None:
        raise SavedCardError("That saved card cannot be used any more: add it again under Saved cards.")
    intent = _intent_create(
        payment,
        customer_id=customer_id,
        payment_method=saved_card.stripe_payment_method_id if saved_card else None,
        off_session=off_session,
    )
    secret = None if off_session or intent is None else field(intent, "client_secret")
    return PaymentStart(payment=payment, client_secret=secret)


@transaction.atomic
def payment_resume(*, payment: Payment) -> PaymentStart:
    """Let the buyer finish a card payment on the page (after a declined or to-be-confirmed 1-Click
    charge, or a reload of the checkout): returns the ``client_secret`` of a PaymentIntent they can
    complete. A new PaymentIntent is made only when there is none or the old one was cancelled; one
    that went through (or is processing) is recorded instead, so the buyer is never charged twice."""
    payment = _lock(payment)
    if payment.method != Method.CARD:
        raise PaymentStateError("This payment is paid on pickup: there is nothing to confirm online.")
    if payment.status in PAID:
        raise PaymentStateError(f"Checkout {payment.reference} is already paid.")
    if payment.status == Status.CANCELED:
        raise PaymentStateError(f"Checkout {payment.reference} was cancelled: start a new checkout to pay.")
    if payment.stripe_payment_intent_id:
        try:
            intent = stripe_client().v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
        except stripe.StripeError as exc:
            raise _provider_error(exc, doing="load the card payment") from exc
        status = field(intent, "status")
        if status in ("requires_payment_method", "requires_confirmation", "requires_action"):
            return PaymentStart(payment=payment, client_secret=field(intent, "client_secret"))
        if status != "canceled":  # succeeded, processing: the money is moving already
            new, error = _status_from_intent(intent)
            _transition(payment, new, error=error)
            _save(payment)
            return PaymentStart(payment=payment)
    intent = _intent_create(payment, customer_id=_customer_id(payment.buyer), payment_method=None, off_session=False)
    return PaymentStart(payment=payment, client_secret=field(intent, "client_secret"))


# --- following Stripe ------------------------------------------------------------------------------


@transaction.atomic
def payment_mark_from_intent(*, intent: Any, observed_at: datetime | None = None) -> Payment | None:
    """Bring the payment of a PaymentIntent (a Stripe object or a webhook's dict) up to date.

    Idempotent and order-proof: the same intent twice changes nothing the second time; a snapshot
    older than the state we hold (``observed_at``: the event's time) is ignored; nothing moves a
    paid payment back. Returns the payment, or None when no payment of ours matches the intent."""
    intent_id = field(intent, "id")
    if not intent_id:
        return None
    payment = Payment.objects.select_for_update().filter(stripe_payment_intent_id=intent_id).first()
    if payment is None:
        reference = field(field(intent, "metadata"), "reference")
        payment = (
            Payment.objects.select_for_update().filter(reference=reference, method=Method.CARD).first()
            if reference
            else None
        )
        if payment is None:
            return None
        if payment.stripe_payment_intent_id and field(intent, "status") != "succeeded":
            return None  # an earlier attempt's intent: the current one decides
        if payment.stripe_payment_intent_id:
            logger.warning("payment %s: intent %s succeeded in place of %s", reference, intent_id, payment.pk)
        payment.stripe_payment_intent_id = intent_id
    try:
        charged = from_minor_units(field(intent, "amount", 0), field(intent, "currency", payment.currency))
    except MoneyError:
        charged = None
    if charged is None or charged != Money(payment.amount, payment.currency):
        logger.error("intent %s is for %s but payment %s is for %s", intent_id, charged, payment, payment.amount)
        return None
    new, error = _status_from_intent(intent)
    _transition(payment, new, error=error, observed_at=observed_at)
    _save(payment)
    return payment


def payment_refresh(*, payment: Payment) -> Payment:
    """Read the payment's PaymentIntent from Stripe and apply it (the page the buyer returns to from
    Stripe uses this, so it does not have to wait for the webhook)."""
    if payment.method != Method.CARD or not payment.stripe_payment_intent_id:
        return payment
    try:
        intent = stripe_client().v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="check the card payment") from exc
    return payment_mark_from_intent(intent=intent) or payment


# --- pay on pickup, cancel -------------------------------------------------------------------------


@transaction.atomic
def payment_collect(*, payment: Payment, actor: User | None) -> Payment:
    """Record that a pay-on-pickup payment was paid at the counter; sends ``payment_succeeded``.
    Collecting it again changes nothing."""
    payment = _lock(payment)
    if payment.method != Method.PAY_ON_PICKUP:
        raise PaymentStateError("Only pay-on-pickup payments are collected at the counter; this one is by card.")
    if payment.status in PAID:
        return payment
    if payment.status != Status.REQUIRES_PAYMENT:
        raise PaymentStateError(f"Checkout {payment.reference} was cancelled: there is nothing to collect.")
    payment.status = Status.COLLECTED
    payment.collected_at = timezone.now()
    payment.collected_by = _user(actor)
    _save(payment)
    payment_succeeded.send(sender=Payment, payment=payment)
    return payment


@transaction.atomic
def payment_cancel(*, payment: Payment, reason: str) -> Payment:
    """Cancel a payment that has not been paid (its PaymentIntent at Stripe too). Cancelling twice
    changes nothing; a paid payment cannot be cancelled: refund it instead."""
    payment = _lock(payment)
    if payment.status == Status.CANCELED:
        return payment
    if payment.status in PAID:
        raise PaymentStateError(f"Checkout {payment.reference} is already paid: refund it instead of cancelling.")
    if payment.method == Method.CARD and payment.stripe_payment_intent_id:
        client = stripe_client()
        try:
            client.v1.payment_intents.cancel(payment.stripe_payment_intent_id)
        except stripe.InvalidRequestError as exc:
            try:
                intent = client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
            except stripe.StripeError:
                raise _provider_error(exc, doing="cancel the card payment") from exc
            new, error = _status_from_intent(intent)
            if new != Status.CANCELED:
                _transition(payment, new, error=error)
                _save(payment)
                if new == Status.SUCCEEDED:
                    # Recorded (and signalled) before refusing: the caller's transaction decides.
                    raise PaymentStateError(
                        f"Checkout {payment.reference} was paid a moment ago: refund it instead of cancelling."
                    ) from exc
                raise _provider_error(exc, doing="cancel the card payment") from exc
        except stripe.StripeError as exc:
            raise _provider_error(exc, doing="cancel the card payment") from exc
    payment.status = Status.CANCELED
    payment.cancel_reason = (reason or "").strip()[:200]
    _save(payment)
    return payment


# --- refunds ---------------------------------------------------------------------------------------


def _refunds_recompute(payment: Payment) -> None:
    """Set ``amount_refunded`` (pending and succeeded refunds) and the paid/refunded status."""
    total = Refund.objects.filter(payment=payment, status__in=REFUND_COUNTS).aggregate(s=Sum("amount"))["s"]
    payment.amount_refunded = total or Decimal(0)
    if payment.status not in PAID:
        return
    if payment.amount_refunded <= 0:
        payment.status = Status.COLLECTED if payment.method == Method.PAY_ON_PICKUP else Status.SUCCEEDED
    elif payment.amount_refunded >= payment.amount:
        payment.status = Status.REFUNDED
    else:
        payment.status = Status.PARTIALLY_REFUNDED


@transaction.atomic
def payment_refund(
    *, payment: Payment, amount: Money, reason: str, reference: str, actor: User | None = None
) -> Refund:
    """Give back ``amount`` (all or part of what is left) of a paid payment; sends
    ``payment_refunded``.

    Card payments are refunded through Stripe; pay-on-pickup payments that were collected get a
    manual refund (cash or transfer, recorded here). ``reference`` names the refund request (e.g. the
    credit note number): the same reference again returns the refund already made instead of
    refunding twice. Refuses more than is left to refund."""
    reason = (reason or "").strip()
    if not reason:
        raise RefundError("Give a reason for the refund (the buyer sees it).", code="reason-required")
    if len(reason) > REASON_MAX_LENGTH:
        raise RefundError(f"The reason is too long: keep it under {REASON_MAX_LENGTH} characters.")
    reference = _reference(reference, what="refund reference", error=RefundError)
    _positive(amount, what="refund amount", error=RefundError)
    payment = _lock(payment)
    existing = Refund.objects.filter(payment=payment, reference=reference).first()
    if existing is not None:
        if existing.amount != amount.amount or existing.currency != amount.currency:
            raise RefundError(
                f"Refund {reference} was already made for {existing.amount} {existing.currency}: "
                "use a new reference for another refund."
            )
        return existing
    if amount.currency != payment.currency:
        raise RefundError(f"Checkout {payment.reference} was paid in {payment.currency}: refund in that currency.")
    if payment.status not in PAID:
        raise RefundError(
            f"Checkout {payment.reference} has not been paid ({payment.get_status_display()}): cancel it instead."
        )
    left = payment.amount - payment.amount_refunded
    if amount.amount > left:
        raise RefundError(
            f"You can refund at most {left} {payment.currency} on checkout {payment.reference}: "
            f"{payment.amount_refunded} of {payment.amount} {payment.currency} was already refunded.",
            code="refund-too-much",
            extra={"left": str(left), "currency": payment.currency},
        )
    refund = Refund(
        payment=payment,
        amount=amount.amount,
        currency=amount.currency,
        reason=reason,
        reference=reference,
        actor=_user(actor),
    )
    if payment.method == Method.CARD:
        refund.kind = Refund.Kind.CARD
        try:
            stripe_refund = stripe_client().v1.refunds.create(
                params={
                    "payment_intent": payment.stripe_payment_intent_id,
                    "amount": to_minor_units(amount),
                    "metadata": {"reference": reference, "payment_reference": payment.reference, "reason": reason},
                },
                options={"idempotency_key": f"re-{payment.reference}-{reference}"},
            )
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            raise RefundError(f"Stripe refused the refund: {exc.user_message or exc}. Nothing was refunded.") from exc
        except stripe.StripeError as exc:
            raise _provider_error(exc, doing="make the refund") from exc
        refund.stripe_refund_id = stripe_refund.id
        refund.status = field(stripe_refund, "status", Refund.Status.PENDING)
    else:
        refund.kind = Refund.Kind.MANUAL
        refund.status = Refund.Status.SUCCEEDED
    _clean(refund)
    refund.save()
    _refunds_recompute(payment)
    _save(payment)
    payment_refunded.send(sender=Payment, payment=payment, refund=refund)
    return refund


def _refund_from_stripe(payment: Payment, obj: Any) -> Refund | None:
    """Record or update the Stripe refund ``obj`` on ``payment`` (locked). Statuses only move
    forward (pending → succeeded → failed/canceled). Returns the refund if anything changed."""
    refund_id = field(obj, "id")
    status = field(obj, "status", Refund.Status.PENDING)
    if status not in Refund.Status.values:
        status = Refund.Status.PENDING
    refund = Refund.objects.filter(stripe_refund_id=refund_id).first()
    if refund is not None:
        if _REFUND_RANK[status] <= _REFUND_RANK[refund.status]:
            return None
        refund.status = status
        refund.save(update_fields=["status", "updated_at"])
        _refunds_recompute(payment)
        _save(payment)
        return refund
    metadata = field(obj, "metadata") or {}
    amount = from_minor_units(field(obj, "amount", 0), field(obj, "currency", payment.currency))
    refund = Refund(
        payment=payment,
        kind=Refund.Kind.CARD,
        amount=amount.amount,
        currency=amount.currency,
        status=status,
        reason=(field(metadata, "reason") or "Refunded in the Stripe dashboard")[:REASON_MAX_LENGTH],
        reference=f"stripe:{refund_id}"[:100],
        stripe_refund_id=refund_id,
    )
    _clean(refund)
    refund.save()
    _refunds_recompute(payment)
    _save(payment)
    if status in REFUND_COUNTS:
        payment_refunded.send(sender=Payment, payment=payment, refund=refund)
    return refund


def _payment_for_intent_locked(intent_id: str | None) -> Payment | None:
    if not intent_id:
        return None
    return Payment.objects.select_for_update().filter(stripe_payment_intent_id=intent_id).first()


def _charge_refunded(charge: Any) -> bool:
    """``charge.refunded``: record each refund it lists, then any remainder Stripe reports that we
    have no refund object for (older API versions do not list them)."""
    payment = _payment_for_intent_locked(object_id(field(charge, "payment_intent")))
    if payment is None:
        return False
    for refund in field(field(charge, "refunds"), "data", []):
        _refund_from_stripe(payment, refund)
    reported = from_minor_units(field(charge, "amount_refunded", 0), field(charge, "currency", payment.currency))
    missing = reported.amount - payment.amount_refunded
    if missing > 0:
        reference = f"stripe:{field(charge, 'id')}:{field(charge, 'amount_refunded')}"
        if not Refund.objects.filter(payment=payment, reference=reference).exists():
            refund = Refund.objects.create(
                payment=payment,
                kind=Refund.Kind.CARD,
                amount=missing,
                currency=payment.currency,
                status=Refund.Status.SUCCEEDED,
                reason="Refunded in the Stripe dashboard",
                reference=reference,
            )
            _refunds_recompute(payment)
            _save(payment)
            payment_refunded.send(sender=Payment, payment=payment, refund=refund)
    return True


def _refund_event(obj: Any) -> bool:
    payment = _payment_for_intent_locked(object_id(field(obj, "payment_intent")))
    if payment is None:
        refund = Refund.objects.filter(stripe_refund_id=field(obj, "id")).only("payment_id").first()
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id) if refund else None
    if payment is None:
        return False
    _refund_from_stripe(payment, obj)
    return True


# --- webhooks --------------------------------------------------------------------------------------


def _intent_event(obj: Any, observed_at: datetime) -> bool:
    return payment_mark_from_intent(intent=obj, observed_at=observed_at) is not None


EVENT_HANDLERS = {
    "payment_intent.succeeded": _intent_event,
    "payment_intent.payment_failed": _intent_event,
    "payment_intent.processing": _intent_event,
    "payment_intent.requires_action": _intent_event,
    "payment_intent.canceled": _intent_event,
    "charge.refunded": lambda obj, observed_at: _charge_refunded(obj),
    "refund.created": lambda obj, observed_at: _refund_event(obj),
    "refund.updated": lambda obj, observed_at: _refund_event(obj),
    "refund.failed": lambda obj, observed_at: _refund_event(obj),
    "charge.refund.updated": lambda obj, observed_at: _refund_event(obj),
}


def _without_secrets(event: Mapping[str, Any]) -> dict:
    """The event as stored: an intent's ``client_secret`` (which lets a browser confirm it) is left out."""
    payload = json.loads(json.dumps(event, default=str))
    obj = (payload.get("data") or {}).get("object")
    if isinstance(obj, dict):
        obj.pop("client_secret", None)
    return payload


@transaction.atomic
def stripe_event_process(*, event: Mapping[str, Any]) -> StripeEvent:
    """Process a verified Stripe webhook event once. The event is stored under its unique id: a
    redelivery (or a concurrent duplicate) returns the stored record without doing anything.
    Event types we do not handle are stored as ignored."""
    event_id = field(event, "id")
    event_type = field(event, "type", "")
    if not event_id:
        raise PaymentError("The event has no id.", code="bad-event")
    created = datetime.fromtimestamp(int(field(event, "created", 0)) or timezone.now().timestamp(), tz=UTC)
    record = StripeEvent(
        stripe_event_id=event_id,
        type=event_type[:100],
        created=created,
        payload=_without_secrets(event),
        outcome=StripeEvent.Outcome.IGNORED,
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        return StripeEvent.objects.get(stripe_event_id=event_id)
    handler = EVENT_HANDLERS.get(event_type)
    if handler is None:
        record.note = "Event type not handled."
    elif handler(field(field(event, "data"), "object"), created):
        record.outcome = StripeEvent.Outcome.PROCESSED
    else:
        record.note = "No payment of ours matches this event."
    record.save(update_fields=["outcome", "note"])
    return record


# --- saved cards -----------------------------------------------------------------------------------


def stripe_customer_ensure(*, user: User) -> StripeCustomer:
    """The buyer's Stripe Customer, made at Stripe the first time (one per buyer, even when two
    requests ask at once)."""
    existing = StripeCustomer.objects.filter(user=user).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one creator per buyer
        existing = StripeCustomer.objects.filter(user=user).first()
        if existing is not None:
            return existing
        try:
            customer = stripe_client().v1.customers.create(
                params={"email": user.email, "metadata": {"user_id": str(user.pk)}},
                options={"idempotency_key": f"cus-{user.pk}"},
            )
        except stripe.StripeError as exc:
            raise _provider_error(exc, doing="set up saved cards") from exc
        return StripeCustomer.objects.create(user=user, stripe_customer_id=customer.id)


def saved_card_setup_start(*, user: User) -> CardSetupStart:
    """Start saving a card: a SetupIntent for off-session use that Stripe.js confirms in the page."""
    if not payments_card_enabled():
        raise CardPaymentsUnavailable("Cards cannot be saved on this site: card payments are not set up.")
    customer = stripe_customer_ensure(user=user)
    try:
        intent = stripe_client().v1.setup_intents.create(
            params={
                "customer": customer.stripe_customer_id,
                "usage": "off_session",
                "payment_method_types": ["card"],
                "metadata": {"user_id": str(user.pk)},
            }
        )
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="start saving the card") from exc
    return CardSetupStart(setup_intent_id=intent.id, client_secret=intent.client_secret)


@transaction.atomic
def saved_card_record(*, user: User, setup_intent_id: str) -> SavedCard:
    """Record the card of a succeeded SetupIntent. Nothing about the card is taken from the browser:
    the SetupIntent and its PaymentMethod are read from Stripe, and both must belong to the buyer's
    Stripe Customer. Recording the same card again returns it. The first card becomes the default."""
    customer = StripeCustomer.objects.filter(user=user).first()
    if customer is None:
        raise SavedCardError("This card was not set up from your account: add it again under Saved cards.")
    client = stripe_client()
    try:
        setup = client.v1.setup_intents.retrieve(setup_intent_id)
    except stripe.InvalidRequestError as exc:
        raise SavedCardError("That card setup was not found: add the card again.") from exc
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="check the card") from exc
    if object_id(field(setup, "customer")) != customer.stripe_customer_id:
        raise SavedCardError("This card was not set up from your account: add it again under Saved cards.")
    status = field(setup, "status")
    if status == "requires_action":
        raise SavedCardError("Your bank still needs you to confirm the card: add it again and confirm with your bank.")
    if status != "succeeded":
        raise SavedCardError("The card was not saved: add it again, or use another card.")
    method_id = object_id(field(setup, "payment_method"))
    known = SavedCard.objects.filter(stripe_payment_method_id=method_id).first()
    if known is not None:
        if known.user_id != user.pk:
            raise SavedCardError("This card was not set up from your account: add it again under Saved cards.")
        return known
    try:
        method = client.v1.payment_methods.retrieve(method_id)
        owner = object_id(field(method, "customer"))
        if owner is None:  # Stripe attaches it when the SetupIntent succeeds; a fake may not
            method = client.v1.payment_methods.attach(method_id, params={"customer": customer.stripe_customer_id})
            owner = object_id(field(method, "customer"))
    except stripe.CardError as exc:
        raise SavedCardError(_decline_message(exc)) from exc
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="save the card") from exc
    if owner != customer.stripe_customer_id:
        raise SavedCardError("This card belongs to another account: add your own card.")
    card = field(method, "card")
    if field(method, "type") != "card" or card is None:
        raise SavedCardError("Only cards can be saved: add a debit or credit card.")
    User.objects.select_for_update().filter(pk=user.pk).first()  # one card recorded at a time per buyer
    has_default = SavedCard.objects.filter(user=user, is_default=True).exists()
    saved = SavedCard(
        user=user,
        stripe_payment_method_id=method_id,
        brand=str(field(card, "brand", "card"))[:32],
        last4=str(field(card, "last4", ""))[-4:],
        exp_month=int(field(card, "exp_month", 1)),
        exp_year=int(field(card, "exp_year", 2000)),
        is_default=not has_default,
    )
    _clean(saved)
    try:
        with transaction.atomic():
            saved.save(force_insert=True)
    except IntegrityError:  # the same return page loaded twice at once
        return SavedCard.objects.get(stripe_payment_method_id=method_id, user=user)
    return saved


@transaction.atomic
def saved_card_make_default(*, card: SavedCard) -> SavedCard:
    """Make ``card`` the one 1-Click uses."""
    list(SavedCard.objects.select_for_update().filter(user_id=card.user_id).order_by("pk"))
    now = timezone.now()
    SavedCard.objects.filter(user_id=card.user_id, is_default=True).exclude(pk=card.pk).update(
        is_default=False, updated_at=now
    )
    SavedCard.objects.filter(pk=card.pk).update(is_default=True, updated_at=now)
    card.is_default = True
    return card


@transaction.atomic
def saved_card_remove(*, card: SavedCard) -> None:
    """Forget a saved card: detach it from the buyer's Stripe Customer and delete it here. When it
    was the default, the most recently saved remaining card becomes the default."""
    list(SavedCard.objects.select_for_update().filter(user_id=card.user_id).order_by("pk"))
    try:
        stripe_client().v1.payment_methods.detach(card.stripe_payment_method_id)
    except stripe.InvalidRequestError as exc:
        # Already detached or gone at Stripe: forgetting it here is what the buyer wants.
        logger.info("detach %s: %s", card.stripe_payment_method_id, exc.user_message or exc)
    except stripe.StripeError as exc:
        raise _provider_error(exc, doing="remove the card") from exc
    was_default = card.is_default
    SavedCard.objects.filter(pk=card.pk).delete()
    if was_default:
        successor = SavedCard.objects.filter(user_id=card.user_id).order_by("-created_at", "-pk").first()
        if successor is not None:
            SavedCard.objects.filter(pk=successor.pk).update(is_default=True, updated_at=timezone.now())


# --- the payout ledger -----------------------------------------------------------------------------

PayoutKind = PayoutEntry.Kind


def _ledger_write(entries: list[PayoutEntry]) -> None:
    for entry in entries:
        _clean(entry)
    with transaction.atomic():
        PayoutEntry.objects.bulk_create(entries)


@transaction.atomic
def payout_record_sale(*, shop: Shop, reference: str, gross: Money) -> list[PayoutEntry]:
    """Record what ``shop`` sold in order ``reference``: a sale line (+gross) and the platform's
    commission line (−gross × ``PLATFORM_COMMISSION_RATE``, rounded to the currency's minor unit).
    Idempotent per (shop, order): recording it again returns the lines already written."""
    reference = _reference(reference, what="order number", error=PayoutError)
    _positive(gross, what="sale amount", error=PayoutError)
    existing = list(
        PayoutEntry.objects.filter(
            shop=shop, reference=reference, kind__in=[PayoutKind.SALE, PayoutKind.COMMISSION], entry_key=""
        ).order_by("pk")
    )
    if not existing:
        commission = Money(gross.amount * platform_commission_rate(), gross.currency)
        entries = [
            PayoutEntry(
                shop=shop, reference=reference, kind=PayoutKind.SALE, amount=gross.amount, currency=gross.currency
            ),
            PayoutEntry(
                shop=shop,
                reference=reference,
                kind=PayoutKind.COMMISSION,
                amount=-commission.amount,
                currency=gross.currency,
            ),
        ]
        try:
            _ledger_write(entries)
            return entries
        except IntegrityError:  # recorded by a concurrent call
            existing = list(PayoutEntry.objects.filter(shop=shop, reference=reference, entry_key="").order_by("pk"))
    sale = next(e for e in existing if e.kind == PayoutKind.SALE)
    if sale.amount != gross.amount or sale.currency != gross.currency:
        raise PayoutError(
            f"Order {reference} is already in the ledger as a sale of {sale.amount} {sale.currency}, "
            f"not {gross}: record a refund to change what the shop is owed."
        )
    return existing


@transaction.atomic
def payout_record_boost(*, shop: Shop, reference: str, amount: Money, entry_key: str) -> PayoutEntry:
    """Record what ``shop``'s loyalty boosts cost on order ``reference``: ``amount`` negative when the
    boosted points became the buyer's, positive when a refund took some of them back. ``entry_key``
    names the change (recording it again returns the line already written)."""
    reference = _reference(reference, what="order number", error=PayoutError)
    entry_key = (entry_key or "").strip()[:100]
    if not entry_key:
        raise PayoutError("A boost line needs an entry key.")
    if amount.amount == 0:
        raise PayoutError("A boost line needs an amount.")
    existing = PayoutEntry.objects.filter(
        shop=shop, reference=reference, kind=PayoutKind.LOYALTY_BOOST, entry_key=entry_key
    ).first()
    if existing is not None:
        return existing
    entry = PayoutEntry(
        shop=shop,
        reference=reference,
        kind=PayoutKind.LOYALTY_BOOST,
        entry_key=entry_key,
        amount=amount.amount,
        currency=amount.currency,
    )
    _ledger_write([entry])
    return entry


@transaction.atomic
def payout_record_refund(*, shop: Shop, reference: str, amount: Money, refund_key: str = "") -> list[PayoutEntry]:
    """Record a refund of ``amount`` on order ``reference`` in ``shop``'s ledger: a refund line
    (−amount) and the platform's commission given back in proportion (+commission × amount / sale;
    the refund that completes the order gives back exactly what is left of the commission, so a
    full refund always nets to zero). Refuses more than is left of the sale.

    ``refund_key`` (e.g. the refund's reference) makes it idempotent: the same key again returns the
    lines already written. Without it, every call records a new refund."""
    reference = _reference(reference, what="order number", error=PayoutError)
    _positive(amount, what="refund amount", error=PayoutError)
    refund_key = (refund_key or "").strip()[:100]
    lines = list(PayoutEntry.objects.select_for_update().filter(shop=shop, reference=reference).order_by("pk"))
    sale = next((e for e in lines if e.kind == PayoutKind.SALE), None)
    if sale is None:
        raise PayoutError(f"No sale of order {reference} is in {shop}'s ledger: record the sale first.")
    if sale.currency != amount.currency:
        raise PayoutError(f"Order {reference} was sold in {sale.currency}: record the refund in that currency.")
    if refund_key:
        done = [e for e in lines if e.entry_key == refund_key]
        if done:
            refunded = next(e for e in done if e.kind == PayoutKind.REFUND)
            if -refunded.amount != amount.amount:
                raise PayoutError(f"Refund {refund_key} of order {reference} was recorded as {-refunded.amount}.")
            return done

    def total(kind: str) -> Decimal:
        return sum((e.amount for e in lines if e.kind == kind), Decimal(0))

    refunded = -total(PayoutKind.REFUND)
    left = sale.amount - refunded
    if amount.amount > left:
        raise PayoutError(
            f"Only {left} {sale.currency} of order {reference} is left to refund "
            f"({refunded} of {sale.amount} already refunded)."
        )
    commission = -total(PayoutKind.COMMISSION)
    commission_left = commission - total(PayoutKind.COMMISSION_REFUND)
    if amount.amount == left:
        back = commission_left
    else:
        back = min(Money(commission * amount.amount / sale.amount, sale.currency).amount, commission_left)
    key = refund_key or uuid.uuid4().hex
    entries = [
        PayoutEntry(
            shop=shop,
            reference=reference,
            kind=PayoutKind.REFUND,
            entry_key=key,
            amount=-amount.amount,
            currency=sale.currency,
        ),
        PayoutEntry(
            shop=shop,
            reference=reference,
            kind=PayoutKind.COMMISSION_REFUND,
            entry_key=key,
            amount=back,
            currency=sale.currency,
        ),
    ]
    _ledger_write(entries)
    return entries

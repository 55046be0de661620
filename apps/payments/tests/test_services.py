"""Payment services that need no Stripe: pay on pickup from start to refund, the rules that refuse
bad requests with a message, signals sent inside the transaction, saved-card defaults and the
conversion to Stripe's minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.payments.errors import (
    CardPaymentsUnavailable,
    PaymentConflict,
    PaymentError,
    PaymentStateError,
    RefundError,
    SavedCardError,
)
from apps.payments.models import Payment, Refund, SavedCard
from apps.payments.selectors import payments_card_enabled, saved_card_default_for_user
from apps.payments.services import (
    payment_cancel,
    payment_collect,
    payment_mark_from_intent,
    payment_refund,
    payment_resume,
    payment_start,
    saved_card_make_default,
)
from apps.payments.signals import payment_refunded, payment_succeeded
from apps.payments.stripe_gateway import from_minor_units, to_minor_units

from .factories import PaymentFactory, SavedCardFactory

pytestmark = pytest.mark.django_db

PICKUP = Payment.Method.PAY_ON_PICKUP


def sgd(amount: str) -> Money:
    return Money(Decimal(amount), "SGD")


@pytest.fixture
def succeeded():
    seen = []

    def receiver(sender, payment, **kwargs):
        seen.append(payment.reference)

    payment_succeeded.connect(receiver, weak=False)
    yield seen
    payment_succeeded.disconnect(receiver)


def test_pay_on_pickup_waits_for_the_counter_and_is_idempotent(buyer, succeeded):
    start = payment_start(reference="CO-1", buyer=buyer, amount=sgd("42.50"), method=PICKUP)
    assert start.client_secret is None and not start.needs_buyer
    assert start.payment.status == Payment.Status.REQUIRES_PAYMENT
    again = payment_start(reference="CO-1", buyer=buyer, amount=sgd("42.50"), method=PICKUP)
    assert again.payment.pk == start.payment.pk
    assert Payment.objects.count() == 1

    payment = payment_collect(payment=start.payment, actor=buyer)
    payment_collect(payment=payment, actor=buyer)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.COLLECTED
    assert payment.collected_by == buyer and payment.collected_at
    assert succeeded == ["CO-1"]


def test_the_same_reference_with_other_figures_is_a_conflict(buyer):
    payment_start(reference="CO-1", buyer=buyer, amount=sgd("42.50"), method=PICKUP)
    with pytest.raises(PaymentConflict, match="already has a payment of 42.50 SGD"):
        payment_start(reference="CO-1", buyer=buyer, amount=sgd("40.00"), method=PICKUP)
    with pytest.raises(PaymentConflict):
        payment_start(reference="CO-1", buyer=UserFactory(), amount=sgd("42.50"), method=PICKUP)


def test_guests_can_pay_on_pickup():
    start = payment_start(reference="CO-G", buyer=None, amount=sgd("5.00"), method=PICKUP)
    assert start.payment.buyer is None


def test_cards_are_refused_without_stripe_keys(buyer):
    assert payments_card_enabled() is False
    with pytest.raises(CardPaymentsUnavailable, match="choose pay on pickup"):
        payment_start(reference="CO-1", buyer=buyer, amount=sgd("10.00"), method="card")
    assert not Payment.objects.exists()


def test_payments_card_enabled_needs_both_keys(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert payments_card_enabled() is False
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_x"
    assert payments_card_enabled() is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": ""}, "reference is required"),
        ({"amount": Money(Decimal("0"), "SGD")}, "more than zero"),
        ({"method": "cheque"}, "Unknown payment method"),
        ({"off_session": True}, "takes no card"),
    ],
)
def test_bad_requests_are_refused_with_a_message(buyer, kwargs, message):
    args = {"reference": "CO-1", "buyer": buyer, "amount": sgd("10.00"), "method": PICKUP, **kwargs}
    with pytest.raises(PaymentError, match=message):
        payment_start(**args)


def test_a_saved_card_must_be_the_buyers_own(buyer, settings):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY = "sk_test_x", "pk_test_x"
    card = SavedCardFactory()
    with pytest.raises(SavedCardError, match="belongs to another account"):
        payment_start(reference="CO-1", buyer=buyer, amount=sgd("10"), method="card", saved_card=card, off_session=True)
    with pytest.raises(SavedCardError, match="needs a saved card"):
        payment_start(reference="CO-1", buyer=buyer, amount=sgd("10"), method="card", off_session=True)


def test_cancelling_a_pickup_payment_and_what_cannot_follow(buyer):
    payment = payment_start(reference="CO-1", buyer=buyer, amount=sgd("10.00"), method=PICKUP).payment
    payment = payment_cancel(payment=payment, reason="Buyer changed their mind")
    assert payment_cancel(payment=payment, reason="again").cancel_reason == "Buyer changed their mind"
    with pytest.raises(PaymentStateError, match="cancelled: there is nothing to collect"):
        payment_collect(payment=payment, actor=None)
    with pytest.raises(RefundError, match="has not been paid"):
        payment_refund(payment=payment, amount=sgd("1.00"), reason="x", reference="RF-1")


def test_a_paid_payment_cannot_be_cancelled_or_resumed(buyer):
    payment = payment_start(reference="CO-1", buyer=buyer, amount=sgd("10.00"), method=PICKUP).payment
    payment_collect(payment=payment, actor=None)
    with pytest.raises(PaymentStateError, match="refund it instead"):
        payment_cancel(payment=payment, reason="x")
    with pytest.raises(PaymentStateError, match="paid on pickup"):
        payment_resume(payment=payment)
    with pytest.raises(PaymentStateError, match="by card"):
        payment_collect(payment=PaymentFactory(), actor=None)


def test_refunds_of_a_collected_payment_are_manual_partial_then_full(buyer):
    refunds = []

    def receiver(sender, payment, refund, **kwargs):
        refunds.append((payment.amount_refunded, refund.amount))

    payment_refunded.connect(receiver, weak=False)
    try:
        payment = payment_start(reference="CO-1", buyer=buyer, amount=sgd("100.00"), method=PICKUP).payment
        payment_collect(payment=payment, actor=None)
        first = payment_refund(payment=payment, amount=sgd("30.00"), reason="Chipped", reference="RF-1", actor=buyer)
        assert (first.kind, first.status) == (Refund.Kind.MANUAL, Refund.Status.SUCCEEDED)
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded) == (Payment.Status.PARTIALLY_REFUNDED, Decimal("30.00"))

        with pytest.raises(RefundError, match=r"at most 70.00 SGD .* 30.00 of 100.00 SGD was already refunded"):
            payment_refund(payment=payment, amount=sgd("70.01"), reason="Too much", reference="RF-2")
        assert payment_refund(payment=payment, amount=sgd("30.00"), reason="Chipped", reference="RF-1").pk == first.pk
        with pytest.raises(RefundError, match="already made for 30.00"):
            payment_refund(payment=payment, amount=sgd("5.00"), reason="Chipped", reference="RF-1")

        payment_refund(payment=payment, amount=sgd("70.00"), reason="Returned", reference="RF-2")
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded) == (Payment.Status.REFUNDED, Decimal("100.00"))
        assert refunds == [(Decimal("30.00"), Decimal("30.00")), (Decimal("100.00"), Decimal("70.00"))]
    finally:
        payment_refunded.disconnect(receiver)


def test_refund_input_is_checked(buyer):
    payment = payment_start(reference="CO-1", buyer=buyer, amount=sgd("10.00"), method=PICKUP).payment
    payment_collect(payment=payment, actor=None)
    with pytest.raises(RefundError, match="Give a reason"):
        payment_refund(payment=payment, amount=sgd("1.00"), reason=" ", reference="RF-1")
    with pytest.raises(RefundError, match="paid in SGD"):
        payment_refund(payment=payment, amount=Money(Decimal("1"), "USD"), reason="x", reference="RF-1")
    with pytest.raises(RefundError, match="more than zero"):
        payment_refund(payment=payment, amount=sgd("0"), reason="x", reference="RF-1")


def test_signals_run_inside_the_transaction_so_a_failing_receiver_undoes_the_payment(buyer):
    """The orders app's receiver and the payment change commit together, or not at all."""
    payment = payment_start(reference="CO-1", buyer=buyer, amount=sgd("10.00"), method=PICKUP).payment

    def broken(sender, payment, **kwargs):
        assert transaction.get_connection().in_atomic_block
        raise RuntimeError("order update failed")

    payment_succeeded.connect(broken, weak=False)
    try:
        with pytest.raises(RuntimeError):
            payment_collect(payment=payment, actor=None)
    finally:
        payment_succeeded.disconnect(broken)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT


def test_an_intent_is_matched_by_reference_when_its_id_was_not_stored(succeeded):
    payment = PaymentFactory(stripe_payment_intent_id=None)
    intent = {
        "id": "pi_new",
        "status": "succeeded",
        "amount": 10000,
        "currency": "sgd",
        "metadata": {"reference": payment.reference},
    }
    assert payment_mark_from_intent(intent=intent).pk == payment.pk
    payment.refresh_from_db()
    assert (payment.stripe_payment_intent_id, payment.status) == ("pi_new", Payment.Status.SUCCEEDED)
    assert succeeded == [payment.reference]
    assert payment_mark_from_intent(intent={"id": "pi_other", "status": "succeeded"}) is None


def test_one_default_card_per_buyer(buyer):
    first = SavedCardFactory(user=buyer, is_default=True)
    second = SavedCardFactory(user=buyer)
    saved_card_make_default(card=second)
    assert saved_card_default_for_user(user=buyer) == second
    first.refresh_from_db()
    assert first.is_default is False
    with pytest.raises(IntegrityError), transaction.atomic():
        SavedCard.objects.filter(pk=first.pk).update(is_default=True)


@pytest.mark.parametrize(
    ("money", "minor"),
    [(Money(Decimal("12.50"), "SGD"), 1250), (Money(Decimal("1200"), "JPY"), 1200), (Money("0.01", "USD"), 1)],
)
def test_amounts_go_to_stripe_in_minor_units_and_back(money, minor):
    assert to_minor_units(money) == minor
    assert from_minor_units(minor, money.currency.lower()) == money

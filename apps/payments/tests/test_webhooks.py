"""Stripe's webhook, with payloads signed in the test: only correctly signed events change
anything, each event is processed once, and late or out-of-order events never take a payment
backwards."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.payments.models import Payment, Refund, StripeEvent
from apps.payments.signals import payment_failed, payment_refunded, payment_succeeded

from .conftest import WEBHOOK_SECRET, sign
from .factories import PaymentFactory

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


@pytest.fixture(autouse=True)
def _secret(webhook_secret):
    return webhook_secret


@pytest.fixture
def received():
    """Signals sent during the test, as (signal name, payment reference[, refund amount])."""
    seen: list[tuple] = []

    def on_succeeded(sender, payment, **kwargs):
        seen.append(("succeeded", payment.reference))

    def on_failed(sender, payment, **kwargs):
        seen.append(("failed", payment.reference))

    def on_refunded(sender, payment, refund, **kwargs):
        seen.append(("refunded", payment.reference, refund.amount))

    payment_succeeded.connect(on_succeeded, weak=False)
    payment_failed.connect(on_failed, weak=False)
    payment_refunded.connect(on_refunded, weak=False)
    yield seen
    payment_succeeded.disconnect(on_succeeded)
    payment_failed.disconnect(on_failed)
    payment_refunded.disconnect(on_refunded)


def intent_event(payment, *, event_id, status, created, kind=None, error=None, amount=10000):
    intent = {
        "id": payment.stripe_payment_intent_id,
        "object": "payment_intent",
        "amount": amount,
        "currency": "sgd",
        "status": status,
        "client_secret": f"{payment.stripe_payment_intent_id}_secret_x",
        "metadata": {"reference": payment.reference},
        "last_payment_error": error,
    }
    kind = kind or {"succeeded": "payment_intent.succeeded", "processing": "payment_intent.processing"}.get(
        status, "payment_intent.payment_failed"
    )
    return {"id": event_id, "object": "event", "type": kind, "created": created, "data": {"object": intent}}


DECLINED = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card was declined."}


def post(client, event, *, secret=WEBHOOK_SECRET, header=None, body=None):
    payload = body if body is not None else json.dumps(event)
    return client.post(
        URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header or sign(payload, secret=secret)
    )


def test_the_url_is_named():
    assert reverse("payments_webhooks:stripe") == URL


def test_succeeded_event_marks_the_payment_paid_once_even_when_delivered_twice(client, received):
    payment = PaymentFactory()
    event = intent_event(payment, event_id="evt_1", status="succeeded", created=int(time.time()))
    first = post(client, event)
    second = post(client, event)
    assert first.status_code == second.status_code == 200
    assert first.json() == {"received": True, "outcome": "processed"}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert received == [("succeeded", payment.reference)]
    stored = StripeEvent.objects.get(stripe_event_id="evt_1")
    assert stored.outcome == "processed" and stored.payload["data"]["object"]["status"] == "succeeded"
    assert "client_secret" not in stored.payload["data"]["object"]  # not kept in our database


def test_a_late_payment_failed_never_downgrades_a_succeeded_payment(client, received):
    payment = PaymentFactory()
    now = int(time.time())
    post(client, intent_event(payment, event_id="evt_ok", status="succeeded", created=now))
    late = intent_event(payment, event_id="evt_fail", status="requires_payment_method", created=now + 5, error=DECLINED)
    assert post(client, late).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.last_error == ""
    assert received == [("succeeded", payment.reference)]


def test_events_out_of_order_end_in_the_state_of_the_newest(client, received):
    """A failure observed at t=100 that arrives after the processing state observed at t=200 is
    ignored; the succeeded event (t=300) wins whenever it comes."""
    payment = PaymentFactory()
    base = int(time.time()) - 1000
    post(client, intent_event(payment, event_id="evt_b", status="processing", created=base + 200))
    post(
        client,
        intent_event(payment, event_id="evt_a", status="requires_payment_method", created=base + 100, error=DECLINED),
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PROCESSING
    assert received == []
    post(client, intent_event(payment, event_id="evt_c", status="succeeded", created=base + 300))
    post(client, intent_event(payment, event_id="evt_a2", status="processing", created=base + 250))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_a_payment_failure_tells_the_buyer_why_and_signals_once(client, received):
    payment = PaymentFactory()
    event = intent_event(
        payment, event_id="evt_f", status="requires_payment_method", created=int(time.time()), error=DECLINED
    )
    post(client, event)
    post(client, event)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert "insufficient funds" in payment.last_error
    assert received == [("failed", payment.reference)]


@pytest.mark.parametrize(
    "header",
    [
        "t=1700000000,v1=deadbeef",
        "",
        "garbage",
    ],
)
def test_a_bad_signature_gets_400_and_changes_nothing(client, received, header):
    payment = PaymentFactory()
    event = intent_event(payment, event_id="evt_bad", status="succeeded", created=int(time.time()))
    payload = json.dumps(event)
    response = client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT
    assert not StripeEvent.objects.exists()
    assert received == []


def test_a_payload_signed_with_another_secret_or_too_old_is_refused(client):
    payment = PaymentFactory()
    event = intent_event(payment, event_id="evt_x", status="succeeded", created=int(time.time()))
    assert post(client, event, secret="whsec_someone_else").status_code == 400
    payload = json.dumps(event)
    stale = sign(payload, timestamp=int(time.time()) - 3600)
    assert post(client, event, header=stale).status_code == 400
    tampered = payload.replace('"amount": 10000', '"amount": 1')
    assert post(client, event, header=sign(payload), body=tampered).status_code == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT
    assert not StripeEvent.objects.exists()


def test_a_signed_body_that_is_not_an_event_is_a_400(client):
    assert post(client, None, body="not json").status_code == 400
    assert post(client, None, body="[1, 2]").status_code == 400
    assert post(client, None, body='{"type": "payment_intent.succeeded"}').status_code == 400
    assert not StripeEvent.objects.exists()


def test_without_a_configured_secret_every_webhook_is_refused(client, settings):
    payment = PaymentFactory()
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert post(client, intent_event(payment, event_id="evt_n", status="succeeded", created=1)).status_code == 400


def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405


def test_unknown_event_types_are_stored_and_ignored(client):
    event = {"id": "evt_u", "object": "event", "type": "customer.created", "created": 1, "data": {"object": {}}}
    response = post(client, event)
    assert response.status_code == 200
    stored = StripeEvent.objects.get(stripe_event_id="evt_u")
    assert stored.outcome == StripeEvent.Outcome.IGNORED
    assert stored.type == "customer.created"


def test_an_event_for_an_intent_we_do_not_know_is_ignored(client):
    other = PaymentFactory.build(reference="NOT-OURS", stripe_payment_intent_id="pi_unknown")
    response = post(client, intent_event(other, event_id="evt_o", status="succeeded", created=1))
    assert response.json()["outcome"] == "ignored"
    assert not Payment.objects.exists()


def test_an_intent_for_another_amount_is_not_applied(client):
    payment = PaymentFactory()
    post(client, intent_event(payment, event_id="evt_amt", status="succeeded", created=1, amount=1))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT


def refund_object(payment, *, refund_id="re_1", amount=3000, status="succeeded"):
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "sgd",
        "status": status,
        "payment_intent": payment.stripe_payment_intent_id,
        "metadata": {},
    }


def charge_refunded_event(payment, *, event_id, refunds, amount_refunded):
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 10000,
        "currency": "sgd",
        "payment_intent": payment.stripe_payment_intent_id,
        "amount_refunded": amount_refunded,
        "refunds": {"object": "list", "data": refunds},
    }
    return {"id": event_id, "object": "event", "type": "charge.refunded", "created": 1, "data": {"object": charge}}


def test_a_refund_made_in_stripe_updates_amount_refunded_once(client, received):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    event = charge_refunded_event(payment, event_id="evt_r1", refunds=[refund_object(payment)], amount_refunded=3000)
    post(client, event)
    post(client, event)
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("30.00")
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    refund = Refund.objects.get(payment=payment)
    assert (refund.stripe_refund_id, refund.amount, refund.status) == ("re_1", Decimal("30.00"), "succeeded")
    assert received == [("refunded", payment.reference, Decimal("30.00"))]

    # The same refund again in refund.updated, then the whole rest without refund objects listed.
    updated = {"id": "evt_r2", "object": "event", "type": "refund.updated", "created": 2}
    post(client, {**updated, "data": {"object": refund_object(payment)}})
    post(client, charge_refunded_event(payment, event_id="evt_r3", refunds=[], amount_refunded=10000))
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")
    assert payment.status == Payment.Status.REFUNDED
    assert Refund.objects.filter(payment=payment).count() == 2


def test_a_failed_refund_gives_the_amount_back_and_never_comes_back_to_pending(client):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    base = {"object": "event", "type": "refund.updated", "created": 1}
    post(client, {**base, "id": "evt_p", "data": {"object": refund_object(payment, status="pending")}})
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("30.00")
    post(client, {**base, "id": "evt_f", "data": {"object": refund_object(payment, status="failed")}})
    post(client, {**base, "id": "evt_p2", "data": {"object": refund_object(payment, status="pending")}})
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("0.00")
    assert payment.status == Payment.Status.SUCCEEDED
    assert Refund.objects.get(payment=payment).status == Refund.Status.FAILED

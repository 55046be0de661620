"""Card payments against a real (fake) Stripe API: localstripe, started by the test session on
127.0.0.1. Saving a card through a SetupIntent, 1-Click charges that succeed, are declined or need
the buyer, payments on the page, refunds, cancelling, a webhook that localstripe itself signs and
delivers to the running site, and one charge per checkout under concurrent requests."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.payments.errors import RefundError, SavedCardError
from apps.payments.models import Payment, Refund, SavedCard, StripeCustomer, StripeEvent
from apps.payments.services import (
    payment_cancel,
    payment_refresh,
    payment_refund,
    payment_resume,
    payment_start,
    saved_card_record,
    saved_card_remove,
    saved_card_setup_start,
    stripe_customer_ensure,
)
from apps.payments.signals import payment_failed, payment_succeeded

CARD = Payment.Method.CARD
VISA = "pm_card_visa"
DECLINES_CHARGES = "pm_card_chargeCustomerFail"  # attaches fine, every charge is declined
NEEDS_3DS = "4000002760003184"


def sgd(amount: str) -> Money:
    return Money(Decimal(amount), "SGD")


def save_card(fake, user, payment_method: str = VISA) -> SavedCard:
    """What the cards page does: a SetupIntent, confirmed as Stripe.js would, recorded by the server."""
    setup = saved_card_setup_start(user=user)
    fake.client.v1.setup_intents.confirm(setup.setup_intent_id, params={"payment_method": payment_method})
    return saved_card_record(user=user, setup_intent_id=setup.setup_intent_id)


def attach_card(fake, user, payment_method: str) -> SavedCard:
    """A card saved earlier (for cards whose SetupIntent needs the bank, which a test cannot pass)."""
    customer = stripe_customer_ensure(user=user)
    method = fake.client.v1.payment_methods.attach(payment_method, params={"customer": customer.stripe_customer_id})
    return SavedCard.objects.create(
        user=user,
        stripe_payment_method_id=method.id,
        brand="visa",
        last4=method.card.last4,
        exp_month=12,
        exp_year=2030,
    )


def three_d_secure_method(fake) -> str:
    method = fake.client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": NEEDS_3DS, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    return method.id


@pytest.fixture
def signals():
    seen = []

    def on_succeeded(sender, payment, **kwargs):
        seen.append(("succeeded", payment.reference, payment.status))

    def on_failed(sender, payment, **kwargs):
        seen.append(("failed", payment.reference, payment.status))

    payment_succeeded.connect(on_succeeded, weak=False)
    payment_failed.connect(on_failed, weak=False)
    yield seen
    payment_succeeded.disconnect(on_succeeded)
    payment_failed.disconnect(on_failed)


# --- saved cards ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_buyer_gets_one_stripe_customer(fake_stripe, buyer):
    first = stripe_customer_ensure(user=buyer)
    assert stripe_customer_ensure(user=buyer).pk == first.pk
    customer = fake_stripe.client.v1.customers.retrieve(first.stripe_customer_id)
    assert customer.email == buyer.email
    assert StripeCustomer.objects.count() == 1


@pytest.mark.django_db
def test_saving_a_card_reads_it_from_stripe_and_attaches_it_to_the_buyer(fake_stripe, buyer):
    card = save_card(fake_stripe, buyer)
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.is_default) == ("visa", "4242", 12, 2030, True)
    method = fake_stripe.client.v1.payment_methods.retrieve(card.stripe_payment_method_id)
    assert method.customer == buyer.stripe_customer.stripe_customer_id
    second = save_card(fake_stripe, buyer)
    assert second.is_default is False


@pytest.mark.django_db
def test_recording_the_same_setup_twice_keeps_one_card(fake_stripe, buyer):
    setup = saved_card_setup_start(user=buyer)
    fake_stripe.client.v1.setup_intents.confirm(setup.setup_intent_id, params={"payment_method": VISA})
    first = saved_card_record(user=buyer, setup_intent_id=setup.setup_intent_id)
    assert saved_card_record(user=buyer, setup_intent_id=setup.setup_intent_id).pk == first.pk
    assert SavedCard.objects.count() == 1


@pytest.mark.django_db
def test_another_buyers_setup_intent_is_refused(fake_stripe, buyer):
    setup = saved_card_setup_start(user=buyer)
    fake_stripe.client.v1.setup_intents.confirm(setup.setup_intent_id, params={"payment_method": VISA})
    intruder = UserFactory()
    stripe_customer_ensure(user=intruder)
    with pytest.raises(SavedCardError, match="not set up from your account"):
        saved_card_record(user=intruder, setup_intent_id=setup.setup_intent_id)
    with pytest.raises(SavedCardError, match="not set up from your account"):
        saved_card_record(user=UserFactory(), setup_intent_id=setup.setup_intent_id)
    assert not SavedCard.objects.exists()


@pytest.mark.django_db
def test_an_unconfirmed_setup_intent_saves_nothing(fake_stripe, buyer):
    setup = saved_card_setup_start(user=buyer)
    with pytest.raises(SavedCardError, match="was not saved"):
        saved_card_record(user=buyer, setup_intent_id=setup.setup_intent_id)


@pytest.mark.django_db
def test_removing_a_card_detaches_it_at_stripe_and_promotes_another(fake_stripe, buyer):
    first = save_card(fake_stripe, buyer)
    second = save_card(fake_stripe, buyer)
    saved_card_remove(card=first)
    method = fake_stripe.client.v1.payment_methods.retrieve(first.stripe_payment_method_id)
    assert method.customer is None
    second.refresh_from_db()
    assert second.is_default is True
    assert list(SavedCard.objects.all()) == [second]


@pytest.mark.django_db
def test_the_card_page_round_trip(fake_stripe, client, buyer):
    """The add page shows the Payment Element for a SetupIntent; Stripe.js confirms it and comes
    back to cards/added/, which records the card."""
    client.force_login(buyer)
    page = client.get(reverse("payments:card-add"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-mode="setup"' in body and 'data-publishable-key="pk_test_12345"' in body
    assert "https://js.stripe.com/v3/" in body and "payments/stripe_element.js" in body
    assert "<script>" not in body  # no inline script: the CSP forbids it
    secret = page.context["client_secret"]
    setup_intent_id = secret.split("_secret_")[0]
    fake_stripe.client.v1.setup_intents.confirm(setup_intent_id, params={"payment_method": VISA})
    response = client.get(reverse("payments:card-added"), {"setup_intent": setup_intent_id})
    assert response.status_code == 302
    card = SavedCard.objects.get(user=buyer)
    listing = client.get(reverse("payments:cards")).content.decode()
    assert f'data-card="{card.pk}"' in listing and "4242" in listing


# --- 1-Click (off-session) charges ---------------------------------------------------------------


@pytest.mark.django_db
def test_an_off_session_charge_on_a_saved_card_succeeds(fake_stripe, buyer, signals):
    card = save_card(fake_stripe, buyer)
    start = payment_start(
        reference="CO-1", buyer=buyer, amount=sgd("12.50"), method=CARD, saved_card=card, off_session=True
    )
    payment = start.payment
    assert start.succeeded and start.client_secret is None
    assert payment.status == Payment.Status.SUCCEEDED
    assert signals == [("succeeded", "CO-1", "succeeded")]
    intent = fake_stripe.client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 1250, "sgd")
    assert intent.metadata["reference"] == "CO-1"
    # A double click: the same payment, no second charge.
    again = payment_start(
        reference="CO-1", buyer=buyer, amount=sgd("12.50"), method=CARD, saved_card=card, off_session=True
    )
    assert again.payment.pk == payment.pk
    assert len(fake_stripe.payment_intents()) == 1


@pytest.mark.django_db
def test_a_declined_off_session_charge_fails_with_a_message_and_can_be_finished_on_the_page(
    fake_stripe, buyer, signals
):
    card = save_card(fake_stripe, buyer, DECLINES_CHARGES)
    start = payment_start(
        reference="CO-2", buyer=buyer, amount=sgd("20.00"), method=CARD, saved_card=card, off_session=True
    )
    payment = start.payment
    assert payment.status == Payment.Status.FAILED and start.needs_buyer
    assert payment.last_error == "Your card was declined. Use another card, or choose pay on pickup."
    assert signals == [("failed", "CO-2", "failed")]
    Payment.objects.get(pk=payment.pk)  # recorded, not rolled back

    resumed = payment_resume(payment=payment)
    assert resumed.client_secret
    intent_id = resumed.client_secret.split("_secret_")[0]
    assert Payment.objects.get(pk=payment.pk).stripe_payment_intent_id == intent_id
    intent = fake_stripe.client.v1.payment_intents.retrieve(intent_id)
    assert (intent.amount, intent.status) == (2000, "requires_payment_method")


@pytest.mark.django_db
def test_an_off_session_charge_that_needs_the_bank_waits_for_the_buyer(fake_stripe, buyer, signals):
    card = attach_card(fake_stripe, buyer, three_d_secure_method(fake_stripe))
    start = payment_start(
        reference="CO-3", buyer=buyer, amount=sgd("15.00"), method=CARD, saved_card=card, off_session=True
    )
    assert start.payment.status == Payment.Status.REQUIRES_ACTION
    assert "confirm" in start.payment.last_error
    assert signals == [("failed", "CO-3", "requires_action")]
    resumed = payment_resume(payment=start.payment)
    assert resumed.client_secret.startswith(start.payment.stripe_payment_intent_id)


# --- on the page ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_card_payment_on_the_page_gets_a_client_secret_then_follows_stripe(fake_stripe, buyer, signals):
    card = save_card(fake_stripe, buyer)
    start = payment_start(reference="CO-4", buyer=buyer, amount=sgd("9.90"), method=CARD, saved_card=card)
    assert start.client_secret and start.needs_buyer
    assert start.payment.status == Payment.Status.REQUIRES_PAYMENT
    again = payment_start(reference="CO-4", buyer=buyer, amount=sgd("9.90"), method=CARD, saved_card=card)
    assert again.client_secret == start.client_secret
    # The buyer confirms in the browser (Stripe.js); the return page asks Stripe.
    fake_stripe.client.v1.payment_intents.confirm(start.payment.stripe_payment_intent_id)
    payment = payment_refresh(payment=start.payment)
    assert payment.status == Payment.Status.SUCCEEDED
    assert signals == [("succeeded", "CO-4", "succeeded")]


@pytest.mark.django_db
def test_resuming_a_payment_that_went_through_records_it_and_charges_nothing_more(fake_stripe, buyer, signals):
    card = save_card(fake_stripe, buyer)
    start = payment_start(reference="CO-4B", buyer=buyer, amount=sgd("9.90"), method=CARD, saved_card=card)
    fake_stripe.client.v1.payment_intents.confirm(start.payment.stripe_payment_intent_id)  # webhook not seen yet
    resumed = payment_resume(payment=start.payment)
    assert resumed.client_secret is None and resumed.succeeded
    assert len(fake_stripe.payment_intents()) == 1
    assert signals == [("succeeded", "CO-4B", "succeeded")]


@pytest.mark.django_db
def test_the_return_page_refreshes_the_buyers_payment_and_goes_on(fake_stripe, client, buyer):
    card = save_card(fake_stripe, buyer)
    start = payment_start(reference="CO-5", buyer=buyer, amount=sgd("5.00"), method=CARD, saved_card=card)
    fake_stripe.client.v1.payment_intents.confirm(start.payment.stripe_payment_intent_id)
    client.force_login(buyer)
    response = client.get(reverse("payments:return"), {"reference": "CO-5", "next": "/orders/CO-5/"})
    assert response.status_code == 302 and response["Location"] == "/orders/CO-5/"
    assert Payment.objects.get(reference="CO-5").status == Payment.Status.SUCCEEDED
    evil = client.get(reverse("payments:return"), {"reference": "CO-5", "next": "https://evil.example/"})
    assert evil["Location"] == "/"
    client.force_login(UserFactory())
    assert client.get(reverse("payments:return"), {"reference": "CO-5"}).status_code == 404


@pytest.mark.django_db
def test_cancelling_cancels_the_intent_at_stripe(fake_stripe, buyer):
    start = payment_start(reference="CO-6", buyer=buyer, amount=sgd("5.00"), method=CARD)
    payment = payment_cancel(payment=start.payment, reason="Basket emptied")
    assert payment.status == Payment.Status.CANCELED
    intent = fake_stripe.client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert intent.status == "canceled"


# --- refunds -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partial_then_full_refund_through_stripe(fake_stripe, buyer):
    card = save_card(fake_stripe, buyer)
    payment = payment_start(
        reference="CO-7", buyer=buyer, amount=sgd("100.00"), method=CARD, saved_card=card, off_session=True
    ).payment
    refund = payment_refund(payment=payment, amount=sgd("30.00"), reason="One cup chipped", reference="RF-1")
    assert (refund.kind, refund.status, refund.amount) == (Refund.Kind.CARD, "succeeded", Decimal("30.00"))
    at_stripe = fake_stripe.client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert (at_stripe.amount, at_stripe.payment_intent) == (3000, payment.stripe_payment_intent_id)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (Payment.Status.PARTIALLY_REFUNDED, Decimal("30.00"))

    with pytest.raises(RefundError, match="at most 70.00 SGD"):
        payment_refund(payment=payment, amount=sgd("80.00"), reason="Too much", reference="RF-2")
    payment_refund(payment=payment, amount=sgd("70.00"), reason="Returned", reference="RF-2")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (Payment.Status.REFUNDED, Decimal("100.00"))
    refunds = fake_stripe.client.v1.refunds.list(params={"payment_intent": payment.stripe_payment_intent_id})
    assert sorted(r.amount for r in refunds.data) == [3000, 7000]


# --- a webhook from localstripe to the running site ----------------------------------------------


@pytest.fixture
def stripe_webhook_to(fake_stripe, live_server):
    fake_stripe.register_webhook(live_server.url + "/payments/stripe/webhook/", events=["payment_intent.succeeded"])
    yield fake_stripe
    fake_stripe.unregister_webhook()


def test_localstripe_delivers_a_signed_webhook_that_marks_the_payment_paid(stripe_webhook_to, signals):
    if connection.vendor != "postgresql":
        pytest.skip("the live server shares SQLite's in-memory database with the test")
    buyer = UserFactory()
    card = save_card(stripe_webhook_to, buyer)
    start = payment_start(reference="CO-8", buyer=buyer, amount=sgd("45.00"), method=CARD, saved_card=card)
    intent_id = start.payment.stripe_payment_intent_id
    stripe_webhook_to.client.v1.payment_intents.confirm(intent_id)  # as Stripe.js would
    # localstripe posts its events a second later; earlier tests' events may arrive too (ignored).
    ours = StripeEvent.objects.filter(type="payment_intent.succeeded", payload__data__object__id=intent_id)
    deadline = time.monotonic() + 15
    while not ours.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    event = ours.get()
    assert event.outcome == StripeEvent.Outcome.PROCESSED
    assert Payment.objects.get(reference="CO-8").status == Payment.Status.SUCCEEDED


# --- one charge per checkout ---------------------------------------------------------------------


def test_ten_concurrent_starts_make_one_payment_and_one_payment_intent(fake_stripe, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    buyer = UserFactory()
    barrier = threading.Barrier(10)
    results, errors = [], []

    def start():
        try:
            barrier.wait(timeout=10)
            outcome = payment_start(reference="CO-RACE", buyer=buyer, amount=sgd("30.00"), method=CARD)
            results.append((outcome.payment.pk, outcome.client_secret))
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == 10
    assert len({pk for pk, _secret in results}) == 1
    assert len({secret for _pk, secret in results}) == 1
    assert Payment.objects.filter(reference="CO-RACE").count() == 1
    intents = fake_stripe.payment_intents()
    assert len(intents) == 1
    assert intents[0].id == Payment.objects.get(reference="CO-RACE").stripe_payment_intent_id

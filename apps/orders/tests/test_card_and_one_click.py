"""Card checkout and 1-Click Buying against localstripe: paying on the page, a saved card charged
off-session with one click, double clicks and retries making one order and one charge, a declined
card sent to the pay page, cancelling within the window (refund and stock back), the payout ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.inventory.models import StockItem
from apps.inventory.tests.checks import assert_ledger_balanced
from apps.orders.errors import CheckoutError
from apps.orders.models import Checkout, Order
from apps.orders.selectors_warnings import card_payment_outcomes
from apps.orders.services import (
    cart_add,
    cart_get_or_create,
    checkout_cancel,
    checkout_place,
    checkouts_expire,
    one_click_buy,
    one_click_settings_update,
)
from apps.payments.models import Payment, PayoutEntry
from apps.payments.selectors import payment_get_by_reference, payout_balance
from apps.payments.services import payment_refresh
from apps.payments.tests.test_stripe_integration import DECLINES_CHARGES, save_card

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db


def pay_in_browser(fake, intent_id: str) -> None:
    """What Stripe.js does when the buyer enters a card in the Payment Element and pays (localstripe
    takes the card as an update, then the confirmation)."""
    fake.client.v1.payment_intents.update(intent_id, params={"payment_method": "pm_card_visa"})
    fake.client.v1.payment_intents.confirm(intent_id)


@pytest.fixture
def one_click_buyer(fake_stripe):
    buyer, address = buyer_with_address(email="mei@example.com")
    card = save_card(fake_stripe, buyer)
    one_click_settings_update(user=buyer, enabled=True, address=address, card=card)
    return buyer


def _click(client, variant, *, quantity=1):
    page = client.get(reverse("catalog:product", args=[variant.shop.slug, variant.product.slug])).content.decode()
    nonce = page.split('name="nonce" value="')[1].split('"')[0]
    return client.post(reverse("orders:one-click-buy"), {"variant": variant.pk, "quantity": quantity, "nonce": nonce})


def test_one_click_places_the_order_and_charges_the_saved_card(
    client, fake_stripe, one_click_buyer, django_capture_on_commit_callbacks
):
    variant = stocked_variant(price="12.50", units=4, title="Pandan chiffon cake")
    client.force_login(one_click_buyer)
    page = client.get(reverse("catalog:product", args=[variant.shop.slug, variant.product.slug])).content.decode()
    assert "Buy now with 1-Click" in page and "Card ending 4242" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = _click(client, variant, quantity=2)

    checkout = Checkout.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "orders:checkout-done", args=[checkout.number]
    )
    order = checkout.orders.get()
    assert (checkout.channel, checkout.status, order.status, order.total) == (
        "one_click",
        "placed",
        "paid",
        Decimal("25.00"),
    )
    assert order.cancel_until > timezone.now() + timedelta(minutes=25)
    assert payment_get_by_reference(reference=checkout.number).status == Payment.Status.SUCCEEDED
    intent = fake_stripe.payment_intents()[0]
    assert (intent.status, intent.amount) == ("succeeded", 2500)
    assert StockItem.objects.get(variant=variant).on_hand == 2
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("23.00")}  # 25.00 less 8 %
    assert [m.subject for m in mail.outbox] == [
        f"Your order {order.number} from {order.shop.name}",
        f"Your tax invoice {order.documents.get().number} for order {order.number}",  # paid: invoiced after commit
    ]
    done = client.get(response["Location"]).content.decode()
    assert "Cancel this order" in done
    assert_ledger_balanced()


def test_a_double_click_or_a_retried_request_makes_one_order_and_one_charge(client, fake_stripe, one_click_buyer):
    variant = stocked_variant(price="5.00", units=10)
    client.force_login(one_click_buyer)
    page = client.get(reverse("catalog:product", args=[variant.shop.slug, variant.product.slug])).content.decode()
    nonce = page.split('name="nonce" value="')[1].split('"')[0]
    for _ in range(3):  # the same page's button, three times
        client.post(reverse("orders:one-click-buy"), {"variant": variant.pk, "quantity": 1, "nonce": nonce})
    assert Checkout.objects.count() == Order.objects.count() == 1
    assert len(fake_stripe.payment_intents()) == 1
    assert StockItem.objects.get(variant=variant).on_hand == 9

    _click(client, variant)  # a page opened after buying may buy again, deliberately
    assert Order.objects.count() == 2


def test_one_click_needs_defaults(fake_stripe):
    buyer, _address = buyer_with_address()
    variant = stocked_variant()
    with pytest.raises(CheckoutError, match="default address and card"):
        one_click_buy(buyer=buyer, variant=variant, quantity=1, idempotency_key=f"1c-{buyer.pk}-{variant.pk}-0")
    assert not Order.objects.exists()


def test_a_declined_card_sends_the_buyer_to_pay_on_the_page_and_the_hold_expires(client, fake_stripe):
    buyer, address = buyer_with_address()
    card = save_card(fake_stripe, buyer, DECLINES_CHARGES)
    one_click_settings_update(user=buyer, enabled=True, address=address, card=card)
    variant = stocked_variant(units=3)
    client.force_login(buyer)

    response = _click(client, variant)

    checkout = Checkout.objects.get()
    assert response["Location"] == reverse("orders:checkout-pay", args=[checkout.number])
    assert checkout.status == "awaiting_payment" and checkout.orders.get().status == "pending_payment"
    assert StockItem.objects.get(variant=variant).reserved == 1  # held while the buyer finishes
    page = client.get(response["Location"]).content.decode()
    assert "declined" in page.lower() and "data-client-secret" in page
    # The declined attempt is on the order's timeline, and counts as a payment failure for the
    # early warnings (once per checkout, also after the checkout expires).
    attempt = checkout.orders.get().events.get(kind="payment")
    assert attempt.data["outcome"] == "failed" and "declined" in attempt.reason.lower()
    window = {"since": timezone.now() - timedelta(minutes=5), "until": timezone.now() + timedelta(hours=2)}
    assert card_payment_outcomes(**window).failed == 1

    checkouts_expire(now=timezone.now() + timedelta(hours=1))
    checkout.refresh_from_db()
    assert checkout.status == "expired" and checkout.orders.get().status == "payment_failed"
    assert card_payment_outcomes(**window).failed == 1
    assert StockItem.objects.get(variant=variant).reserved == 0
    assert_ledger_balanced()


def test_cancelling_within_the_window_refunds_and_puts_the_stock_back(
    client, fake_stripe, one_click_buyer, django_capture_on_commit_callbacks
):
    variant = stocked_variant(price="12.50", units=4)
    client.force_login(one_click_buyer)
    _click(client, variant)
    checkout = Checkout.objects.get()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:checkout-cancel", args=[checkout.number]), follow=True)

    assert "Your order is cancelled" in response.content.decode()
    checkout.refresh_from_db()
    order = checkout.orders.get()
    assert (checkout.status, order.status, order.amount_refunded) == ("cancelled", "cancelled", Decimal("12.50"))
    payment = payment_get_by_reference(reference=checkout.number)
    assert payment.status == Payment.Status.REFUNDED and payment.amount_refunded == Decimal("12.50")
    assert StockItem.objects.get(variant=variant).on_hand == 4  # returned
    credit_note = order.documents.get(kind="credit_note")  # the refund's credit note, emailed after commit
    assert [m.subject for m in mail.outbox] == [
        f"Your order {order.number} is cancelled",
        f"Credit note {credit_note.number} for your order {order.number}",
    ]
    assert payout_balance(shop=variant.shop) == {"SGD": Decimal("0.00")}
    assert PayoutEntry.objects.filter(shop=variant.shop).count() == 4  # sale, commission, refund, commission back
    # Cancelling again changes nothing; after the window it is refused.
    client.post(reverse("orders:checkout-cancel", args=[checkout.number]))
    assert payment_get_by_reference(reference=checkout.number).amount_refunded == Decimal("12.50")
    assert_ledger_balanced()


def test_the_cancel_window_closes(fake_stripe, one_click_buyer):
    variant = stocked_variant(units=2)
    result = one_click_buy(
        buyer=one_click_buyer, variant=variant, quantity=1, idempotency_key=f"1c-{one_click_buyer.pk}-{variant.pk}-0"
    )
    Order.objects.update(cancel_until=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CheckoutError, match="can no longer be cancelled"):
        checkout_cancel(buyer=one_click_buyer, checkout=result.checkout)
    assert Order.objects.get().status == "paid"


def test_card_checkout_pays_on_the_page_then_the_orders_are_paid(client, fake_stripe):
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    first, second = stocked_variant(price="10.00"), stocked_variant(price="4.50")
    cart_add(cart=cart, variant=first)
    cart_add(cart=cart, variant=second, quantity=2)
    client.force_login(buyer)

    response = client.post(
        reverse("orders:checkout"),
        {"address": address.pk, "payment_method": "card", "expected_total": "19.00", "idempotency_key": "card-1"},
    )
    checkout = Checkout.objects.get()
    assert response["Location"] == reverse("orders:checkout-pay", args=[checkout.number])
    assert set(checkout.orders.values_list("status", flat=True)) == {"pending_payment"}
    page = client.get(response["Location"]).content.decode()
    assert "data-client-secret" in page and "js.stripe.com" in page

    payment = payment_get_by_reference(reference=checkout.number)
    pay_in_browser(fake_stripe, payment.stripe_payment_intent_id)
    back = client.get(reverse("orders:checkout-return", args=[checkout.number]))

    assert back["Location"] == reverse("orders:checkout-done", args=[checkout.number])
    checkout.refresh_from_db()
    assert checkout.status == "placed"
    assert set(checkout.orders.values_list("status", flat=True)) == {"paid"}
    assert StockItem.objects.get(variant=second).on_hand == 8
    assert payout_balance(shop=first.shop) == {"SGD": Decimal("9.20")}
    assert_ledger_balanced()


def test_a_payment_arriving_after_the_hold_expired_takes_the_stock_if_still_there(fake_stripe):
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    variant = stocked_variant(price="10.00", units=1)
    cart_add(cart=cart, variant=variant)
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="card",
        idempotency_key="late-1",
        expected_total=Decimal("10.00"),
    )
    checkouts_expire(now=timezone.now() + timedelta(hours=1))
    payment = payment_get_by_reference(reference=result.checkout.number)
    pay_in_browser(fake_stripe, payment.stripe_payment_intent_id)  # the buyer paid just as the hold ran out

    payment_refresh(payment=payment)

    order = result.checkout.orders.get()
    assert order.status == "paid" and StockItem.objects.get(variant=variant).on_hand == 0
    assert_ledger_balanced()


def test_one_click_settings_page_sets_defaults_and_refuses_another_buyers_card_or_address(client, fake_stripe):
    buyer, address = buyer_with_address()
    card = save_card(fake_stripe, buyer)
    stranger, their_address = buyer_with_address()
    their_card = save_card(fake_stripe, stranger)
    client.force_login(buyer)

    page = client.get(reverse("orders:one-click")).content.decode()
    assert "•••• 4242" in page
    response = client.post(reverse("orders:one-click"), {"enabled": "on", "address": address.pk, "card": card.pk})
    assert response.status_code == 302
    assert (
        client.post(
            reverse("orders:one-click"), {"enabled": "on", "address": address.pk, "card": their_card.pk}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("orders:one-click"), {"enabled": "on", "address": their_address.pk, "card": card.pk}
        ).status_code
        == 404
    )
    from apps.orders.selectors import one_click_settings_get

    config = one_click_settings_get(user=buyer)
    assert (config.address, config.card, config.enabled) == (address, card, True)

"""Emails to a customer are written in the buyer's preferred language, whatever language the page
or the worker that sends them is in (the shop may work in English, the buyer reads Spanish)."""

from decimal import Decimal

import pytest
from django.core import mail
from django.utils import translation

from apps.orders.services import cart_add, cart_get_or_create, checkout_place

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db


def test_the_order_and_invoice_emails_follow_the_buyers_language(django_capture_on_commit_callbacks):
    buyer, address = buyer_with_address(preferred_language="es")
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(price="10.90", units=3), quantity=1)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        order = checkout_place(
            buyer=buyer,
            cart=cart,
            address=address.snapshot(),
            payment_method="pay_on_pickup",
            idempotency_key="lang",
            expected_total=Decimal("10.90"),
        ).checkout.orders.get()
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects[0].startswith("Tu factura fiscal INV-") and subjects[0].endswith(order.number), subjects
    assert subjects[1].startswith(f"Tu pedido {order.number} de "), subjects


def test_a_customer_without_an_account_is_written_to_in_the_sites_language(settings):
    from apps.orders.models import Order

    assert Order(customer_email="walkin@example.com").contact_language == settings.LANGUAGE_CODE

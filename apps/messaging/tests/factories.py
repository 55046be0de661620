"""Helpers for messaging tests: conversations started through the real service, orders placed
through checkout, and small real images."""

from __future__ import annotations

import io
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.accounts.tests.factories import UserFactory
from apps.messaging.models import Conversation, Message, Side
from apps.shops.tests.factories import ShopFactory


class ConversationFactory(factory.django.DjangoModelFactory):
    """A bare conversation row (no messages); prefer ``conversation_with`` for realistic state."""

    class Meta:
        model = Conversation

    shop = factory.SubFactory(ShopFactory)
    buyer = factory.SubFactory(UserFactory)
    subject = Conversation.Subject.SHOP
    subject_key = "shop"
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    sender = factory.SelfAttribute("conversation.buyer")
    side = Side.BUYER
    body = factory.Sequence(lambda n: f"Hello {n}")
    created_at = factory.LazyFunction(timezone.now)


def conversation_with(*, buyer=None, shop=None, body: str = "Hello, is this still available?", **kwargs):
    """A conversation started by ``buyer`` through ``conversation_start`` (one buyer message)."""
    from apps.messaging.services import conversation_start

    return conversation_start(buyer=buyer or UserFactory(), shop=shop or ShopFactory(), body=body, **kwargs)


def image_upload(*, fmt: str = "PNG", name: str = "photo.png", size=(8, 8)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 50, 50)).save(buffer, format=fmt)
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def placed_order(*, shop, buyer=None, key: str = "k"):
    """An order from ``shop`` placed by ``buyer`` through checkout (pay on pickup)."""
    from apps.orders.services import cart_add, cart_get_or_create, checkout_place
    from apps.orders.tests.factories import buyer_with_address, stocked_variant

    if buyer is None:
        buyer, address = buyer_with_address()
    else:
        from apps.accounts.services import address_create

        address = address_create(
            user=buyer, recipient_name="Mei Tan", phone="+65 9123 4567", line1="1 Tiong Bahru Road", postcode="168898"
        )
    cart = cart_get_or_create(user=buyer)
    variant = stocked_variant(shop=shop, price="12.00", units=5)
    cart_add(cart=cart, variant=variant, quantity=1)
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=key,
        expected_total=Decimal("12.00"),
    )
    return result.checkout.orders.get()

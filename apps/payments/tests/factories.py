from decimal import Decimal

import factory

from apps.accounts.tests.factories import UserFactory
from apps.payments.models import Payment, SavedCard


class SavedCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedCard

    user = factory.SubFactory(UserFactory)
    stripe_payment_method_id = factory.Sequence(lambda n: f"pm_test_{n:06d}")
    brand = "visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2030
    is_default = False


class PaymentFactory(factory.django.DjangoModelFactory):
    """A card payment waiting for the buyer, with a PaymentIntent id (no Stripe behind it)."""

    class Meta:
        model = Payment

    reference = factory.Sequence(lambda n: f"CO-{n:06d}")
    buyer = factory.SubFactory(UserFactory)
    method = Payment.Method.CARD
    amount = Decimal("100.00")
    currency = "SGD"
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_test_{n:06d}")
    intent_attempts = 1

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """Card payments through Stripe (PaymentIntents, saved cards, refunds, signed webhooks), pay on
    pickup, the platform's commission and each shop's payout ledger."""

    name = "apps.payments"
    label = "payments"
    verbose_name = _("Payments")

"""Payments: what a buyer pays (by card through Stripe, or on pickup), refunds, saved cards, the
Stripe events we processed, and each shop's payout ledger.

Amounts are ``Decimal`` in the currency's major unit (12.50 SGD, 1200 JPY) next to an ISO currency
code; conversion to Stripe's minor units happens only in ``apps.payments.stripe_gateway``. The only
writers are the services in ``apps.payments.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.shops.models import Shop

AMOUNT = {"max_digits": 14, "decimal_places": 2}


class StripeCustomer(TimeStampedModel):
    """The Stripe Customer that holds a buyer's saved cards (made the first time they save one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.CASCADE, related_name="stripe_customer"
    )
    stripe_customer_id = models.CharField(_("Stripe customer id"), max_length=255, unique=True)

    class Meta:
        verbose_name = _("Stripe customer")
        verbose_name_plural = _("Stripe customers")

    def __str__(self) -> str:
        return self.stripe_customer_id


class SavedCard(TimeStampedModel):
    """A card a buyer saved for later (1-Click) payments. Only what Stripe tells us about it is kept:
    brand, last four digits and expiry; the number itself never reaches our servers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.CASCADE, related_name="saved_cards"
    )
    stripe_payment_method_id = models.CharField(_("Stripe payment method id"), max_length=255, unique=True)
    brand = models.CharField(_("brand"), max_length=32)
    last4 = models.CharField(_("last 4 digits"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"))
    exp_year = models.PositiveSmallIntegerField(_("expiry year"))
    is_default = models.BooleanField(_("default card"), default=False)

    class Meta:
        ordering = ["user", "-is_default", "-created_at", "-pk"]
        verbose_name = _("saved card")
        verbose_name_plural = _("saved cards")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_default=True), name="saved_card_one_default"),
            models.CheckConstraint(condition=Q(exp_month__gte=1, exp_month__lte=12), name="saved_card_exp_month"),
        ]

    def __str__(self) -> str:
        return f"{self.brand.title()} •••• {self.last4} ({self.exp_month:02d}/{self.exp_year % 100:02d})"


class Payment(TimeStampedModel):
    """One payment for one checkout (``reference``: the orders app's checkout number), by card or on
    pickup. ``status`` only moves forward once money has moved: nothing takes a succeeded payment
    back to failed or pending; refunds move it to partially refunded / refunded."""

    class Method(models.TextChoices):
        CARD = "card", _("Card")
        PAY_ON_PICKUP = "pay_on_pickup", _("Pay on pickup")

    class Status(models.TextChoices):
        REQUIRES_PAYMENT = "requires_payment", _("Waiting for payment")
        REQUIRES_ACTION = "requires_action", _("Waiting for the buyer to confirm")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Cancelled")
        COLLECTED = "collected", _("Paid at the counter")
        REFUNDED = "refunded", _("Refunded")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")

    reference = models.CharField(_("reference"), max_length=100, unique=True, help_text=_("The checkout number."))
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="payments",
    )
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    amount = models.DecimalField(_("amount"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUIRES_PAYMENT)
    amount_refunded = models.DecimalField(_("refunded"), default=0, **AMOUNT)
    stripe_payment_intent_id = models.CharField(
        _("Stripe PaymentIntent id"), max_length=255, unique=True, null=True, blank=True
    )
    # How many PaymentIntents were created for this payment (a buyer finishing a declined 1-Click
    # payment on the page may need a fresh one); each creation has its own idempotency key.
    intent_attempts = models.PositiveSmallIntegerField(_("PaymentIntents created"), default=0)
    saved_card = models.ForeignKey(
        SavedCard,
        verbose_name=_("saved card"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="payments",
    )
    off_session = models.BooleanField(_("charged without the buyer present"), default=False)
    last_error = models.TextField(_("last error"), blank=True)
    # When the Stripe state we hold was observed (the event's time); older snapshots are ignored.
    stripe_synced_at = models.DateTimeField(_("Stripe state as of"), null=True, blank=True)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collected by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_reason = models.CharField(_("why it was cancelled"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refunded__lte=F("amount")),
                name="payment_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(method="card") | Q(stripe_payment_intent_id__isnull=True),
                name="payment_intent_only_for_cards",
            ),
        ]
        indexes = [models.Index(fields=["buyer", "created_at"], name="payment_buyer_time")]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} {self.currency} ({self.status})"

    @property
    def amount_left_to_refund(self):
        return self.amount - self.amount_refunded


class Refund(TimeStampedModel):
    """Money given back on a payment: through Stripe for cards, by hand (``manual``) for payments
    collected at the counter. Pending and succeeded refunds count in ``Payment.amount_refunded``."""

    class Kind(models.TextChoices):
        CARD = "card", _("Card (Stripe)")
        MANUAL = "manual", _("By hand (cash or transfer)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        REQUIRES_ACTION = "requires_action", _("Needs action")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Cancelled")

    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=200)
    reference = models.CharField(
        _("reference"), max_length=100, help_text=_("Identifies the refund request, e.g. the credit note number.")
    )
    stripe_refund_id = models.CharField(_("Stripe refund id"), max_length=255, unique=True, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(fields=["payment", "reference"], name="refund_reference_unique_per_payment"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount} {self.currency} ({self.status})"


class StripeEvent(models.Model):
    """A webhook event from Stripe, stored once (unique event id) so a redelivery is not processed
    twice. ``outcome`` says what processing did with it."""

    class Outcome(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")

    stripe_event_id = models.CharField(_("Stripe event id"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100)
    created = models.DateTimeField(_("sent by Stripe at"))
    payload = models.JSONField(_("payload"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id}"


class PayoutEntry(models.Model):
    """One line of a shop's payout ledger, appended, never edited (on PostgreSQL a trigger refuses
    UPDATE and DELETE). What the shop is owed is the sum of its lines per currency.

    Signs: ``sale`` +gross, ``commission`` −platform commission, ``refund`` −amount given back,
    ``commission_refund`` +the commission the platform gives back on that refund, ``loyalty_boost``
    −the points the shop's loyalty boosts gave on the order (when they became the buyer's) or +those
    taken back by a later refund.
    """

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        COMMISSION = "commission", _("Platform commission")
        REFUND = "refund", _("Refund")
        COMMISSION_REFUND = "commission_refund", _("Commission given back")
        LOYALTY_BOOST = "loyalty_boost", _("Loyalty boost")

    # PROTECT: a shop with money in its ledger is not deleted (close it instead).
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(_("order"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Sale and commission lines: "" (one each per order). Refund lines: the refund's own key, so
    # recording the same refund twice writes it once.
    entry_key = models.CharField(_("refund key"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("payout ledger entry")
        verbose_name_plural = _("payout ledger entries")
        constraints = [
            models.UniqueConstraint(fields=["shop", "reference", "kind", "entry_key"], name="payout_entry_once"),
            models.CheckConstraint(
                condition=(
                    Q(kind="sale", amount__gt=0)
                    | Q(kind="commission", amount__lte=0)
                    | Q(kind="refund", amount__lt=0)
                    | Q(kind="commission_refund", amount__gte=0)
                    | (Q(kind="loyalty_boost") & ~Q(amount=0))
                ),
                name="payout_entry_sign_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["shop", "created_at"], name="payout_entry_shop_time")]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_kind_display()} {self.amount} {self.currency}"

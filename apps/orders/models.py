"""Carts, checkouts and orders.

A *cart* belongs to a signed-in buyer or to a guest's session (merged into the account on sign-in)
and may hold items of several shops. Placing it makes one *checkout* (one payment for the whole
cart, in one currency) and one *order* per shop; each order's stock is reserved under the order's
number while the buyer pays and sold when the payment succeeds (at once for pay on pickup).

Order states here are the first part of the order pipeline: the orchestration issue turns them into
a full state machine with events; until then only ``apps.orders.services`` assigns a status.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Variant
from apps.core.models import TimeStampedModel
from apps.shops.models import Shop

MAX_QUANTITY_PER_LINE = 99
MAX_LINES_PER_CART = 100


class Cart(TimeStampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="cart",
    )
    session_key = models.CharField(_("guest session"), max_length=64, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(session_key__isnull=False), name="cart_has_an_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.pk} ({self.user or 'guest'})"


class CartLine(TimeStampedModel):
    """``quantity`` of a variant, with the unit price the buyer saw when adding it (checkout tells
    the buyer when the price has changed since)."""

    cart = models.ForeignKey(Cart, verbose_name=_("cart"), on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, verbose_name=_("variant"), on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price seen"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_one_per_variant"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_QUANTITY_PER_LINE), name="cart_line_quantity_range"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="cart_line_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant_id}"


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    PAY_ON_PICKUP = "pay_on_pickup", _("Pay on pickup")


class Fulfilment(models.TextChoices):
    PICKUP = "pickup", _("Pickup at the shop")


class Channel(models.TextChoices):
    WEB = "web", _("Website")
    ONE_CLICK = "one_click", _("1-Click")


class Checkout(TimeStampedModel):
    """One placing of a cart: one payment (``payments.Payment.reference == number``) for the
    orders it made. ``idempotency_key`` is unique: a double click, a retried request or a second tab
    finds the checkout the first one made instead of making another."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
        PLACED = "placed", _("Placed")
        FAILED = "failed", _("Payment failed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=20, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.PROTECT, related_name="checkouts"
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    payment_method = models.CharField(_("payment"), max_length=16, choices=PaymentMethod.choices)
    currency = models.CharField(_("currency"), max_length=3)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    address = models.JSONField(_("address"), default=dict)
    expires_at = models.DateTimeField(_("pay before"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("checkout")
        verbose_name_plural = _("checkouts")
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="checkout_total_not_negative")]

    def __str__(self) -> str:
        return self.number


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        CONFIRMED = "confirmed", _("Confirmed (pay on pickup)")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    number = models.CharField(_("number"), max_length=20, unique=True)
    checkout = models.ForeignKey(Checkout, verbose_name=_("checkout"), on_delete=models.PROTECT, related_name="orders")
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, default=Channel.WEB)
    fulfilment = models.CharField(_("fulfilment"), max_length=12, choices=Fulfilment.choices)
    payment_method = models.CharField(_("payment"), max_length=16, choices=PaymentMethod.choices)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    address = models.JSONField(_("address"), default=dict)
    placed_at = models.DateTimeField(_("placed"))
    cancel_until = models.DateTimeField(_("can be cancelled until"), null=True, blank=True)
    restocked = models.BooleanField(_("goods back in stock"), default=False)

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["buyer", "-placed_at"], name="order_buyer_time"),
            models.Index(fields=["shop", "status", "-placed_at"], name="order_shop_queue"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0, subtotal__gte=0), name="order_amounts_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refunded__lte=models.F("total")),
                name="order_refund_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """What was bought, as it was when bought (title, options and price are copied)."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        Variant, verbose_name=_("variant"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    title = models.CharField(_("product"), max_length=200)
    options = models.JSONField(_("options"), default=dict, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField(_("quantity"))
    line_total = models.DecimalField(_("line total"), max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(line_total=models.F("unit_price") * models.F("quantity")), name="order_line_total_exact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class OrderRefund(TimeStampedModel):
    """A refund on one order (the payment's Refund covers the money; this ties it to the order)."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refunds_recorded")
    reference = models.CharField(_("reference"), max_length=100, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("order refund")
        verbose_name_plural = _("order refunds")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="order_refund_positive")]

    def __str__(self) -> str:
        return self.reference


class OneClickSettings(TimeStampedModel):
    """A buyer's 1-Click defaults: where to, which saved card, how to receive it. ``nonce`` changes
    after every 1-Click order: product pages put it in the click's idempotency key, so a double
    click, a retried request, a back button or two tabs opened before buying all carry the same key
    and make one order, while a page opened after buying can buy again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.CASCADE, related_name="one_click"
    )
    enabled = models.BooleanField(_("1-Click on"), default=True)
    address = models.ForeignKey(
        "accounts.Address",
        verbose_name=_("address"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    card = models.ForeignKey(
        "payments.SavedCard", verbose_name=_("card"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fulfilment = models.CharField(_("fulfilment"), max_length=12, choices=Fulfilment.choices, default=Fulfilment.PICKUP)
    nonce = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("1-Click settings")
        verbose_name_plural = _("1-Click settings")

    def __str__(self) -> str:
        return f"1-Click of {self.user}"

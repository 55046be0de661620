"""Carts, checkouts and orders.

A *cart* belongs to a signed-in buyer or to a guest's session (merged into the account on sign-in)
and may hold items of several shops. Placing it makes one *checkout* (one payment for the whole
cart, in one currency) and one *order* per shop; each order's stock is reserved under the order's
number while the buyer pays and sold when the payment succeeds (at once for pay on pickup).

Order statuses and the moves between them are data in ``apps.orders.states``; only
``apps.orders.services.order_transition`` changes a status, and each change is an ``OrderEvent``.
Orders also come from outside (API, POS, kiosk, phone desk, batch files): each arrives as an
``OrderIntake`` that the Celery pipeline turns into an order, unique per (shop, channel, external
reference).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Variant
from apps.core.models import TimeStampedModel
from apps.shops.models import Shop

from .states import LineStatus, OrderStatus

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
    DELIVERY = "delivery", _("Delivery")


class Channel(models.TextChoices):
    WEB = "web", _("Website")
    ONE_CLICK = "one_click", _("1-Click")
    API = "api", _("API")
    POS = "pos", _("Point of sale")
    KIOSK = "kiosk", _("Kiosk")
    PHONE = "phone", _("Phone desk")
    BATCH = "batch", _("Batch file")


# Channels whose orders come from outside through the intake pipeline.
EXTERNAL_CHANNELS = (Channel.API, Channel.POS, Channel.KIOSK, Channel.PHONE, Channel.BATCH)


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
    address = models.JSONField(_("address"), default=dict, blank=True)
    expires_at = models.DateTimeField(_("pay before"), null=True, blank=True)
    # Loyalty points the buyer spent on it and what they were worth: the card is charged the rest.
    points_used = models.PositiveIntegerField(_("points used"), default=0)
    points_value = models.DecimalField(_("paid with points"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("checkout")
        verbose_name_plural = _("checkouts")
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="checkout_total_not_negative"),
            models.CheckConstraint(
                condition=Q(points_value__gte=0, points_value__lte=models.F("total")),
                name="checkout_points_within_total",
            ),
        ]

    @property
    def amount_due(self):
        """What the buyer pays in money (the total less the points they used)."""
        return self.total - self.points_value

    def __str__(self) -> str:
        return self.number


class Order(TimeStampedModel):
    Status = OrderStatus

    number = models.CharField(_("number"), max_length=20, unique=True)
    checkout = models.ForeignKey(
        Checkout, verbose_name=_("checkout"), on_delete=models.PROTECT, related_name="orders", null=True, blank=True
    )
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="orders")
    # Null for walk-in and phone customers of external channels (their contact is kept below).
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="orders",
        null=True,
        blank=True,
    )
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    customer_email = models.EmailField(_("customer email"), blank=True)
    customer_phone = models.CharField(_("customer phone"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices)
    status_changed_at = models.DateTimeField(_("status since"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, default=Channel.WEB)
    external_ref = models.CharField(_("external reference"), max_length=100, blank=True, default="")
    fulfilment = models.CharField(_("fulfilment"), max_length=12, choices=Fulfilment.choices)
    payment_method = models.CharField(_("payment"), max_length=16, choices=PaymentMethod.choices)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    # Same-day delivery's fee (``total`` = subtotal − discount + delivery fee).
    delivery_fee = models.DecimalField(_("delivery fee"), max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    # Loyalty points paid part of ``total`` (the platform funds them; the shop is owed the whole
    # total); ``points_returned`` came back to the buyer with refunds or cancellation.
    points_used = models.PositiveIntegerField(_("points used"), default=0)
    points_value = models.DecimalField(_("paid with points"), max_digits=12, decimal_places=2, default=0)
    points_returned = models.PositiveIntegerField(_("points given back"), default=0)
    address = models.JSONField(_("address"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True, default="")
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
            models.Index(fields=["status", "status_changed_at"], name="order_status_since"),
            models.Index(fields=["channel", "-placed_at"], name="order_channel_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0, subtotal__gte=0, discount__gte=0, delivery_fee__gte=0),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refunded__lte=models.F("total")),
                name="order_refund_within_total",
            ),
            models.CheckConstraint(
                condition=Q(
                    points_value__gte=0,
                    points_value__lte=models.F("total"),
                    points_returned__lte=models.F("points_used"),
                ),
                name="order_points_within_total",
            ),
            models.UniqueConstraint(
                fields=["shop", "channel", "external_ref"],
                condition=~Q(external_ref=""),
                name="order_external_ref_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_due(self):
        """What the buyer pays in money (the total less the points they used)."""
        return self.total - self.points_value

    @property
    def contact_email(self) -> str:
        return self.buyer.email if self.buyer_id else self.customer_email

    @property
    def contact_language(self) -> str:
        """The language to write to the customer in: the buyer's preferred language (walk-in and
        phone customers: the site's default)."""
        if self.buyer_id and self.buyer.preferred_language:
            return self.buyer.preferred_language
        return settings.LANGUAGE_CODE

    @property
    def customer_label(self) -> str:
        """Who the order is for, as the shop should address them."""
        recipient = (self.address or {}).get("recipient") or self.customer_name
        if recipient:
            return recipient
        if self.buyer_id:
            return self.buyer.display_name
        return self.customer_email or self.customer_phone


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
    # The catalog's price when the order came in (external channels may charge another price).
    list_price = models.DecimalField(_("catalog price"), max_digits=12, decimal_places=2, null=True, blank=True)
    weight_grams = models.PositiveIntegerField(_("weight of one (g)"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=LineStatus.choices, default=LineStatus.OPEN)
    quantity_refunded = models.PositiveIntegerField(_("quantity refunded"), default=0)
    quantity_returned = models.PositiveIntegerField(_("quantity returned"), default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(line_total=models.F("unit_price") * models.F("quantity")), name="order_line_total_exact"
            ),
            models.CheckConstraint(
                condition=Q(quantity_refunded__lte=models.F("quantity"), quantity_returned__lte=models.F("quantity")),
                name="order_line_refund_within_quantity",
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
    # Spend loyalty points automatically (as many as the order takes) on every 1-Click order.
    use_points = models.BooleanField(_("use my points automatically"), default=False)
    nonce = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("1-Click settings")
        verbose_name_plural = _("1-Click settings")

    def __str__(self) -> str:
        return f"1-Click of {self.user}"


class OrderEvent(models.Model):
    """One entry of an order's timeline: a status change (``to_status`` set) or something else that
    happened (a refund, a document issued, an email, a pipeline step, a warning). Written only by
    services; never changed."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", _("Status change")
        REFUND = "refund", _("Refund")
        DOCUMENT = "document", _("Document")
        EMAIL = "email", _("Email")
        PIPELINE = "pipeline", _("Processing")
        PAYMENT = "payment", _("Payment attempt")
        WARNING = "warning", _("Warning")
        NOTE = "note", _("Note")

    class ActorKind(models.TextChoices):
        SYSTEM = "system", _("System")
        BUYER = "buyer", _("Buyer")
        MEMBER = "member", _("Shop staff")
        API_KEY = "api_key", _("API key")
        STAFF = "staff", _("Platform staff")
        LOGISTICS = "logistics", _("Logistics")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.TRANSITION)
    from_status = models.CharField(_("from"), max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=OrderStatus.choices, blank=True)
    actor_kind = models.CharField(_("actor kind"), max_length=12, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    channel = models.CharField(_("through"), max_length=20, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_timeline")]

    def __str__(self) -> str:
        if self.kind == self.Kind.TRANSITION:
            return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"
        return f"{self.order_id}: {self.kind}"


class OrderFile(TimeStampedModel):
    """A batch file of orders (XML or JSON) uploaded through the API or the back office, kept in the
    storage backend, parsed and processed order by order in Celery. ``report`` lists every order in
    the file with its outcome (accepted, duplicate, rejected with errors)."""

    class Format(models.TextChoices):
        JSON = "json", "JSON"
        XML = "xml", "XML"

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PARSING = "parsing", _("Reading")
        PROCESSED = "processed", _("Read")
        FAILED = "failed", _("Unreadable")

    file = models.FileField(_("file"), upload_to="orders/files/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # Set when a shop's API key uploaded it: every order in it must be that shop's.
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, null=True, blank=True, related_name="order_files"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_by_label = models.CharField(_("uploaded by"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(_("error"), blank=True)
    total = models.PositiveIntegerField(_("orders in the file"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    report = models.JSONField(_("report"), default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order file")
        verbose_name_plural = _("order files")

    def __str__(self) -> str:
        return self.original_name


class OrderIntake(TimeStampedModel):
    """An order that came from outside (API, POS, kiosk, phone desk, batch file), on its way through
    the pipeline: validate → price check → reserve stock → payment → confirm → documents → email.

    Each step is recorded in ``steps_done`` in the same transaction as its effect, so a step run twice
    (a retry, a worker that died) does nothing the second time. A business error (unknown SKU, wrong
    currency…) rejects the intake at once; any other failure is retried with backoff, and after
    ``ORDER_PIPELINE_MAX_ATTEMPTS`` the intake lands in the dead-letter queue with its payload, the
    failed step and the last error, for staff to fix and re-push."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        REJECTED = "rejected", _("Rejected")
        DEAD_LETTER = "dead_letter", _("Dead letter")

    class Step(models.TextChoices):
        VALIDATE = "validate", _("Validate")
        PRICE_CHECK = "price_check", _("Price check")
        RESERVE = "reserve", _("Reserve stock")
        PAYMENT = "payment", _("Payment")
        CONFIRM = "confirm", _("Confirm")
        DOCUMENTS = "documents", _("Documents")
        EMAIL = "email", _("Email")

    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    external_ref = models.CharField(_("external reference"), max_length=100)
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, null=True, blank=True, related_name="order_intakes"
    )
    payload = models.JSONField(_("payload"))
    source_file = models.ForeignKey(
        OrderFile, verbose_name=_("file"), on_delete=models.SET_NULL, null=True, blank=True, related_name="intakes"
    )
    position = models.PositiveIntegerField(_("position in the file"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    step = models.CharField(_("step"), max_length=12, choices=Step.choices, default=Step.VALIDATE)
    steps_done = models.JSONField(_("steps done"), default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    order = models.OneToOneField(
        Order, verbose_name=_("order"), on_delete=models.SET_NULL, null=True, blank=True, related_name="intake"
    )
    submitted_by_label = models.CharField(_("submitted by"), max_length=200, blank=True)
    pushes = models.PositiveSmallIntegerField(_("re-pushes"), default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("incoming order")
        verbose_name_plural = _("incoming orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "channel", "external_ref"], name="order_intake_external_unique"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="order_intake_queue")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.external_ref}"


class OrderWarning(TimeStampedModel):
    """An early warning: a business rule an order (or the platform) broke. Shown in the back office,
    emailed, posted to the warnings webhook and counted in Prometheus."""

    class Kind(models.TextChoices):
        PRICE_DEVIATION = "price_deviation", _("Price out of line with the catalog")
        DISCOUNT = "discount", _("Discount above the limit")
        NOT_ACCEPTED = "not_accepted", _("Not accepted in time")
        NOT_DISPATCHED = "not_dispatched", _("Not dispatched in time")
        PAYMENT_FAILURES = "payment_failures", _("Payment failures above the rate")
        DELIVERY_LATE = "delivery_late", _("Not delivered by the end of its slot")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, null=True, blank=True, related_name="warnings"
    )
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.CASCADE, null=True, blank=True, related_name="order_warnings"
    )
    # One warning per rule and subject (order, or window for platform rules): raising again is a no-op.
    key = models.CharField(_("key"), max_length=120, unique=True)
    message = models.CharField(_("message"), max_length=500)
    data = models.JSONField(_("details"), default=dict, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order warning")
        verbose_name_plural = _("order warnings")
        indexes = [models.Index(fields=["acknowledged_at", "-created_at"], name="order_warning_open")]

    def __str__(self) -> str:
        return self.message


class DocumentSequence(models.Model):
    """The last number used for a kind of document, per shop and year: taken under a row lock in the
    transaction that issues the document, so numbers have no gaps even under concurrency."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "kind", "year"], name="document_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.shop_id}/{self.kind}/{self.year}: {self.last}"


class OrderDocument(TimeStampedModel):
    """A tax document of an order: the tax invoice (receipt) and a credit note per refund, with their
    figures frozen when issued. Numbered without gaps per shop, kind and year."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Tax invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="documents")
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    number = models.CharField(_("number"), max_length=40)
    # The refund a credit note is for (an OrderRefund reference); empty for invoices.
    refund_reference = models.CharField(_("refund"), max_length=100, blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4)
    net = models.DecimalField(_("without tax"), max_digits=12, decimal_places=2)
    tax = models.DecimalField(_("tax"), max_digits=12, decimal_places=2)
    gross = models.DecimalField(_("with tax"), max_digits=12, decimal_places=2)
    data = models.JSONField(_("contents"), default=dict)
    issued_at = models.DateTimeField(_("issued"))
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    class Meta:
        ordering = ["issued_at", "id"]
        verbose_name = _("order document")
        verbose_name_plural = _("order documents")
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind", "year", "sequence"], name="order_document_gapless"),
            models.UniqueConstraint(fields=["order"], condition=Q(kind="invoice"), name="order_document_one_invoice"),
            models.UniqueConstraint(
                fields=["refund_reference"], condition=Q(kind="credit_note"), name="order_document_one_credit_note"
            ),
        ]

    def __str__(self) -> str:
        return self.number

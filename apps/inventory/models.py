"""Stock: where it is kept, how much of each variant, the ledger of every change, and checkout holds.

The ledger's rule: for every :class:`StockItem`, ``on_hand`` is the sum of its movements'
``quantity`` and ``reserved`` the sum of their ``reserved_delta``; ``reserved`` is also the sum of
its active reservations. ``manage.py inventory_check`` verifies all three. The only writers are the
services in ``apps.inventory.services``, which lock the items they change (by primary key, in one
order) and append the movements in the same transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Variant
from apps.core.models import TimeStampedModel
from apps.shops.models import Shop


class StockLocation(TimeStampedModel):
    """A place a shop keeps stock: its store or a warehouse. Each shop has at most one default
    location, which receipts go to when none is named and reservations draw from first."""

    class Kind(models.TextChoices):
        STORE = "store", _("Store")
        WAREHOUSE = "warehouse", _("Warehouse")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="stock_locations")
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.STORE)
    is_default = models.BooleanField(_("default location"), default=False)

    class Meta:
        ordering = ["shop", "-is_default", "name"]
        verbose_name = _("stock location")
        verbose_name_plural = _("stock locations")
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="stock_location_name_unique_per_shop"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_default=True), name="stock_location_one_default_per_shop"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StockItem(TimeStampedModel):
    """The stock of one variant at one location. Available = on hand − reserved (the selectors
    annotate it as ``available``); the database
    refuses any row where on hand or reserved is negative or more is reserved than is on hand.

    ``shop`` repeats ``variant.shop`` (always equal; the services set it) so that every tenant-scoped
    read and lock filters one table.
    """

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="stock_items")
    # RESTRICT: a variant with stock (and so a ledger) cannot be deleted on its own; the seller
    # switches it off instead. Deleting the whole shop still removes both.
    variant = models.ForeignKey(
        Variant, verbose_name=_("variant"), on_delete=models.RESTRICT, related_name="stock_items"
    )
    # RESTRICT: a location with stock cannot be deleted, yet deleting the whole shop still works.
    location = models.ForeignKey(
        StockLocation, verbose_name=_("location"), on_delete=models.RESTRICT, related_name="items"
    )
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    low_stock_threshold = models.PositiveIntegerField(
        _("low-stock threshold"), default=0, help_text=_("Warn when fewer units than this are available (0: never).")
    )
    # Set when a low-stock alert goes out; cleared when available stock is back at the threshold,
    # so each fall below it raises one alert, not one per sale.
    low_stock_alerted_at = models.DateTimeField(_("low-stock alert sent"), null=True, blank=True)

    class Meta:
        ordering = ["shop", "variant", "location"]
        verbose_name = _("stock item")
        verbose_name_plural = _("stock items")
        constraints = [
            models.UniqueConstraint(fields=["variant", "location"], name="stock_item_one_per_variant_and_location"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_item_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_item_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_item_reserved_within_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.variant} @ {self.location}"


class StockMovement(models.Model):
    """One change to one stock item, appended, never edited (on PostgreSQL a trigger refuses any
    UPDATE that changes more than the actor, which user deletion clears).

    ``quantity`` is the change to ``on_hand`` and ``reserved_delta`` the change to ``reserved``;
    ``on_hand_after``/``reserved_after`` are the item's levels right after this movement.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        SALE = "sale", _("Sale")
        RETURN = "return", _("Return")
        ADJUSTMENT = "adjustment", _("Adjustment")
        TRANSFER_IN = "transfer_in", _("Transfer in")
        TRANSFER_OUT = "transfer_out", _("Transfer out")
        SHRINKAGE = "shrinkage", _("Shrinkage or damage")
        RESERVATION = "reservation", _("Reserved for a checkout")
        RELEASE = "release", _("Reservation released")

    # The composite indexes below lead with shop and item: no separate index on either.
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+", db_index=False)
    item = models.ForeignKey(
        StockItem, verbose_name=_("stock item"), on_delete=models.CASCADE, related_name="movements", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    quantity = models.IntegerField(_("change on hand"))
    reserved_delta = models.IntegerField(_("change reserved"), default=0)
    on_hand_after = models.IntegerField(_("on hand after"))
    reserved_after = models.IntegerField(_("reserved after"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True, help_text=_("e.g. an order number"))
    # DO_NOTHING: both rows belong to the same item and go together (the key is checked at commit).
    reservation = models.ForeignKey(
        "Reservation",
        verbose_name=_("reservation"),
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="movements",
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["receipt", "return", "transfer_in"], quantity__gt=0, reserved_delta=0)
                    | Q(kind__in=["transfer_out", "shrinkage"], quantity__lt=0, reserved_delta=0)
                    | (Q(kind="adjustment", reserved_delta=0) & ~Q(quantity=0))
                    | Q(kind="sale", quantity__lt=0, reserved_delta__gte=F("quantity"), reserved_delta__lte=0)
                    | Q(kind="reservation", quantity=0, reserved_delta__gt=0)
                    | Q(kind="release", quantity=0, reserved_delta__lt=0)
                ),
                name="stock_movement_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(on_hand_after__gte=0, reserved_after__gte=0, reserved_after__lte=F("on_hand_after")),
                name="stock_movement_levels_valid",
            ),
        ]
        indexes = [
            # The item's history, and inventory_check's sums read from the index alone (PostgreSQL).
            models.Index(
                fields=["item", "created_at"], include=["quantity", "reserved_delta"], name="stock_movement_item_time"
            ),
            models.Index(fields=["shop", "created_at"], name="stock_movement_shop_time"),
            models.Index(fields=["reference"], condition=~Q(reference=""), name="stock_movement_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d} ({self.item_id})"


class Reservation(TimeStampedModel):
    """Units of one stock item held for a checkout (``reference``) until ``expires_at``.

    Active reservations count in the item's ``reserved``. A reservation ends exactly once: committed
    (the units were sold), released (checkout cancelled or basket changed) or expired.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMMITTED = "committed", _("Sold")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Expired")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(_("checkout reference"), max_length=100)
    variant = models.ForeignKey(Variant, verbose_name=_("variant"), on_delete=models.RESTRICT, related_name="+")
    item = models.ForeignKey(
        StockItem, verbose_name=_("stock item"), on_delete=models.CASCADE, related_name="reservations"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    expires_at = models.DateTimeField(_("expires"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    closed_at = models.DateTimeField(_("ended"), null=True, blank=True)
    close_reason = models.CharField(_("why it ended"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive"),
            models.CheckConstraint(
                condition=(
                    Q(status="active", closed_at__isnull=True) | (~Q(status="active") & Q(closed_at__isnull=False))
                ),
                name="reservation_closed_when_not_active",
            ),
        ]
        indexes = [
            models.Index(fields=["reference", "status"], name="reservation_reference"),
            # The expiry sweep reads only active rows in expiry order.
            models.Index(fields=["expires_at"], condition=Q(status="active"), name="reservation_active_expiry"),
            # What an item holds (inventory_check, the check-out fallback on expired holds).
            models.Index(fields=["item", "expires_at"], condition=Q(status="active"), name="reservation_active_item"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.quantity} × {self.variant_id} ({self.status})"


class InventorySettings(TimeStampedModel):
    """A shop's inventory alert settings: who hears about low stock and anomalies, and where.

    Email goes to the shop's members whose role may adjust stock (and the owner) when
    ``email_alerts`` is on; ``webhook_url`` (optional) receives a Slack-compatible JSON payload.
    """

    shop = models.OneToOneField(
        Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="inventory_settings"
    )
    email_alerts = models.BooleanField(_("email alerts"), default=True)
    webhook_url = models.URLField(
        _("alert webhook URL"),
        max_length=500,
        blank=True,
        help_text=_("Optional. A Slack incoming-webhook (or compatible) URL that receives every alert."),
    )

    class Meta:
        verbose_name = _("inventory settings")
        verbose_name_plural = _("inventory settings")

    def __str__(self) -> str:
        return f"{self.shop}: inventory settings"


class InventoryAlert(TimeStampedModel):
    """One alert raised for a shop (low stock or an anomaly) and how its delivery went.

    Raised once per crossing: a low-stock alert for an item is raised when its available stock
    falls below the threshold and not again until it has climbed back to the threshold.
    """

    class Kind(models.TextChoices):
        LOW_STOCK = "low_stock", _("Low stock")
        ANOMALY = "anomaly", _("Anomaly")

    class Delivery(models.TextChoices):
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not configured")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="inventory_alerts")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    item = models.ForeignKey(
        StockItem, verbose_name=_("stock item"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    anomaly = models.ForeignKey(
        "StockAnomaly", verbose_name=_("anomaly"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    email_status = models.CharField(_("email"), max_length=8, choices=Delivery.choices, default=Delivery.PENDING)
    webhook_status = models.CharField(_("webhook"), max_length=8, choices=Delivery.choices, default=Delivery.PENDING)
    webhook_attempts = models.PositiveSmallIntegerField(_("webhook attempts"), default=0)
    webhook_last_error = models.CharField(_("last webhook error"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("inventory alert")
        verbose_name_plural = _("inventory alerts")
        indexes = [models.Index(fields=["shop", "-created_at"], name="inventory_alert_shop_time")]

    def __str__(self) -> str:
        return self.subject


class StockCountImport(TimeStampedModel):
    """A CSV stock count (``sku,counted`` per line, optional ``location``) processed in Celery:
    every difference from the books becomes an adjustment with reason "stock count"; bad rows are
    reported by line and change nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Counting")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="stock_counts")
    location = models.ForeignKey(
        StockLocation,
        verbose_name=_("default location"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Rows that name no location are counted here."),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    file = models.FileField(_("file"), upload_to="stock-counts/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    adjusted_rows = models.PositiveIntegerField(default=0)
    unchanged_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock count import")
        verbose_name_plural = _("stock count imports")

    def __str__(self) -> str:
        return f"{self.original_name or self.file.name} ({self.get_status_display()})"

    @property
    def reference(self) -> str:
        return f"COUNT-{self.pk}"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status in (self.Status.DONE, self.Status.FAILED) else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class StockAnomaly(TimeStampedModel):
    """A movement (or a group of movements) the detectors found unusual, waiting for a verdict.

    ``score`` is in [0, 1] (higher is stranger); ``reason`` says in words what stands out. A
    seller or staff member confirms or dismisses it; the verdict is kept as a label for evaluation
    and retraining.
    """

    class Detector(models.TextChoices):
        IFOREST = "iforest", _("Isolation Forest")
        DBSCAN = "dbscan", _("DBSCAN cluster")
        BOTH = "both", _("Both detectors")

    class Status(models.TextChoices):
        OPEN = "open", _("To review")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="stock_anomalies")
    detector = models.CharField(_("detector"), max_length=8, choices=Detector.choices)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=4)
    reason = models.CharField(_("reason"), max_length=500)
    # The movement that anchors the anomaly: a movement is flagged at most once per shop.
    movement = models.OneToOneField(
        StockMovement, verbose_name=_("movement"), on_delete=models.CASCADE, related_name="anomaly"
    )
    movements = models.ManyToManyField(
        StockMovement, verbose_name=_("movements involved"), related_name="anomalies_involved", blank=True
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock anomaly")
        verbose_name_plural = _("stock anomalies")
        indexes = [models.Index(fields=["shop", "status", "-created_at"], name="stock_anomaly_queue")]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=1), name="stock_anomaly_score_0_1"),
            models.CheckConstraint(
                condition=Q(status="open", reviewed_at__isnull=True)
                | (~Q(status="open") & Q(reviewed_at__isnull=False)),
                name="stock_anomaly_reviewed_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop}: {self.reason}"

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
    variant = models.ForeignKey(
        Variant, verbose_name=_("variant"), on_delete=models.CASCADE, related_name="stock_items"
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
    variant = models.ForeignKey(Variant, verbose_name=_("variant"), on_delete=models.CASCADE, related_name="+")
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

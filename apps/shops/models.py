"""Shops (the tenants), their photos and opening hours, staff memberships, invitations, API keys."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.core.money import SUPPORTED_CURRENCIES

from .permissions import Role

TIME_ZONE_CHOICES = sorted((tz, tz) for tz in zoneinfo.available_timezones() if "/" in tz)
CURRENCY_CHOICES = [(c, c) for c in SUPPORTED_CURRENCIES]


class Shop(TimeStampedModel):
    class Tenancy(models.TextChoices):
        SHARED = "shared", _("Shared")
        DEDICATED = "dedicated", _("Dedicated")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Open")
        READ_ONLY = "read_only", _("Read-only")
        CLOSED = "closed", _("Closed")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("web address"), max_length=60, unique=True)
    tagline = models.CharField(_("tagline"), max_length=160, blank=True)
    story = models.TextField(_("story"), blank=True, help_text=_("Tell buyers who you are. Markdown is allowed."))
    email = models.EmailField(_("contact email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address_line1 = models.CharField(_("address"), max_length=200)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, default="Singapore")
    postcode = models.CharField(_("postcode"), max_length=12)
    country = models.CharField(_("country"), max_length=2, default="SG")
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="SGD")
    time_zone = models.CharField(_("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, default="Asia/Singapore")
    delivery_radius_km = models.DecimalField(
        _("delivery radius (km)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(0), MaxValueValidator(200)],
    )
    offers_pickup = models.BooleanField(_("pickup in store"), default=True)
    tax_id = models.CharField(
        _("tax registration number"),
        max_length=40,
        blank=True,
        help_text=_("Shown on your tax invoices, e.g. your GST registration number in Singapore."),
    )
    dispatch_hours = models.PositiveSmallIntegerField(
        _("dispatch time (hours)"),
        default=24,
        help_text=_("Orders should be accepted and handed over (or ready for pickup) within this many hours."),
        validators=[MinValueValidator(1), MaxValueValidator(720)],
    )
    tenancy = models.CharField(_("tenancy"), max_length=12, choices=Tenancy.choices, default=Tenancy.SHARED)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["name"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        constraints = [
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="shop_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="shop_longitude_range"),
            models.CheckConstraint(condition=Q(delivery_radius_km__gte=0), name="shop_radius_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "latitude", "longitude"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open_for_business(self) -> bool:
        return self.status == self.Status.ACTIVE


class ShopPhoto(TimeStampedModel):
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(_("photo"), upload_to="shops/photos/%Y/%m/")
    caption = models.CharField(_("caption"), max_length=160, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("shop photo")
        verbose_name_plural = _("shop photos")

    def __str__(self) -> str:
        return self.caption or f"{self.shop} photo {self.pk}"


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.UniqueConstraint(fields=["shop", "weekday", "opens"], name="opening_hours_unique_start"),
            models.CheckConstraint(condition=Q(closes__gt=models.F("opens")), name="opening_hours_closes_after_opens"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Membership(TimeStampedModel):
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="shop_memberships"
    )
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)

    class Meta:
        ordering = ["shop", "role", "user__email"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="membership_one_per_user_and_shop")]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} at {self.shop}"


class Invitation(TimeStampedModel):
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.shop} ({self.role})"


class ApiScope(models.TextChoices):
    CATALOG_READ = "catalog:read", _("Catalog: read")
    CATALOG_WRITE = "catalog:write", _("Catalog: write")
    STOCK = "stock", _("Stock")
    ORDERS = "orders", _("Orders")
    LOGISTICS = "logistics", _("Logistics")
    MESSAGES = "messages", _("Messages")
    LOYALTY = "loyalty", _("Loyalty boosts")


class ApiKey(TimeStampedModel):
    """A shop integration's credential. The secret is shown once; only its SHA-256 is stored."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

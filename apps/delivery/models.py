"""Same-day delivery: zones, slots, bookings, couriers, runs and their stops.

The orders app sits above this one: a booking and a run stop name their order by its number
(``reference``) and keep a copy of what delivery needs (address, coordinates, parcel weight,
contact phone), so this app never imports orders. Times of day (slot start and end, cut-off) are in
the shop's own time zone (``Shop.time_zone``); dates are the shop's local dates.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.shops.models import Shop


class DeliveryZone(TimeStampedModel):
    """Where a shop delivers the same day: within ``radius_km`` of the shop, or (when listed) to these
    postal districts; and what it costs (``fee``, free from ``free_above`` when set)."""

    shop = models.OneToOneField(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="delivery_zone")
    active = models.BooleanField(_("same-day delivery on"), default=True)
    radius_km = models.DecimalField(_("radius (km)"), max_digits=5, decimal_places=2)
    postal_districts = models.JSONField(
        _("postal districts"), default=list, blank=True, help_text=_("Singapore postal districts, e.g. 01, 15.")
    )
    fee = models.DecimalField(_("delivery fee"), max_digits=10, decimal_places=2, default=0)
    free_above = models.DecimalField(
        _("free from an order value of"), max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("delivery zone")
        verbose_name_plural = _("delivery zones")
        constraints = [
            models.CheckConstraint(
                condition=Q(radius_km__gte=0, radius_km__lte=100), name="delivery_zone_radius_range"
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="delivery_zone_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(free_above__isnull=True) | Q(free_above__gte=0),
                name="delivery_zone_free_above_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop}: {self.radius_km} km"


class DeliverySlot(TimeStampedModel):
    """A delivery window on one weekday (0 = Monday), in the shop's time zone, taking at most
    ``capacity`` orders a day, booked until ``cutoff`` on the day itself."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="delivery_slots")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("until"))
    cutoff = models.TimeField(_("order by"))
    capacity = models.PositiveSmallIntegerField(_("orders at most"))
    active = models.BooleanField(_("on"), default=True)

    class Meta:
        ordering = ["shop", "weekday", "starts"]
        verbose_name = _("delivery slot")
        verbose_name_plural = _("delivery slots")
        constraints = [
            models.UniqueConstraint(fields=["shop", "weekday", "starts"], name="delivery_slot_unique_start"),
            models.CheckConstraint(condition=Q(ends__gt=F("starts")), name="delivery_slot_ends_after_start"),
            models.CheckConstraint(condition=Q(cutoff__lte=F("starts")), name="delivery_slot_cutoff_before_start"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="delivery_slot_capacity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class SlotBooking(TimeStampedModel):
    """One order's place in a slot on a date. *held* while its buyer pays (released if the payment
    fails or the hold expires), *confirmed* once the order is paid or confirmed. Counted against the
    slot's capacity while held or confirmed."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        CONFIRMED = "confirmed", _("Confirmed")
        RELEASED = "released", _("Released")

    slot = models.ForeignKey(DeliverySlot, verbose_name=_("slot"), on_delete=models.PROTECT, related_name="bookings")
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("date"))
    reference = models.CharField(_("order"), max_length=40, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    fee = models.DecimalField(_("fee"), max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    # What delivery needs, copied from the order: address (lines, postcode, recipient, phone), point.
    address = models.JSONField(_("address"), default=dict)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    weight_grams = models.PositiveIntegerField(_("parcel weight (g)"), default=0)
    items = models.PositiveIntegerField(_("items"), default=0)
    hold_until = models.DateTimeField(_("held until"), null=True, blank=True)
    released_reason = models.CharField(_("released because"), max_length=200, blank=True)

    class Meta:
        ordering = ["date", "slot", "created_at"]
        verbose_name = _("slot booking")
        verbose_name_plural = _("slot bookings")
        indexes = [models.Index(fields=["slot", "date", "status"], name="slot_booking_load")]

    def __str__(self) -> str:
        return f"{self.reference} @ {self.slot} {self.date}"


class Courier(TimeStampedModel):
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="couriers")
    name = models.CharField(_("name"), max_length=120)
    phone = models.CharField(_("phone"), max_length=32)
    email = models.EmailField(_("email"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["shop", "name"]
        verbose_name = _("courier")
        verbose_name_plural = _("couriers")

    def __str__(self) -> str:
        return self.name


class DeliveryRun(TimeStampedModel):
    """A slot's deliveries on a date, built at its cut-off: stops in route order from the shop,
    carried by one courier."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        STARTED = "started", _("On the road")
        FINISHED = "finished", _("Finished")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="delivery_runs")
    slot = models.ForeignKey(DeliverySlot, verbose_name=_("slot"), on_delete=models.PROTECT, related_name="runs")
    date = models.DateField(_("date"))
    courier = models.ForeignKey(
        Courier, verbose_name=_("courier"), on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    route_km = models.DecimalField(_("route (km)"), max_digits=8, decimal_places=2, default=0)
    built_at = models.DateTimeField(_("built"))
    started_at = models.DateTimeField(_("left"), null=True, blank=True)
    finished_at = models.DateTimeField(_("back"), null=True, blank=True)

    class Meta:
        ordering = ["date", "slot"]
        verbose_name = _("delivery run")
        verbose_name_plural = _("delivery runs")
        constraints = [models.UniqueConstraint(fields=["slot", "date"], name="delivery_run_one_per_slot_day")]

    def __str__(self) -> str:
        return f"{self.shop} {self.date} {self.slot}"


class RunStop(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("To deliver")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    run = models.ForeignKey(DeliveryRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="stops")
    booking = models.OneToOneField(
        SlotBooking, verbose_name=_("booking"), on_delete=models.PROTECT, related_name="stop"
    )
    sequence = models.PositiveSmallIntegerField(_("stop"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    photo = models.ImageField(_("photo"), upload_to="delivery/proof/%Y/%m/", blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        ordering = ["run", "sequence"]
        verbose_name = _("run stop")
        verbose_name_plural = _("run stops")
        constraints = [models.UniqueConstraint(fields=["run", "sequence"], name="run_stop_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.sequence}"


class PlatformLogisticsKey(TimeStampedModel):
    """A delivery partner's key that may call the logistics API for every shop (a shop's own
    ``logistics`` API key covers that shop only). Shown once; only its SHA-256 is kept."""

    name = models.CharField(_("partner"), max_length=120)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("platform logistics key")
        verbose_name_plural = _("platform logistics keys")

    def __str__(self) -> str:
        return self.name

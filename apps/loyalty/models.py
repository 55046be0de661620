"""Loyalty rebates: accounts, their append-only ledger, tiers, per-order earnings and redemptions,
and the boosts shops fund.

The ledger is the truth. Each ``LedgerEntry`` adds or takes points in one of two buckets:

- ``pending``: earned on an order that is not delivered or collected yet (not spendable);
- ``available``: spendable points.

``LoyaltyAccount.balance`` and ``.pending`` are the sums of the two buckets, kept in the same
transaction as every entry under the account's row lock (fast to read, safe under concurrency);
``manage.py loyalty_check`` proves they equal the ledger. On PostgreSQL a trigger refuses UPDATE and
DELETE of entries: a correction is a new entry.

Expiry is first in, first out without per-lot bookkeeping: every credit to the available bucket that
can expire (a *lot*: earned, bonus or a positive adjustment) carries ``expires_at``; every other
available entry consumes points. As every lot lives equally long, the points due to expire at
``t`` are ``max(0, Σ lots expired by t + Σ non-lot entries)`` (see ``services.points_expire``).
Points given back (a redemption returned on a cancelled order) are a non-lot entry: they undo the
consumption, so they keep the expiry they had.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.catalog.models import Product
from apps.core.models import TimeStampedModel
from apps.shops.models import Shop


class Tier(models.Model):
    """A loyalty tier: reached by spending ``min_spend`` points' worth of money in 12 months, it
    earns ``rate`` of what is paid back as points. Editable in the admin; the one with
    ``min_spend`` 0 is where every buyer starts."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=40)
    min_spend = models.PositiveIntegerField(
        _("12-month spend to reach it (points' worth)"),
        unique=True,
        help_text=_("In points' worth of money: at one point per US cent, 50000 is about USD 500."),
    )
    rate = models.DecimalField(
        _("rebate rate"), max_digits=5, decimal_places=4, help_text=_("0.0200 gives back 2 percent of what is paid.")
    )

    class Meta:
        ordering = ["min_spend"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte="0.2500"), name="loyalty_tier_rate_range"),
        ]

    def __str__(self) -> str:
        return self.name


class LoyaltyAccount(TimeStampedModel):
    """A buyer's points: made the first time they earn, redeem or look."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.CASCADE, related_name="loyalty_account"
    )
    tier = models.ForeignKey(Tier, verbose_name=_("tier"), on_delete=models.PROTECT, related_name="accounts")
    tier_since = models.DateTimeField(_("in this tier since"), null=True, blank=True)
    # Sums of the ledger's buckets (see the module's docstring).
    balance = models.IntegerField(_("available points"), default=0)
    pending = models.IntegerField(_("pending points"), default=0)
    # Money spent in the last 12 months in points' worth, as the last tier review counted it.
    spend_12m = models.PositiveBigIntegerField(_("12-month spend (points' worth)"), default=0)
    tier_reviewed_at = models.DateTimeField(_("tier reviewed"), null=True, blank=True)
    # The latest expiry date the buyer has been warned about (one warning per lot).
    expiry_notified_until = models.DateTimeField(_("warned of expiry up to"), null=True, blank=True)
    # The currency of the buyer's last earning: the page shows what points are worth in it.
    currency = models.CharField(_("currency"), max_length=3, default="SGD")

    class Meta:
        verbose_name = _("loyalty account")
        verbose_name_plural = _("loyalty accounts")
        constraints = [models.CheckConstraint(condition=Q(pending__gte=0), name="loyalty_pending_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} ({self.balance})"


class LedgerEntry(models.Model):
    """One entry of an account's ledger, appended and never changed."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        REVERSE = "reverse", _("Reversed")
        ADJUST = "adjust", _("Adjustment")
        BONUS = "bonus", _("Bonus")

    class Bucket(models.TextChoices):
        PENDING = "pending", pgettext_lazy("points", "Pending")
        AVAILABLE = "available", pgettext_lazy("points", "Available")

    account = models.ForeignKey(
        LoyaltyAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    bucket = models.CharField(_("bucket"), max_length=10, choices=Bucket.choices)
    points = models.IntegerField(_("points"))
    # The order number the entry is for (empty for adjustments and expiry).
    reference = models.CharField(_("reference"), max_length=40, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=300)
    # Set on lots (credits to the available bucket that can expire): when they do.
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="loyalty_entry_statement"),
            models.Index(fields=["account", "bucket", "expires_at"], name="loyalty_entry_lots"),
            models.Index(fields=["reference"], name="loyalty_entry_reference"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="loyalty_entry_not_zero"),
            models.CheckConstraint(
                condition=~Q(kind__in=["redeem", "expire"]) | Q(points__lt=0, bucket="available"),
                name="loyalty_entry_spend_from_available",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(bucket="available", points__gt=0),
                name="loyalty_entry_lot_is_available_credit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.points:+d}"


class Earning(TimeStampedModel):
    """What an order earns: worked out when it is paid (or confirmed, to be paid on pickup), pending
    until it is delivered or collected, reduced by refunds and reversed by cancellation.

    ``paid`` is the money the buyer paid (points they redeemed do not earn); ``refunded`` the money
    given back so far. Points are ``base`` (the tier's rate), ``boost`` (shop-funded) and ``bonus``
    (first purchase); ``*_reversed`` what refunds and cancellation took back."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("points", "Pending")
        AVAILABLE = "available", pgettext_lazy("points", "Available")
        REVERSED = "reversed", _("Reversed")

    account = models.ForeignKey(
        LoyaltyAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="earnings"
    )
    reference = models.CharField(_("order"), max_length=40, unique=True)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(_("currency"), max_length=3)
    paid = models.DecimalField(_("paid"), max_digits=12, decimal_places=2)
    refunded = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    tier = models.ForeignKey(Tier, verbose_name=_("tier"), on_delete=models.PROTECT, related_name="+")
    rate = models.DecimalField(_("rebate rate"), max_digits=5, decimal_places=4)
    base_points = models.PositiveIntegerField(_("points"))
    boost_points = models.PositiveIntegerField(_("boost points"), default=0)
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0)
    points_reversed = models.PositiveIntegerField(_("points reversed"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    placed_at = models.DateTimeField(_("order placed"))
    available_at = models.DateTimeField(_("available since"), null=True, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("earning")
        verbose_name_plural = _("earnings")
        indexes = [models.Index(fields=["account", "placed_at"], name="loyalty_earning_spend")]
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded__gte=0, refunded__lte=models.F("paid")), name="loyalty_earning_refund_range"
            ),
            models.CheckConstraint(
                condition=Q(
                    points_reversed__lte=models.F("base_points") + models.F("boost_points") + models.F("bonus_points")
                ),
                name="loyalty_earning_reversed_range",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def points(self) -> int:
        """Points this order still earns."""
        return self.base_points + self.boost_points + self.bonus_points - self.points_reversed


class Redemption(TimeStampedModel):
    """Points a buyer spent on one order (``reference``: its number; ``checkout``: the checkout that
    placed it), worth ``value`` in the order's currency; ``points_returned`` came back (refunds,
    cancellation, a checkout not paid in time)."""

    account = models.ForeignKey(
        LoyaltyAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="redemptions"
    )
    reference = models.CharField(_("order"), max_length=40, unique=True)
    checkout = models.CharField(_("checkout"), max_length=40, db_index=True)
    currency = models.CharField(_("currency"), max_length=3)
    points = models.PositiveIntegerField(_("points"))
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2)
    points_returned = models.PositiveIntegerField(_("points given back"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0, points_returned__lte=models.F("points")), name="loyalty_redemption_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.points}"


class Boost(TimeStampedModel):
    """A shop pays for extra points on one of its products: ``extra_rate`` of what the buyer paid for
    it, on orders placed between ``starts_at`` and ``ends_at`` (open-ended when empty). The shop
    funds the points its boosts award (``BoostAward``)."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="loyalty_boosts")
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="loyalty_boosts"
    )
    extra_rate = models.DecimalField(
        _("extra rebate"), max_digits=5, decimal_places=4, help_text=_("0.0500 gives 5% more of the price back.")
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True)
    active = models.BooleanField(_("on"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("boost")
        verbose_name_plural = _("boosts")
        indexes = [models.Index(fields=["product", "active", "starts_at"], name="loyalty_boost_live")]
        constraints = [
            models.CheckConstraint(
                condition=Q(extra_rate__gt=0, extra_rate__lte="0.2000"), name="loyalty_boost_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="loyalty_boost_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} +{self.extra_rate:.2%}"


class BoostAward(models.Model):
    """The points one boost added to one order's earning (what the shop funds for it)."""

    boost = models.ForeignKey(Boost, verbose_name=_("boost"), on_delete=models.PROTECT, related_name="awards")
    earning = models.ForeignKey(
        Earning, verbose_name=_("earning"), on_delete=models.CASCADE, related_name="boost_awards"
    )
    points = models.PositiveIntegerField(_("points"))
    points_reversed = models.PositiveIntegerField(_("points reversed"), default=0)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("boost award")
        verbose_name_plural = _("boost awards")
        constraints = [
            models.UniqueConstraint(fields=["boost", "earning"], name="loyalty_boost_award_once"),
            models.CheckConstraint(
                condition=Q(points_reversed__lte=models.F("points")), name="loyalty_boost_award_reversed_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.boost_id}/{self.earning_id}: {self.points}"


class TierChange(models.Model):
    """An account moved tier (the nightly review), with the 12-month spend that moved it."""

    account = models.ForeignKey(
        LoyaltyAccount, verbose_name=_("account"), on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.ForeignKey(Tier, verbose_name=_("from"), on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    spend_12m = models.PositiveBigIntegerField(_("12-month spend (points' worth)"))
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")

    def __str__(self) -> str:
        return f"{self.account_id}: {self.from_tier_id} → {self.to_tier_id}"

"""Loyalty API: outputs of the buyer's account and statement, and of the shop's boosts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.api.serializers import MoneyOutputSerializer
from apps.loyalty.models import Boost, BoostAward, Earning, LedgerEntry, Tier
from apps.loyalty.selectors import boost_funded_value

# Named LoyaltyEntryKindEnum / LoyaltyEntryBucketEnum / LoyaltyPointsStatusEnum in the schema
# (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ENTRY_KIND_CHOICES = LedgerEntry.Kind.choices
ENTRY_BUCKET_CHOICES = LedgerEntry.Bucket.choices
POINTS_STATUS_CHOICES = Earning.Status.choices


def _money(value) -> dict[str, str] | None:
    return None if value is None else value.to_json()


class LoyaltyTierOutputSerializer(serializers.ModelSerializer):
    rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, help_text='The rebate rate as a fraction: "0.0200" gives 2% back as points.'
    )
    min_spend = serializers.IntegerField(help_text="12-month spend to reach the tier, in points' worth of money.")

    class Meta:
        model = Tier
        fields = ["code", "name", "rate", "min_spend"]
        read_only_fields = fields


class LoyaltyAccountOutputSerializer(serializers.Serializer):
    """The signed-in buyer's points (``selectors.loyalty_summary``)."""

    balance = serializers.IntegerField(help_text="Points available to spend.")
    pending = serializers.IntegerField(help_text="Points earned on orders not delivered or collected yet.")
    currency = serializers.CharField(help_text="The currency the money values are in (the buyer's last order's).")
    balance_value = serializers.SerializerMethodField(help_text="What the available points are worth.")
    pending_value = serializers.SerializerMethodField(help_text="What the pending points will be worth.")
    tier = LoyaltyTierOutputSerializer()
    next_tier = LoyaltyTierOutputSerializer(allow_null=True, help_text="The next tier up; null in the highest.")
    spend_12m = serializers.IntegerField(help_text="12-month spend as last reviewed, in points' worth of money.")
    to_next_tier = serializers.SerializerMethodField(
        help_text="Money still to spend in 12 months to reach the next tier; null in the highest."
    )
    progress_percent = serializers.IntegerField(help_text="The way to the next tier, 0–100.")
    expiring_points = serializers.IntegerField(help_text="Points that expire within the notice period.")
    expiring_at = serializers.DateTimeField(
        source="expiring_by", allow_null=True, help_text="When the first of them expire; null when none do soon."
    )

    @extend_schema_field(MoneyOutputSerializer)
    def get_balance_value(self, summary) -> dict:
        return _money(summary.balance_value)

    @extend_schema_field(MoneyOutputSerializer)
    def get_pending_value(self, summary) -> dict:
        return _money(summary.pending_value)

    @extend_schema_field(MoneyOutputSerializer(allow_null=True))
    def get_to_next_tier(self, summary) -> dict | None:
        return _money(summary.to_next)


class LedgerEntryOutputSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ENTRY_KIND_CHOICES, help_text="What happened.")
    bucket = serializers.ChoiceField(
        choices=ENTRY_BUCKET_CHOICES, help_text="`available` (spendable) or `pending` (not spendable yet)."
    )
    points = serializers.IntegerField(help_text="Points added (positive) or taken (negative).")
    reference = serializers.CharField(help_text="The order number, empty for adjustments and expiry.")
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="For points added to the balance that expire: when they do."
    )

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "bucket", "points", "reference", "reason", "created_at", "expires_at"]
        read_only_fields = fields


class BoostProductOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class BoostOutputSerializer(serializers.ModelSerializer):
    """A boost of the shop (``selectors.boosts_for_shop``), with what it funded."""

    product = BoostProductOutputSerializer()
    extra_rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, help_text='Extra rebate as a fraction: "0.0500" gives 5% more back as points.'
    )
    ends_at = serializers.DateTimeField(allow_null=True, help_text="Null: runs until switched off.")
    active = serializers.BooleanField(help_text="False once switched off.")
    orders = serializers.IntegerField(help_text="Orders it boosted.")
    points_awarded = serializers.IntegerField(
        source="awarded", help_text="Points its orders still carry (refunds take theirs back): what the shop funds."
    )
    cost = serializers.SerializerMethodField(help_text="What those points cost the shop, in its currency.")

    class Meta:
        model = Boost
        fields = [
            "id",
            "product",
            "extra_rate",
            "starts_at",
            "ends_at",
            "active",
            "orders",
            "points_awarded",
            "cost",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneyOutputSerializer)
    def get_cost(self, boost) -> dict:
        return boost_funded_value(points=boost.awarded, currency=self.context["currency"]).to_json()


class BoostAwardOutputSerializer(serializers.ModelSerializer):
    """The points one boost added to one order."""

    order = serializers.CharField(source="earning.reference", help_text="The order's number.")
    placed_at = serializers.DateTimeField(source="earning.placed_at", help_text="When the order was placed.")
    points = serializers.IntegerField(help_text="Points the boost added to the order.")
    points_reversed = serializers.IntegerField(help_text="Of those, points taken back by refunds or cancellation.")
    points_status = serializers.ChoiceField(
        source="earning.status",
        choices=POINTS_STATUS_CHOICES,
        help_text="`pending` until the order is delivered or collected, then `available`; `reversed` when cancelled.",
    )

    class Meta:
        model = BoostAward
        fields = ["id", "order", "placed_at", "points", "points_reversed", "points_status", "created_at"]
        read_only_fields = fields

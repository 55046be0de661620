"""Stock API serializers: list filters, receipt and adjustment inputs, level and movement outputs.

Inputs name the variant by ``sku`` or ``variant_id`` (exactly one) and the location by id; both must
belong to the URL's shop (``context["shop"]``), else a 400 naming the field that says the same for
an unknown id as for another shop's, so nothing about other shops leaks. Quantities are whole
numbers within the services' limit (``MAX_UNITS_PER_CHANGE``) so typos never reach the ledger.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import Variant
from apps.inventory.models import StockItem, StockLocation, StockMovement
from apps.inventory.selectors import stock_location_get_for_shop, stock_variant_find_for_shop
from apps.inventory.services import MAX_UNITS_PER_CHANGE, REASON_MAX_LENGTH, REFERENCE_MAX_LENGTH
from apps.shops.api.serializers import StrictInputSerializer

MAX_ID = 2**63 - 1  # BigAutoField: a larger id is a typo, refused before it reaches the database
SKU_MAX_LENGTH = Variant._meta.get_field("sku").max_length
KIND_VALUES = list(StockMovement.Kind.values)
MAX_KINDS = len(KIND_VALUES)
# Filter dates beyond these are typos, and a day after 9999-12-31 cannot even be computed.
MIN_FILTER_YEAR, MAX_FILTER_YEAR = 1900, 9998


def _variant_name(variant: Variant) -> str:
    """The variant's options as buyers see them (``"M, Indigo"``); empty for a single-variant product."""
    return ", ".join(str(value) for value in (variant.options or {}).values())


def _id_field(help_text: str, **kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=help_text, **kwargs)


def _units_field(*, min_value: int, help_text: str, too_many: str, **kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=min_value,
        max_value=MAX_UNITS_PER_CHANGE,
        help_text=help_text,
        error_messages={"invalid": "Send a whole number of units, e.g. 12.", "max_value": too_many},
        **kwargs,
    )


# --- outputs -----------------------------------------------------------------------------------


class LocationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = StockLocation
        fields = ["id", "name"]
        read_only_fields = fields


class StockLevelOutputSerializer(serializers.ModelSerializer):
    """One variant at one location. ``available`` = ``on_hand`` − ``reserved`` (held for checkouts)."""

    sku = serializers.CharField(source="variant.sku")
    product_id = serializers.IntegerField(source="variant.product_id")
    product_title = serializers.CharField(source="variant.product.title")
    variant_name = serializers.SerializerMethodField(help_text='The variant\'s options, e.g. "M, Indigo".')
    location = LocationRefSerializer()
    available = serializers.IntegerField(help_text="On hand minus reserved: what can still be sold.")
    is_low = serializers.SerializerMethodField(help_text="Available is below the (non-zero) low-stock threshold.")

    class Meta:
        model = StockItem
        fields = [
            "id",
            "variant_id",
            "sku",
            "product_id",
            "product_title",
            "variant_name",
            "location",
            "on_hand",
            "reserved",
            "available",
            "low_stock_threshold",
            "is_low",
            "updated_at",
        ]
        read_only_fields = fields

    def get_variant_name(self, item: StockItem) -> str:
        return _variant_name(item.variant)

    def get_is_low(self, item: StockItem) -> bool:
        return item.low_stock_threshold > 0 and item.available < item.low_stock_threshold


class StockMovementOutputSerializer(serializers.ModelSerializer):
    """One line of the ledger: ``quantity`` changed on hand, ``reserved_delta`` changed reserved."""

    variant_id = serializers.IntegerField(source="item.variant_id")
    sku = serializers.CharField(source="item.variant.sku")
    product_title = serializers.CharField(source="item.variant.product.title")
    variant_name = serializers.SerializerMethodField()
    location = LocationRefSerializer(source="item.location")
    actor = serializers.SerializerMethodField(
        help_text="The shop member who made the change; null for API keys, checkouts and the system."
    )

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "kind",
            "quantity",
            "reserved_delta",
            "on_hand_after",
            "reserved_after",
            "item_id",
            "variant_id",
            "sku",
            "product_title",
            "variant_name",
            "location",
            "reason",
            "reference",
            "actor",
            "created_at",
        ]
        read_only_fields = fields

    def get_variant_name(self, movement: StockMovement) -> str:
        return _variant_name(movement.item.variant)

    def get_actor(self, movement: StockMovement) -> str | None:
        return movement.actor.display_name if movement.actor is not None else None


class StockChangeOutputSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False when a count matched the books: nothing was recorded.")
    movement = StockMovementOutputSerializer(allow_null=True, help_text="The movement recorded (null if none).")
    level = StockLevelOutputSerializer(
        allow_null=True, help_text="The stock item's level now (null when the variant was never stocked there)."
    )


# --- filters -----------------------------------------------------------------------------------


class StockLevelFilterSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, max_length=SKU_MAX_LENGTH, help_text="Only this SKU (exact).")
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Words of the product title, or part of the SKU."
    )
    location = _id_field("Only this stock location (its id).", required=False)
    low = serializers.BooleanField(
        required=False, default=False, help_text="Only items whose available stock is below their threshold."
    )


@extend_schema_field(
    {
        "type": "string",
        "description": "An ISO 8601 date (`2025-03-01`) or date-time (`2025-03-01T09:30:00+08:00`).",
        "example": "2025-03-01",
    }
)
class DateOrDateTimeField(serializers.Field):
    """An ISO 8601 date (kept a ``date``) or date-time (a ``datetime``, naive when it has no offset)."""

    default_error_messages = {
        "invalid": (
            "Enter an ISO 8601 date (2025-03-01) or date-time (2025-03-01T09:30:00+08:00); in a query string "
            "send the “+” of an offset as %2B."
        ),
        "out_of_range": f"Enter a date between the years {MIN_FILTER_YEAR} and {MAX_FILTER_YEAR}.",
    }

    def to_internal_value(self, data) -> date | datetime:
        text = str(data).strip()
        try:
            # The date first: Python reads a bare date as a date-time at midnight too.
            parsed = parse_date(text) or parse_datetime(text)
        except ValueError:  # well formed but impossible, e.g. 2025-02-30
            parsed = None
        if parsed is None:
            self.fail("invalid")
        if not MIN_FILTER_YEAR <= parsed.year <= MAX_FILTER_YEAR:
            self.fail("out_of_range")
        return parsed

    def to_representation(self, value):
        return value.isoformat()


def _moment(value: date | datetime, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    """A filter bound as an aware date-time: a date is its day's start in the shop's time zone (the
    next day's start for an inclusive ``until``); a date-time without an offset is shop time."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, zone)
    day = value + timedelta(days=1) if end_of_day else value
    return timezone.make_aware(datetime.combine(day, time.min), zone)


@extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=StockMovement.Kind.choices)))
class MovementKindsField(serializers.ListField):
    """Movement kinds, repeated (``kind=sale&kind=return``) or comma-separated (``kind=sale,return``)."""

    child = serializers.CharField(max_length=200, allow_blank=True)

    def to_internal_value(self, data) -> list[str]:
        kinds = list(dict.fromkeys(k.strip() for value in super().to_internal_value(data) for k in value.split(",")))
        kinds = [k for k in kinds if k]
        unknown = [k for k in kinds if k not in KIND_VALUES]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown movement kind {', '.join(repr(k) for k in unknown)}. Valid kinds: {', '.join(KIND_VALUES)}."
            )
        return kinds


class StockMovementFilterSerializer(serializers.Serializer):
    """``context["shop"]`` gives the time zone that dates are read in."""

    since = DateOrDateTimeField(required=False, help_text="From this moment (a date: from the day's start, shop time).")
    until = DateOrDateTimeField(
        required=False, help_text="Before this moment (a date: up to and including that day, shop time)."
    )
    kind = MovementKindsField(
        required=False,
        max_length=MAX_KINDS,
        help_text=f"Only these kinds (repeat the parameter or separate by commas): {', '.join(KIND_VALUES)}.",
    )
    variant = _id_field("Only this variant (its id).", required=False)
    sku = serializers.CharField(required=False, max_length=SKU_MAX_LENGTH, help_text="Only this SKU (exact).")
    location = _id_field("Only this stock location (its id).", required=False)

    def validate(self, attrs):
        zone = ZoneInfo(str(self.context["shop"].time_zone))
        if "since" in attrs:
            attrs["since"] = _moment(attrs["since"], zone, end_of_day=False)
        if "until" in attrs:
            attrs["until"] = _moment(attrs["until"], zone, end_of_day=True)
        if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "Must be after since."})
        if not attrs.get("kind"):
            attrs.pop("kind", None)  # no kind given (or only commas): every kind
        return attrs


# --- inputs ------------------------------------------------------------------------------------


class _StockChangeInputSerializer(StrictInputSerializer):
    """The variant (``sku`` or ``variant_id``) and the location of a change, resolved in the shop:
    ``validated_data`` gains ``variant`` and keeps ``location`` as a :class:`StockLocation` or None."""

    sku = serializers.CharField(required=False, max_length=SKU_MAX_LENGTH, help_text="The variant's SKU.")
    variant_id = _id_field("The variant's id (instead of `sku`).", required=False)
    location = _id_field(
        "A stock location id of the shop; omitted or null: the shop's default location.",
        required=False,
        allow_null=True,
    )
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=REFERENCE_MAX_LENGTH,
        help_text="Your own reference, e.g. a delivery note or purchase order number.",
    )

    def validate_location(self, value: int | None) -> StockLocation | None:
        if value is None:
            return None
        try:
            return stock_location_get_for_shop(shop=self.context["shop"], location_id=value)
        except Http404 as exc:
            raise serializers.ValidationError(f"This shop has no stock location {value}.") from exc

    def validate(self, attrs):
        sku, variant_id = attrs.pop("sku", None), attrs.pop("variant_id", None)
        if sku is None and variant_id is None:
            raise serializers.ValidationError({"sku": "Name the variant: give its sku (or its variant_id)."})
        if sku is not None and variant_id is not None:
            raise serializers.ValidationError({"variant_id": "Give the variant's sku or its variant_id, not both."})
        variant = stock_variant_find_for_shop(shop=self.context["shop"], variant_id=variant_id, sku=sku or "")
        if variant is None:
            if sku is not None:
                raise serializers.ValidationError({"sku": f"This shop has no variant with SKU “{sku}”."})
            raise serializers.ValidationError({"variant_id": f"This shop has no variant {variant_id}."})
        attrs["variant"] = variant
        return attrs


class StockReceiptInputSerializer(_StockChangeInputSerializer):
    quantity = _units_field(
        min_value=1,
        help_text="Units delivered: a whole number, at least 1.",
        too_many=(
            f"More than {MAX_UNITS_PER_CHANGE:,} units in one receipt: check the number, or split it into "
            "several receipts."
        ),
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, help_text='e.g. "supplier delivery".'
    )


class StockAdjustmentInputSerializer(_StockChangeInputSerializer):
    counted = _units_field(
        min_value=0,
        required=False,
        help_text="Units counted on the shelf (sets on hand).",
        too_many=f"More than {MAX_UNITS_PER_CHANGE:,} units counted: check the number.",
    )
    delta = serializers.IntegerField(
        required=False,
        min_value=-MAX_UNITS_PER_CHANGE,
        max_value=MAX_UNITS_PER_CHANGE,
        help_text="Units to add (positive) or take away (negative), instead of `counted`.",
        error_messages={
            "invalid": "Send a whole number of units, e.g. -2.",
            "min_value": f"More than {MAX_UNITS_PER_CHANGE:,} units in one change: check the number.",
            "max_value": f"More than {MAX_UNITS_PER_CHANGE:,} units in one change: check the number.",
        },
    )
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text='Why the stock changes, e.g. "stock count" or "damaged in transit".',
        error_messages={
            "required": "Give a reason, e.g. “stock count” or “damaged in transit”.",
            "blank": "Give a reason, e.g. “stock count” or “damaged in transit”.",
        },
    )

    def validate_delta(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError(
                "A change of 0 units changes nothing: send a positive or negative number."
            )
        return value

    def validate(self, attrs):
        if ("counted" in attrs) == ("delta" in attrs):
            raise serializers.ValidationError(
                {"counted": "Give either counted (what is on the shelf) or delta (the change), not both."}
            )
        return super().validate(attrs)

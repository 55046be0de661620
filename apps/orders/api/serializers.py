"""Orders API serializers: the incoming-order payload (documented; ``intake_validate`` checks it),
intake and order outputs, the order list filters and the transition input."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.orders.models import (
    EXTERNAL_CHANNELS,
    Channel,
    Fulfilment,
    Order,
    OrderEvent,
    OrderFile,
    OrderIntake,
    OrderLine,
)
from apps.orders.services_intake import MAX_LINES, MAX_QUANTITY
from apps.orders.states import OrderStatus
from apps.shops.api.serializers import StrictInputSerializer

STATUS_VALUES = list(OrderStatus.values)
INTAKE_CHANNEL_CHOICES = [c for c in Channel.choices if c[0] in EXTERNAL_CHANNELS]
INTAKE_STATUS_CHOICES = OrderIntake.Status.choices
ORDER_FILE_STATUS_CHOICES = OrderFile.Status.choices
INTAKE_FULFILMENT_CHOICES = [c for c in Fulfilment.choices if c[0] == Fulfilment.PICKUP]


# --- the incoming order (documentation of the payload) -----------------------------------------------


class CustomerInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False, max_length=32)


class OrderLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="The item's SKU in the shop; it must be on sale.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = serializers.CharField(
        help_text='The price charged for one, a decimal string in the shop\'s currency (e.g. "12.50"), never a float.'
    )


class OrderIntakeInputSerializer(serializers.Serializer):
    """One incoming order. Every problem is reported at once in the 422 problem's ``errors``
    (``{"field": "lines[1].sku", "message": …}``)."""

    shop = serializers.SlugField(
        required=False, help_text="The shop's slug; omit it (or send your key's shop) with an API key."
    )
    channel = serializers.ChoiceField(choices=INTAKE_CHANNEL_CHOICES, required=False, default=Channel.API)
    external_ref = serializers.CharField(
        max_length=100, help_text="Your reference: unique per shop and channel (a re-sent order is a duplicate)."
    )
    currency = serializers.CharField(max_length=3, help_text="Must be the shop's currency.")
    customer = CustomerInputSerializer(required=False)
    fulfilment = serializers.ChoiceField(choices=INTAKE_FULFILMENT_CHOICES, required=False, default="pickup")
    payment = serializers.ChoiceField(
        choices=["paid", "pay_on_pickup"], help_text="`paid`: the till took the money; `pay_on_pickup`: paid later."
    )
    discount = serializers.CharField(
        required=False, help_text='A decimal string, at most the items\' total, e.g. "2.00".'
    )
    placed_at = serializers.DateTimeField(required=False, help_text="When the order was taken (default: now).")
    note = serializers.CharField(required=False, max_length=500)
    lines = OrderLineInputSerializer(many=True, min_length=1, max_length=MAX_LINES)


# --- outputs ----------------------------------------------------------------------------------------------


class IntakeOutputSerializer(serializers.ModelSerializer):
    """An incoming order on its way through the pipeline."""

    shop = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    order = serializers.SlugRelatedField(
        slug_field="number", read_only=True, help_text="The order's number once the pipeline made it."
    )
    duplicate = serializers.SerializerMethodField(help_text="True when this order had been sent before.")

    class Meta:
        model = OrderIntake
        fields = [
            "id",
            "status",
            "step",
            "steps_done",
            "channel",
            "external_ref",
            "shop",
            "order",
            "errors",
            "last_error",
            "attempts",
            "duplicate",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_duplicate(self, intake: OrderIntake) -> bool:
        return bool(self.context.get("duplicate", False))


class OrderLineOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = [
            "sku",
            "title",
            "options",
            "quantity",
            "unit_price",
            "list_price",
            "line_total",
            "weight_grams",
            "status",
            "quantity_refunded",
            "quantity_returned",
        ]
        read_only_fields = fields


class OrderEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = [
            "kind",
            "from_status",
            "to_status",
            "actor_kind",
            "actor_label",
            "channel",
            "reason",
            "data",
            "created_at",
        ]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    lines = OrderLineOutputSerializer(many=True, read_only=True)
    amount_due = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        read_only=True,
        help_text="What the buyer pays in money: the total less what loyalty points paid (the shop is owed the total).",
    )

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "status_changed_at",
            "channel",
            "external_ref",
            "fulfilment",
            "payment_method",
            "currency",
            "subtotal",
            "discount",
            "total",
            "points_used",
            "points_value",
            "amount_due",
            "amount_refunded",
            "points_returned",
            "customer_name",
            "customer_email",
            "customer_phone",
            "note",
            "placed_at",
            "lines",
        ]
        read_only_fields = fields


class OrderDetailOutputSerializer(OrderOutputSerializer):
    events = OrderEventOutputSerializer(
        many=True, read_only=True, help_text="The order's timeline: every status change and what else happened."
    )

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "events"]
        read_only_fields = fields


# --- filters and inputs ------------------------------------------------------------------------------


@extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=OrderStatus.choices)))
class StatusesField(serializers.Field):
    """Statuses, repeated (``status=paid&status=confirmed``) or comma-separated."""

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist"):
            values = dictionary.getlist(self.field_name)
            return values if values else serializers.empty
        return super().get_value(dictionary)

    def to_internal_value(self, data) -> list[str]:
        values = data if isinstance(data, list) else [data]
        statuses = [s.strip() for value in values for s in str(value).split(",") if s.strip()]
        unknown = [s for s in statuses if s not in STATUS_VALUES]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown status {', '.join(repr(s) for s in unknown)}. Valid statuses: {', '.join(STATUS_VALUES)}."
            )
        return list(dict.fromkeys(statuses))

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "format": "date-time", "example": "2026-12-04T00:00:00+08:00"})
class SinceField(serializers.Field):
    default_error_messages = {
        "invalid": "Enter an ISO 8601 date (2026-12-04) or date-time (2026-12-04T10:00:00+08:00); in a query "
        "string send the “+” of an offset as %2B."
    }

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            day = parse_date(text)
            moment = None if day else parse_datetime(text)
        except ValueError:
            day = moment = None
        if day is not None:
            zone = self.context.get("zone") or timezone.get_current_timezone()
            return timezone.make_aware(datetime.combine(day, time.min), zone)
        if moment is None:
            self.fail("invalid")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, self.context.get("zone") or timezone.get_current_timezone())
        return moment

    def to_representation(self, value):
        return value.isoformat()


class OrderFilterSerializer(serializers.Serializer):
    status = StatusesField(required=False, help_text="Only these statuses (repeat or separate by commas).")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, help_text="Only this channel.")
    since = SinceField(
        required=False, help_text="Placed at or after this moment (a date: that day's start, shop time)."
    )


class TransitionInputSerializer(StrictInputSerializer):
    to = serializers.ChoiceField(choices=OrderStatus.choices, help_text="The status to move the order to.")
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Required for cancelling, failed delivery, return."
    )

"""Shops API: filters and outputs for the public shop directory, and the shared problem document."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.shops.models import OpeningHours, Shop, ShopPhoto


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo like ``titel`` is a 400, not silently ignored)."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if errors and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from exc
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ProblemErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The input field, dotted for nested ones (e.g. `variants.0.price`).")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document (``application/problem+json``); every API error is one."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong and what to do about it.")
    instance = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable error code, e.g. `validation-error`.")
    request_id = serializers.CharField(allow_blank=True)
    errors = ProblemErrorSerializer(many=True, required=False, help_text="Per-field errors (400 only).")


def problem_responses(*statuses: int) -> dict:
    """``extend_schema(responses=…)`` entries for the problem documents an endpoint can answer."""
    return {(status, "application/problem+json"): ProblemSerializer for status in statuses}


def absolute_url(context: dict, path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class ShopFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Words in the shop's name or tagline."
    )
    postcode = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=12,
        help_text="Postcode or its beginning, e.g. `16` for Singapore postal sector 16.",
    )


class ShopLocationSerializer(serializers.Serializer):
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6)


class ShopListOutputSerializer(serializers.ModelSerializer):
    location = ShopLocationSerializer(source="*")
    status = serializers.CharField(help_text="`active` (open), `read_only` (browse only) or `closed`.")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Shop
        fields = [
            "slug",
            "name",
            "tagline",
            "city",
            "postcode",
            "country",
            "location",
            "currency",
            "time_zone",
            "delivery_radius_km",
            "offers_pickup",
            "status",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_web_url(self, shop: Shop) -> str:
        return absolute_url(self.context, reverse("catalog:shop", kwargs={"shop_slug": shop.slug}))


class ShopPhotoOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ShopPhoto
        fields = ["id", "url", "caption", "position"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, photo: ShopPhoto) -> str:
        return absolute_url(self.context, photo.image.url)


class OpeningHoursOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]
        read_only_fields = fields


class ShopDetailOutputSerializer(ShopListOutputSerializer):
    photos = ShopPhotoOutputSerializer(many=True)
    opening_hours = OpeningHoursOutputSerializer(
        many=True, help_text="Weekly periods in the shop's time zone; weekday 0 is Monday."
    )

    class Meta(ShopListOutputSerializer.Meta):
        fields = [
            *ShopListOutputSerializer.Meta.fields,
            "story",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "photos",
            "opening_hours",
        ]
        read_only_fields = fields

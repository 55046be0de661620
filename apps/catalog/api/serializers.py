"""Catalog API serializers. Money is always a decimal string, never a JSON number.

Outputs give money as ``{"amount": "12.50", "currency": "SGD"}`` (the amount in the currency's
minor unit). Inputs take the amount as a decimal string (``"12.50"``) or that same object; the
currency is always the shop's, so another one is refused rather than converted.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import Category, Product, ProductImage, Variant
from apps.catalog.search import MAX_DISTANCE_KM as SEARCH_MAX_DISTANCE_KM
from apps.catalog.search import MAX_PAGE as SEARCH_MAX_PAGE
from apps.catalog.search import MAX_PER_PAGE as SEARCH_MAX_PER_PAGE
from apps.catalog.search import MAX_QUERY_LENGTH as SEARCH_MAX_QUERY_LENGTH
from apps.catalog.search import Sort
from apps.catalog.services import VariantData
from apps.core.geo import Point, sg_postal_district
from apps.core.money import Money, currency_exponent
from apps.shops.api.serializers import StrictInputSerializer, absolute_url

MAX_AMOUNT = Decimal("9999999999.99")  # Variant.price: 12 digits, 2 decimal places

# --- money -------------------------------------------------------------------------------------

PRODUCT_STATUS_CHOICES = Product.Status.choices  # named ProductStatusEnum in the schema


class MoneyOutputSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text='Decimal string in the currency\'s minor unit, e.g. "12.50".')
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. SGD.")


def money_json(amount: Decimal | None, currency: str) -> dict[str, str] | None:
    return None if amount is None else Money(amount, currency).to_json()


MONEY_INPUT_SCHEMA = {
    "oneOf": [
        {"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$", "example": "12.50"},
        {
            "type": "object",
            "properties": {
                "amount": {"type": "string", "format": "decimal", "example": "12.50"},
                "currency": {"type": "string", "example": "SGD", "description": "Must be the shop's currency."},
            },
            "required": ["amount"],
        },
    ],
    "description": 'An amount in the shop\'s currency as a decimal string ("12.50"); never a JSON number.',
}


@extend_schema_field(MONEY_INPUT_SCHEMA)
class MoneyInputField(serializers.Field):
    """An amount in the shop's currency (``context["shop"]``): ``"12.50"`` or ``{"amount", "currency"}``."""

    default_error_messages = {
        "not_string": 'Send amounts as decimal strings, e.g. "12.50", never as JSON numbers.',
        "invalid": 'Enter an amount such as "12.50".',
        "negative": "The amount cannot be negative.",
        "too_large": "The amount is too large.",
        "too_precise": "{currency} amounts have at most {places} decimal places.",
        "wrong_currency": "Prices in this shop are in {currency}; amounts are not converted.",
    }

    def to_internal_value(self, data) -> Decimal:
        currency = self.context["shop"].currency
        if isinstance(data, dict):
            given = data.get("currency")
            if given is not None and str(given).upper() != currency:
                self.fail("wrong_currency", currency=currency)
            data = data.get("amount")
        if isinstance(data, (bool, int, float)):
            self.fail("not_string")
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            amount = Decimal(data.strip())
        except InvalidOperation:
            self.fail("invalid")
        if not amount.is_finite():
            self.fail("invalid")
        if amount < 0:
            self.fail("negative")
        if amount > MAX_AMOUNT:
            self.fail("too_large")
        places = currency_exponent(currency)
        if -amount.as_tuple().exponent > places and amount != amount.quantize(Decimal(1).scaleb(-places)):
            self.fail("too_precise", currency=currency, places=places)
        return amount

    def to_representation(self, value):
        return str(value)


# --- outputs -----------------------------------------------------------------------------------


class CategoryOutputSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="The parent category's slug (null: top level)."
    )

    class Meta:
        model = Category
        fields = ["id", "slug", "name", "parent", "position"]
        read_only_fields = fields


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]
        read_only_fields = fields


class ShopRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    currency = serializers.CharField()


class VariantOutputSerializer(serializers.ModelSerializer):
    options = serializers.DictField(child=serializers.CharField(), help_text='e.g. {"size": "M"}')
    price = serializers.SerializerMethodField()
    compare_at_price = serializers.SerializerMethodField()

    class Meta:
        model = Variant
        fields = ["id", "sku", "options", "price", "compare_at_price", "weight_grams", "is_active", "position"]
        read_only_fields = fields

    # Prefetched variants carry their product (and its shop): no query per variant.
    @extend_schema_field(MoneyOutputSerializer)
    def get_price(self, variant: Variant):
        return money_json(variant.price, variant.product.shop.currency)

    @extend_schema_field(MoneyOutputSerializer(allow_null=True))
    def get_compare_at_price(self, variant: Variant):
        return money_json(variant.compare_at_price, variant.product.shop.currency)


class ProductImageOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "thumbnail_url", "alt_text", "position"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, image: ProductImage) -> str:
        return absolute_url(self.context, image.image.url)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, image: ProductImage) -> str | None:
        return absolute_url(self.context, image.thumbnail.url) if image.thumbnail else None


class ProductOutputSerializer(serializers.ModelSerializer):
    """A product as buyers see it: available variants only."""

    shop = ShopRefSerializer()
    category = CategoryRefSerializer(allow_null=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    price_from = serializers.SerializerMethodField(help_text="The lowest price of an available variant.")
    variants = VariantOutputSerializer(many=True)
    images = ProductImageOutputSerializer(many=True)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id",
            "slug",
            "title",
            "description",
            "shop",
            "category",
            "tags",
            "price_from",
            "variants",
            "images",
            "web_url",
            "published_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneyOutputSerializer(allow_null=True))
    def get_price_from(self, product: Product):
        prices = [v.price for v in product.variants.all() if v.is_active]
        return money_json(min(prices), product.shop.currency) if prices else None

    @extend_schema_field(serializers.URLField())
    def get_web_url(self, product: Product) -> str:
        path = reverse("catalog:product", kwargs={"shop_slug": product.shop.slug, "product_slug": product.slug})
        return absolute_url(self.context, path)


class ShopProductOutputSerializer(ProductOutputSerializer):
    """A product as its shop's integrations see it: any status, every variant."""

    status = serializers.ChoiceField(
        choices=Product.Status.choices, help_text="`draft`, `active` (buyers see it) or `archived`."
    )

    class Meta(ProductOutputSerializer.Meta):
        fields = [*ProductOutputSerializer.Meta.fields, "status", "created_at"]
        read_only_fields = fields


# --- filters -----------------------------------------------------------------------------------


class ProductFilterSerializer(serializers.Serializer):
    shop = serializers.SlugField(required=False, help_text="Only this shop's products (its slug).")
    category = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Category.objects.all(),
        required=False,
        help_text="A category slug; products of its subcategories are included.",
    )
    price_min = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False, help_text='e.g. "5.00"'
    )
    price_max = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False, help_text='e.g. "40.00"'
    )
    currency = serializers.CharField(
        required=False, max_length=3, help_text="Only shops selling in this currency (prices compare within one)."
    )
    q = serializers.CharField(required=False, max_length=200, help_text="Words in the title or description.")

    def validate(self, attrs):
        low, high = attrs.get("price_min"), attrs.get("price_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"price_max": "Must be at least price_min."})
        if "currency" in attrs:
            attrs["currency"] = attrs["currency"].upper()
        return attrs


class ShopProductFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)
    q = serializers.CharField(required=False, max_length=200, help_text="Words in the title.")


# --- inputs ------------------------------------------------------------------------------------


class VariantInputSerializer(StrictInputSerializer):
    sku = serializers.CharField(max_length=64, help_text="Unique within the shop.")
    price = MoneyInputField()
    compare_at_price = MoneyInputField(
        required=False, allow_null=True, help_text="The 'was' price, above the price (shows a deal)."
    )
    options = serializers.DictField(
        child=serializers.CharField(max_length=60), required=False, help_text='e.g. {"size": "M"}'
    )
    weight_grams = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    is_active = serializers.BooleanField(required=False, help_text="Available to buy (default true).")

    def validate_sku(self, value: str) -> str:
        return value.strip()

    def to_variant_data(self, attrs: dict, current: Variant | None = None) -> VariantData:
        """The full variant: given fields, else the current variant's values, else the defaults."""
        base = (
            VariantData(
                sku=current.sku,
                price=current.price,
                options=current.options,
                compare_at_price=current.compare_at_price,
                weight_grams=current.weight_grams,
                is_active=current.is_active,
            )
            if current is not None
            else VariantData(sku=attrs["sku"], price=attrs.get("price"))
        )
        for name in ("price", "options", "compare_at_price", "weight_grams", "is_active"):
            if name in attrs:
                setattr(base, name, attrs[name])
        return base


class VariantPatchInputSerializer(VariantInputSerializer):
    """In a PATCH, a variant is matched by SKU: an existing one keeps the fields not sent."""

    price = MoneyInputField(required=False, help_text="Required for a new SKU.")


def _unique_skus(variants: list[dict]) -> list[dict]:
    skus = [v["sku"] for v in variants]
    repeated = sorted({s for s in skus if skus.count(s) > 1})
    if repeated:
        raise serializers.ValidationError(f"Each variant needs its own SKU ({', '.join(repeated)} is repeated).")
    return variants


class ProductCreateInputSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=160)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True, help_text="Category slug."
    )
    status = serializers.ChoiceField(
        choices=Product.Status.choices,
        required=False,
        help_text="`draft` (default) or `active` (published to buyers).",
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=20)
    variants = VariantInputSerializer(many=True, allow_empty=False, max_length=100)

    def validate_status(self, value: str) -> str:
        if value == Product.Status.ARCHIVED:
            raise serializers.ValidationError("Create products as draft or active.")
        return value

    def validate_variants(self, value: list[dict]) -> list[dict]:
        return _unique_skus(value)


class ProductPatchInputSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=160, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True, help_text="Category slug."
    )
    status = serializers.ChoiceField(
        choices=Product.Status.choices,
        required=False,
        help_text="`draft`, `active` (published to buyers) or `archived` (same as the archive endpoint).",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=20, help_text="Replaces the tags."
    )
    variants = VariantPatchInputSerializer(
        many=True,
        required=False,
        max_length=100,
        help_text="Upserted by SKU: new SKUs are added, existing ones changed; variants not listed stay.",
    )

    def validate_variants(self, value: list[dict]) -> list[dict]:
        _unique_skus(value)
        existing = {v.sku for v in self.context["product"].variants.all()}
        missing = [i for i, v in enumerate(value) if v["sku"] not in existing and "price" not in v]
        if missing:
            raise serializers.ValidationError(
                {i: {"price": ["A new SKU needs a price."]} for i in missing}  # keyed by list position
            )
        return value


# --- search ------------------------------------------------------------------------------------


class SearchInputSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=SEARCH_MAX_QUERY_LENGTH, help_text="What the buyer typed."
    )
    lat = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=Decimal(-90), max_value=Decimal(90), required=False
    )
    lon = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=Decimal(-180), max_value=Decimal(180), required=False
    )
    postcode = serializers.CharField(
        required=False, max_length=12, help_text="A Singapore postcode, instead of `lat` and `lon`."
    )
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, help_text="Includes its subcategories."
    )
    price_min = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), required=False)
    price_max = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), required=False)
    max_distance_km = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal(SEARCH_MAX_DISTANCE_KM),
        required=False,
        help_text="Only shops this close (needs a location).",
    )
    pickup = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="Shops offering pickup.")
    delivery = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Shops delivering to the location."
    )
    sort = serializers.ChoiceField(choices=Sort.ALL, required=False, default=Sort.RELEVANCE)
    page = serializers.IntegerField(min_value=1, max_value=SEARCH_MAX_PAGE, required=False, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=SEARCH_MAX_PER_PAGE, required=False, default=24)

    def validate(self, attrs):
        has_lat, has_lon = "lat" in attrs, "lon" in attrs
        if has_lat != has_lon:
            raise serializers.ValidationError({"lon" if has_lat else "lat": "Give both lat and lon, or neither."})
        if "postcode" in attrs:
            if has_lat:
                raise serializers.ValidationError({"postcode": "Give a postcode or lat/lon, not both."})
            district = sg_postal_district(attrs["postcode"])
            if district is None:
                raise serializers.ValidationError({"postcode": "We cannot place this postcode; send lat and lon."})
            attrs["location"] = district.point
        elif has_lat:
            attrs["location"] = Point(attrs["lat"], attrs["lon"])
        low, high = attrs.get("price_min"), attrs.get("price_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"price_max": "Must be at least price_min."})
        return attrs


class ProductCardOutputSerializer(serializers.ModelSerializer):
    """A product as a search result card: no variant list, the first image only."""

    shop = ShopRefSerializer()
    category = CategoryRefSerializer(allow_null=True)
    price_from = serializers.SerializerMethodField(help_text="The lowest price of an available variant.")
    image = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "slug", "title", "shop", "category", "price_from", "image", "web_url", "published_at"]
        read_only_fields = fields

    get_price_from = ProductOutputSerializer.get_price_from
    get_web_url = ProductOutputSerializer.get_web_url

    @extend_schema_field(ProductImageOutputSerializer(allow_null=True))
    def get_image(self, product: Product):
        images = list(product.images.all())
        return ProductImageOutputSerializer(images[0], context=self.context).data if images else None


class SearchHitOutputSerializer(serializers.Serializer):
    product = ProductCardOutputSerializer()
    distance_km = serializers.FloatField(allow_null=True, help_text="From the given location, km (null without one).")
    match = serializers.ChoiceField(
        choices=["exact", "fuzzy", ""], help_text="`exact` (words found), `fuzzy` (similar title), empty: no query."
    )
    on_sale = serializers.BooleanField(help_text="An available variant is below its compare-at price.")

    def to_representation(self, hit):
        data = super().to_representation(hit)
        if data["distance_km"] is not None:
            data["distance_km"] = round(data["distance_km"], 2)
        return data


class SearchOutputSerializer(serializers.Serializer):
    query = serializers.CharField()
    sort = serializers.CharField()
    total = serializers.IntegerField(help_text="Matching products in all pages.")
    page = serializers.IntegerField()
    per_page = serializers.IntegerField()
    num_pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    location_used = serializers.BooleanField()
    notices = serializers.ListField(
        child=serializers.CharField(), help_text="Why a parameter was ignored, e.g. a distance without a location."
    )
    results = SearchHitOutputSerializer(many=True, source="hits")

"""Logistics API for delivery partners: the orders to deliver, and delivered / failed per order or in
bulk.

Who may call it:

- a shop's API key with the ``logistics`` scope (``Authorization: Api-Key <key>``): that shop's
  orders only; another shop's order (or ``shop``) is a 404, as if it did not exist;
- a platform logistics key (``Authorization: Logistics-Key <key>``, made with
  ``manage.py logistics_key_create NAME``): every shop's delivery orders. A revoked or unknown key
  is a 401.

Routes:

- ``GET /api/v1/logistics/orders?date=&slot=&status=&shop=`` (cursor-paginated, oldest first): order
  number, shop, status, address and coordinates, parcel weight (Σ weight × quantity), items, slot
  (date, from, until), contact phone. ``status`` defaults to packed, out for delivery and delivery
  failed (comma-separate several).
- ``POST /api/v1/logistics/orders/{number}/delivered`` and ``…/failed`` (``reason`` required for a
  failure; an optional ``photo``, multipart, JPEG/PNG/WebP): the run's stop is marked and the order
  moves (an event on its timeline). An order not out for delivery is a 409 with the state machine's
  message; a failure without a reason or a bad photo is a 422.
- ``POST /api/v1/logistics/orders/bulk`` with ``[{"number", "outcome": "delivered"|"failed",
  "reason"}]`` (at most 100): each reported on its own, in the order sent.

An ``Idempotency-Key`` header makes a retried POST answer the same again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ApplicationError
from apps.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from apps.core.idempotency import (
    REPLAYED_HEADER,
    StoredResponse,
    idempotency_key_clean,
    idempotent_response,
    request_fingerprint,
)
from apps.core.images import validate_uploaded_image
from apps.delivery.models import PlatformLogisticsKey
from apps.delivery.services_keys import logistics_key_find
from apps.orders.actors import Actor
from apps.orders.models import Order
from apps.orders.selectors_delivery import logistics_order_get, logistics_orders
from apps.orders.services_delivery import order_delivery_report, order_delivery_report_bulk
from apps.shops.api.authentication import ApiKeyAuthentication
from apps.shops.api.serializers import problem_responses
from apps.shops.models import ApiKey, ApiScope, Shop

TAGS = ["logistics"]
LOGISTICS_KEYWORD = "Logistics-Key"
BULK_MAX = 100
STATUS_CHOICES = [
    Order.Status.PACKED,
    Order.Status.OUT_FOR_DELIVERY,
    Order.Status.DELIVERY_FAILED,
    Order.Status.DELIVERED,
]
NUMBER_PARAMETER = OpenApiParameter("number", str, OpenApiParameter.PATH, description="The order's number.")
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Your unique key for this request: a retry with the same key and body answers the same.",
)


# --- who is calling ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LogisticsPartner:
    """``request.user`` for a request made with a platform logistics key: the partner, not a person."""

    key: PlatformLogisticsKey

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def is_verified(self) -> bool:
        return False

    def get_username(self) -> str:
        return f"logistics-key:{self.key.prefix}"

    def __str__(self) -> str:
        return f"logistics key {self.key.name} ({self.key.prefix})"


class LogisticsKeyAuthentication(BaseAuthentication):
    """``Authorization: Logistics-Key <key>``: ``request.auth`` is the :class:`PlatformLogisticsKey`
    (looked up by SHA-256). An unknown or revoked key is a 401."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].decode("latin-1").lower() != LOGISTICS_KEYWORD.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as “Authorization: Logistics-Key <key>”, with no spaces in the key."),
                code="invalid_logistics_key",
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(
                _("This logistics key is not valid."), code="invalid_logistics_key"
            ) from exc
        key = logistics_key_find(raw_key=raw)
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("This logistics key is not valid or has been revoked. Ask LocalBazaar for a new key."),
                code="invalid_logistics_key",
            )
        return LogisticsPartner(key=key), key

    def authenticate_header(self, request) -> str:
        return f'{LOGISTICS_KEYWORD} realm="LocalBazaar logistics API"'


class LogisticsKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.orders.api.logistics.LogisticsKeyAuthentication"
    name = "LogisticsKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "A delivery partner's platform logistics key (`manage.py logistics_key_create NAME`), for every "
                "shop's delivery orders: `Authorization: Logistics-Key <key>`. A shop's own API key with the "
                "`logistics` scope works too (`Api-Key <key>`), for that shop only."
            ),
        }


class LogisticsCaller(BasePermission):
    """A platform logistics key, or a shop API key with the ``logistics`` scope."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, PlatformLogisticsKey):
            return True
        if isinstance(request.auth, ApiKey):
            if request.auth.is_active and ApiScope.LOGISTICS in request.auth.scopes:
                return True
            raise exceptions.PermissionDenied(
                _("This API key may not use the logistics API: it needs the scope logistics. Create a key with it.")
            )
        raise exceptions.NotAuthenticated(
            _("Send a logistics key (“Logistics-Key <key>”) or a shop API key with the logistics scope.")
        )


class LogisticsApiView(APIView):
    authentication_classes = [LogisticsKeyAuthentication, ApiKeyAuthentication]
    permission_classes = [LogisticsCaller]

    def caller_shop(self) -> Shop | None:
        """The shop a shop key is limited to; None for a platform key (every shop)."""
        return self.request.auth.shop if isinstance(self.request.auth, ApiKey) else None

    def actor(self) -> Actor:
        auth = self.request.auth
        if isinstance(auth, ApiKey):
            return Actor.logistics(label=f"API key {auth.name}", principal=auth)
        return Actor.logistics(label=f"Logistics key {auth.name}", principal=None)

    def principal_key(self) -> str:
        auth = self.request.auth
        return f"api_key:{auth.pk}" if isinstance(auth, ApiKey) else f"logistics_key:{auth.pk}"

    def idempotent(self, *, scope: str, fingerprint_data, run) -> Response:
        key = idempotency_key_clean(self.request.headers.get(IDEMPOTENCY_HEADER))
        if key is None:
            answer = run()
        else:
            answer = idempotent_response(
                key=key,
                principal=self.principal_key(),
                scope=scope,
                fingerprint=request_fingerprint(fingerprint_data),
                run=run,
            )
        headers = dict(answer.headers)
        if answer.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(answer.body, status=answer.status, headers=headers)


class LogisticsInputError(ApplicationError):
    """The outcome sent cannot be recorded as it is (no reason for a failure, a bad photo)."""

    status_code = 422
    code = "invalid-input"
    title = "The delivery outcome is not valid"


# --- serializers -----------------------------------------------------------------------------------------


class LogisticsFilterSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="The slot's date (shop time), e.g. 2025-03-01.")
    slot = serializers.IntegerField(required=False, min_value=1, help_text="A delivery slot's id.")
    status = serializers.CharField(
        required=False,
        help_text="Comma-separated: packed, out_for_delivery, delivery_failed, delivered. "
        "Default: packed,out_for_delivery,delivery_failed.",
    )
    shop = serializers.SlugField(required=False, help_text="A shop's slug (a shop key sees its own shop only).")

    def validate_status(self, value: str) -> list[str]:
        statuses = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in statuses if s not in STATUS_CHOICES]
        if unknown or not statuses:
            raise serializers.ValidationError(
                _("Choose statuses among %(choices)s.") % {"choices": ", ".join(STATUS_CHOICES)}
            )
        return statuses


class LogisticsOrderOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    shop = serializers.SerializerMethodField()
    status = serializers.CharField()
    address = serializers.SerializerMethodField()
    coordinates = serializers.SerializerMethodField()
    parcel_weight_grams = serializers.IntegerField(source="parcel_grams")
    items = serializers.IntegerField(source="item_count")
    slot = serializers.SerializerMethodField()
    contact_phone = serializers.SerializerMethodField()
    placed_at = serializers.DateTimeField()

    def get_shop(self, order) -> dict:
        return {"slug": order.shop.slug, "name": order.shop.name}

    def get_address(self, order) -> dict:
        address = order.address or {}
        return {key: address.get(key, "") for key in ("recipient", "lines", "postcode", "city", "country")}

    def get_coordinates(self, order) -> dict | None:
        address = order.address or {}
        if address.get("lat") in (None, "") or address.get("lon") in (None, ""):
            return None
        return {"lat": str(address["lat"]), "lon": str(address["lon"])}

    def get_slot(self, order) -> dict | None:
        if order.slot_ref is None:
            return None
        return {
            "id": order.slot_ref,
            "date": order.slot_date.isoformat(),
            "from": order.slot_starts.strftime("%H:%M"),
            "until": order.slot_ends.strftime("%H:%M"),
        }

    def get_contact_phone(self, order) -> str:
        return (order.address or {}).get("phone") or order.customer_phone


class OutcomeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    photo = serializers.FileField(required=False, help_text="Proof: a JPEG, PNG or WebP photo (multipart).")


class BulkItemSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=20)
    outcome = serializers.ChoiceField(choices=["delivered", "failed"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class BulkResultSerializer(serializers.Serializer):
    number = serializers.CharField()
    ok = serializers.BooleanField()
    status = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


# --- views -------------------------------------------------------------------------------------------------


class LogisticsCursorPagination(CursorPagination):
    ordering = ("placed_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema(tags=TAGS)
class LogisticsOrderListApi(LogisticsApiView, generics.ListAPIView):
    """Delivery orders to work on: of your shop (shop key) or of every shop (platform key), oldest
    first, with address, coordinates, parcel weight, items, slot and contact phone."""

    serializer_class = LogisticsOrderOutputSerializer
    pagination_class = LogisticsCursorPagination

    def get_queryset(self):
        filters = LogisticsFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        shop = self.caller_shop()
        if data.get("shop"):
            wanted = Shop.objects.filter(slug=data["shop"]).first()
            if wanted is None or (shop is not None and wanted.pk != shop.pk):
                raise exceptions.NotFound(_("No such shop."))
            shop = wanted
        return logistics_orders(shop=shop, day=data.get("date"), slot_id=data.get("slot"), statuses=data.get("status"))

    @extend_schema(
        operation_id="logistics_orders_list",
        parameters=[LogisticsFilterSerializer],
        responses={200: LogisticsOrderOutputSerializer(many=True), **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _order_row(order: Order) -> dict:
    row = logistics_orders(statuses=[order.status]).get(pk=order.pk)
    return dict(LogisticsOrderOutputSerializer(row).data)


class _OutcomeApi(LogisticsApiView):
    delivered = True
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def post(self, request, number: str):
        order = logistics_order_get(number=number, shop=self.caller_shop())  # 404 before the body is read
        data = OutcomeInputSerializer(data=request.data)
        if not data.is_valid():
            raise LogisticsInputError(
                _("Check the fields: %(fields)s.") % {"fields": ", ".join(data.errors)},
                extra={"errors": [{"field": f, "message": str(m[0])} for f, m in data.errors.items()]},
            )
        reason = (data.validated_data.get("reason") or "").strip()
        photo = data.validated_data.get("photo")
        if not self.delivered and not reason:
            raise LogisticsInputError(
                _("Say why the delivery of order %(number)s failed (e.g. nobody home).") % {"number": order.number},
                code="reason-required",
                extra={"errors": [{"field": "reason", "message": _("This field is required.")}]},
            )
        if photo is not None:
            try:
                validate_uploaded_image(photo)
            except DjangoValidationError as exc:
                raise LogisticsInputError(
                    " ".join(exc.messages), extra={"errors": [{"field": "photo", "message": " ".join(exc.messages)}]}
                ) from exc

        def run() -> StoredResponse:
            moved = order_delivery_report(
                order=order, delivered=self.delivered, reason=reason, photo=photo, actor=self.actor()
            )
            return StoredResponse(status=200, body=_order_row(moved))

        fingerprint = {"reason": reason, "photo": f"{photo.name}:{photo.size}" if photo is not None else None}
        outcome = "delivered" if self.delivered else "failed"
        return self.idempotent(
            scope=f"POST /api/v1/logistics/orders/{order.number}/{outcome}", fingerprint_data=fingerprint, run=run
        )


@extend_schema(tags=TAGS, parameters=[NUMBER_PARAMETER, IDEMPOTENCY_PARAMETER])
class LogisticsOrderDeliveredApi(_OutcomeApi):
    """The order was delivered (an optional ``photo`` as proof). 409 when it is not out for delivery."""

    delivered = True

    @extend_schema(
        operation_id="logistics_orders_delivered",
        request={"application/json": OutcomeInputSerializer, "multipart/form-data": OutcomeInputSerializer},
        responses={200: LogisticsOrderOutputSerializer, **problem_responses(401, 403, 404, 409, 422)},
    )
    def post(self, request, number: str):
        return super().post(request, number)


@extend_schema(tags=TAGS, parameters=[NUMBER_PARAMETER, IDEMPOTENCY_PARAMETER])
class LogisticsOrderFailedApi(_OutcomeApi):
    """The delivery failed: ``reason`` required (422 without), optional ``photo``. 409 when the order is
    not out for delivery."""

    delivered = False

    @extend_schema(
        operation_id="logistics_orders_failed",
        request={"application/json": OutcomeInputSerializer, "multipart/form-data": OutcomeInputSerializer},
        responses={200: LogisticsOrderOutputSerializer, **problem_responses(401, 403, 404, 409, 422)},
    )
    def post(self, request, number: str):
        return super().post(request, number)


@extend_schema(tags=TAGS, parameters=[IDEMPOTENCY_PARAMETER])
class LogisticsOrderBulkApi(LogisticsApiView):
    """Report up to 100 outcomes at once; each is reported on its own (``ok``, the new ``status``, or
    the problem's ``code`` and ``detail``): one that cannot move does not stop the others."""

    @extend_schema(
        operation_id="logistics_orders_bulk",
        request=BulkItemSerializer(many=True),
        responses={
            200: OpenApiResponse(BulkResultSerializer(many=True), description="One result per item, in order."),
            **problem_responses(400, 401, 403),
        },
    )
    def post(self, request):
        if not isinstance(request.data, list) or not request.data:
            raise exceptions.ValidationError(
                _('Send a list of outcomes: [{"number", "outcome": "delivered" or "failed", "reason"}].')
            )
        if len(request.data) > BULK_MAX:
            raise exceptions.ValidationError(_("Send at most %(max)s outcomes at a time.") % {"max": BULK_MAX})
        items = BulkItemSerializer(data=request.data, many=True)
        items.is_valid(raise_exception=True)
        shop = self.caller_shop()

        def find(number: str) -> Order | None:
            try:
                return logistics_order_get(number=number, shop=shop)
            except Http404:  # unknown, or another shop's: reported as not found
                return None

        def run() -> StoredResponse:
            report = order_delivery_report_bulk(items=list(items.validated_data), actor=self.actor(), find=find)
            return StoredResponse(status=200, body=report.results)

        return self.idempotent(scope="POST /api/v1/logistics/orders/bulk", fingerprint_data=request.data, run=run)

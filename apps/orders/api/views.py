"""Orders API: incoming orders from tills, kiosks, phone desks and other integrations, and the
shop-scoped order reads and moves integrations need.

- ``POST /api/v1/orders``: one order (the payload of ``apps.orders.services_intake``) from a shop
  API key with the ``orders`` scope, or from a signed-in member allowed to manage orders (the
  payload's ``shop`` names which of their shops; it may be left out with a key). 202 with the
  incoming order and a ``Location`` to follow it; a re-sent (channel, external reference) answers
  200 with the first one and ``"duplicate": true``. An ``Idempotency-Key`` header makes a retried
  request answer the same again (``apps.core.idempotency``). A bad order is a 422 problem whose
  ``errors`` list every field at fault.
- ``GET /api/v1/orders/intakes/{id}``: that incoming order, if it is the caller's shop's (else 404).
- ``GET /api/v1/shops/{slug}/orders`` (cursor-paginated; ``status``, ``channel``, ``since``),
  ``GET …/orders/{number}`` with lines and timeline, and ``POST …/orders/{number}/transitions``
  ``{"to", "reason"}`` (409 when the move does not exist, 403 when the caller may not make it).
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.idempotency import (
    HEADER as IDEMPOTENCY_HEADER,
)
from apps.core.idempotency import (
    REPLAYED_HEADER,
    StoredResponse,
    idempotency_key_clean,
    idempotent_response,
    request_fingerprint,
)
from apps.orders.actors import Actor
from apps.orders.errors import IntakeError
from apps.orders.models import Channel
from apps.orders.selectors_intake import (
    intake_get,
    intake_get_for_shop,
    order_get_for_shop_api,
    orders_for_shop_api,
)
from apps.orders.services_fulfilment import order_move
from apps.orders.services_intake import intake_submit
from apps.shops.access import principal_allows
from apps.shops.api.permissions import shop_permission, shop_principal_get
from apps.shops.api.serializers import problem_responses
from apps.shops.api.views import SHOP_SLUG_PARAMETER, ShopScopedApiView
from apps.shops.errors import ShopPermissionDenied
from apps.shops.models import ApiKey, Membership
from apps.shops.permissions import Perm
from apps.shops.selectors import user_memberships

from .serializers import (
    IntakeOutputSerializer,
    OrderDetailOutputSerializer,
    OrderFilterSerializer,
    OrderIntakeInputSerializer,
    OrderOutputSerializer,
    TransitionInputSerializer,
)

TAGS = ["orders"]
NUMBER_PARAMETER = OpenApiParameter("number", str, OpenApiParameter.PATH, description="The order's number.")
INTAKE_ID_PARAMETER = OpenApiParameter("intake_id", int, OpenApiParameter.PATH, description="The incoming order's id.")
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Your unique key for this request (e.g. a UUID): a retry with the same key and body answers the "
    "same and creates nothing more; the same key with another body is a 422.",
)


def _denied(principal, perm: Perm) -> ShopPermissionDenied:
    if isinstance(principal, ApiKey):
        return ShopPermissionDenied(
            f"This API key may not do this ({perm.label}): it needs the scope orders. Create a key with it.",
            code="scope-missing",
        )
    return ShopPermissionDenied(f"Your role in this shop does not allow this ({perm.label}). Ask the shop owner.")


def _not_found() -> exceptions.NotFound:
    return exceptions.NotFound("No such incoming order.")


class PersonOrApiKey(BasePermission):
    """A signed-in person or a shop API key; the view resolves the shop and checks the permission."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        return True


def _principal_for_submit(request) -> ApiKey | Membership:
    """The API key, or the member acting for the payload's shop (their only shop when it names none)."""
    if isinstance(request.auth, ApiKey):
        principal = shop_principal_get(request=request, shop_slug=request.auth.shop.slug)
    else:
        slug = request.data.get("shop") if isinstance(request.data, dict) else None
        if not isinstance(slug, str) or not slug.strip():
            memberships = [m for m in user_memberships(user=request.user) if principal_allows(m, Perm.ORDERS_MANAGE)]
            if len(memberships) != 1:
                raise IntakeError(
                    "Name the shop the order is for in “shop” (its slug).",
                    extra={"errors": [{"field": "shop", "message": "This field is required."}]},
                )
            slug = memberships[0].shop.slug
        principal = shop_principal_get(request=request, shop_slug=slug.strip())
    if not principal_allows(principal, Perm.ORDERS_MANAGE):
        raise _denied(principal, Perm.ORDERS_MANAGE)
    return principal


def _principal_key(principal: ApiKey | Membership) -> str:
    if isinstance(principal, ApiKey):
        return f"api_key:{principal.pk}"
    return f"user:{principal.user_id}"


def _principal_label(principal: ApiKey | Membership) -> str:
    if isinstance(principal, ApiKey):
        return f"API key {principal.name}"
    return principal.user.email


def _intake_location(request, intake) -> str:
    return request.build_absolute_uri(f"/api/v1/orders/intakes/{intake.pk}")


@extend_schema(tags=TAGS)
class OrderIntakeCreateApi(APIView):
    """Send one order from a till, kiosk, phone desk or other integration. It is checked at once
    (422 listing every problem), then made into an order by the pipeline in the background:
    follow it at ``Location``."""

    permission_classes = [PersonOrApiKey]

    @extend_schema(
        operation_id="orders_create",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=OrderIntakeInputSerializer,
        responses={
            202: OpenApiResponse(IntakeOutputSerializer, description="Accepted: the pipeline makes the order."),
            200: OpenApiResponse(IntakeOutputSerializer, description="Sent before: the first one (`duplicate`)."),
            **problem_responses(400, 401, 403, 404, 422),
        },
    )
    def post(self, request):
        principal = _principal_for_submit(request)
        payload = request.data
        channel = payload.get("channel") if isinstance(payload, dict) else None
        channel = channel if isinstance(channel, str) and channel else Channel.API

        def submit() -> StoredResponse:
            result = intake_submit(
                payload=payload,
                channel=channel,
                shop=principal.shop,
                submitted_by_label=_principal_label(principal),
            )
            body = IntakeOutputSerializer(result.intake, context={"duplicate": result.duplicate}).data
            return StoredResponse(
                status=200 if result.duplicate else 202,
                body=dict(body),
                headers={"Location": _intake_location(request, result.intake)},
            )

        key = idempotency_key_clean(request.headers.get(IDEMPOTENCY_HEADER))
        if key is None:
            answer = submit()
        else:
            answer = idempotent_response(
                key=key,
                principal=_principal_key(principal),
                scope="POST /api/v1/orders",
                fingerprint=request_fingerprint(payload),
                run=submit,
            )
        headers = dict(answer.headers)
        if answer.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(answer.body, status=answer.status, headers=headers)


@extend_schema(tags=TAGS, parameters=[INTAKE_ID_PARAMETER])
class OrderIntakeDetailApi(APIView):
    """An incoming order of your shop: its status, the step it is at, its errors and the order made
    from it. Another shop's is a 404."""

    permission_classes = [PersonOrApiKey]

    @extend_schema(
        operation_id="orders_intakes_retrieve",
        responses={200: IntakeOutputSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request, intake_id: int):
        try:
            if isinstance(request.auth, ApiKey):
                principal = shop_principal_get(request=request, shop_slug=request.auth.shop.slug)
                intake = intake_get_for_shop(shop=principal.shop, pk=intake_id)
            else:
                intake = intake_get(pk=intake_id)
                principal = shop_principal_get(request=request, shop_slug=intake.shop.slug if intake.shop else "")
        except (Http404, exceptions.NotFound) as exc:
            raise _not_found() from exc
        if not principal_allows(principal, Perm.ORDERS_VIEW):
            raise _denied(principal, Perm.ORDERS_VIEW)
        return Response(IntakeOutputSerializer(intake).data)


class OrderCursorPagination(CursorPagination):
    ordering = ("-placed_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class ShopOrderListApi(ShopScopedApiView, generics.ListAPIView):
    """The shop's orders, newest first, with their lines. API keys need the ``orders`` (or
    ``logistics``) scope; members ``orders.view``."""

    permission_classes = [shop_permission(Perm.ORDERS_VIEW)]
    serializer_class = OrderOutputSerializer
    pagination_class = OrderCursorPagination

    def get_queryset(self):
        from zoneinfo import ZoneInfo

        filters = OrderFilterSerializer(
            data=self.request.query_params, context={"zone": ZoneInfo(str(self.shop.time_zone))}
        )
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return orders_for_shop_api(
            shop=self.shop, status=data.get("status"), channel=data.get("channel", ""), since=data.get("since")
        )

    @extend_schema(
        operation_id="shop_orders_list",
        parameters=[OrderFilterSerializer],
        responses={200: OrderOutputSerializer(many=True), **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER, NUMBER_PARAMETER])
class ShopOrderDetailApi(ShopScopedApiView):
    """One order of the shop with its lines and its timeline (events)."""

    permission_classes = [shop_permission(Perm.ORDERS_VIEW)]

    @extend_schema(
        operation_id="shop_orders_retrieve",
        responses={200: OrderDetailOutputSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request, shop_slug: str, number: str):
        order = order_get_for_shop_api(shop=self.shop, number=number)
        return Response(OrderDetailOutputSerializer(order).data)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER, NUMBER_PARAMETER])
class ShopOrderTransitionCreateApi(ShopScopedApiView):
    """Move an order to another status (accept, pack, hand over, cancel with a reason…), as the
    state machine allows for your key's scopes or your role. 409 when the order cannot make that
    move from where it is; 403 when you may not make it."""

    permission_classes = [shop_permission(Perm.ORDERS_FULFIL)]

    @extend_schema(
        operation_id="shop_orders_transitions_create",
        request=TransitionInputSerializer,
        responses={201: OrderDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, shop_slug: str, number: str):
        order = order_get_for_shop_api(shop=self.shop, number=number)  # 404 before looking at the body
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order_move(
            order=order,
            to=data.validated_data["to"],
            actor=Actor.for_shop_principal(self.principal),
            reason=data.validated_data.get("reason", ""),
            via="api",
        )
        order = order_get_for_shop_api(shop=self.shop, number=number)
        return Response(OrderDetailOutputSerializer(order).data, status=201)

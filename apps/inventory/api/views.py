"""Stock API: a shop's stock levels and ledger (reads), receipts and adjustments (writes).

Routes live under ``/api/v1/shops/<shop_slug>/stock`` for API keys (scope ``stock``, which reads and
writes) and signed-in members (``stock.view`` to read, ``stock.adjust`` to write). Another shop's
slug or stock item is a 404. Writes go through ``apps.inventory.services``: a broken rule there
(``StockError``, e.g. taking away more than is on hand) becomes a 400 problem document and nothing
changes. Writes are not idempotent: a retried receipt is received again (send a ``reference`` and
look for it in the ledger before retrying).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from apps.inventory.models import StockItem, StockMovement
from apps.inventory.selectors import (
    movements_for_shop,
    stock_item_find,
    stock_item_get_for_shop,
    stock_levels_list,
)
from apps.inventory.services import stock_adjust, stock_receive
from apps.shops.api.permissions import shop_permission
from apps.shops.api.serializers import problem_responses
from apps.shops.api.views import SHOP_SLUG_PARAMETER, ShopScopedApiView
from apps.shops.models import Membership
from apps.shops.permissions import Perm

from .serializers import (
    StockAdjustmentInputSerializer,
    StockChangeOutputSerializer,
    StockLevelFilterSerializer,
    StockLevelOutputSerializer,
    StockMovementFilterSerializer,
    StockMovementOutputSerializer,
    StockReceiptInputSerializer,
)

ITEM_ID_PARAMETER = OpenApiParameter(
    "item_id", int, OpenApiParameter.PATH, description="The stock item's id (one variant at one location)."
)
SHOP_ERRORS = problem_responses(401, 403, 404)
TAGS = ["shop stock"]


class StockLevelPagination(PageNumberPagination):
    """By page number, so the table keeps its product order (a cursor needs a plain column order)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


class StockMovementCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


def _actor(view: ShopScopedApiView):
    """The person making the change; None for an API key (the ledger shows no actor then)."""
    return view.principal.user if isinstance(view.principal, Membership) else None


def _change_output(request, *, movement: StockMovement | None, item: StockItem | None) -> dict:
    """The body every write answers with: ``changed``, the ``movement`` recorded and the ``level`` now."""
    if movement is not None and item is not None:
        movement.item = item  # the re-read item carries the variant, product and level to show
    return StockChangeOutputSerializer(
        {"changed": movement is not None, "movement": movement, "level": item}, context={"request": request}
    ).data


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class StockLevelListApi(ShopScopedApiView, generics.ListAPIView):
    """The shop's stock table: one row per variant and location, ordered by product, variant and
    location (the default location first). API keys need the ``stock`` scope; members ``stock.view``."""

    permission_classes = [shop_permission(Perm.STOCK_VIEW)]
    serializer_class = StockLevelOutputSerializer
    pagination_class = StockLevelPagination

    def get_queryset(self):
        filters = StockLevelFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return stock_levels_list(
            shop=self.shop,
            sku=data.get("sku", ""),
            query=data.get("q", ""),
            location_id=data.get("location"),
            low_stock_only=data["low"],
        )

    @extend_schema(
        operation_id="shop_stock_list",
        parameters=[StockLevelFilterSerializer],
        responses={200: StockLevelOutputSerializer(many=True), **problem_responses(400), **SHOP_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER, ITEM_ID_PARAMETER])
class StockLevelDetailApi(ShopScopedApiView):
    """One stock item: a variant's level at one location."""

    permission_classes = [shop_permission(Perm.STOCK_VIEW)]

    @extend_schema(operation_id="shop_stock_retrieve", responses={200: StockLevelOutputSerializer, **SHOP_ERRORS})
    def get(self, request, shop_slug: str, item_id: int):
        item = stock_item_get_for_shop(shop=self.shop, item_id=item_id)
        return Response(StockLevelOutputSerializer(item, context={"request": request}).data)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class StockReceiptCreateApi(ShopScopedApiView):
    """Receive delivered units of a variant at a location (the shop's default one when none is
    given): the on-hand quantity rises and a ``receipt`` movement is recorded. Not idempotent: a
    retried request receives the units again."""

    permission_classes = [shop_permission(Perm.STOCK_ADJUST, read=Perm.STOCK_VIEW)]

    @extend_schema(
        operation_id="shop_stock_receipts_create",
        request=StockReceiptInputSerializer,
        responses={201: StockChangeOutputSerializer, **problem_responses(400), **SHOP_ERRORS},
    )
    def post(self, request, shop_slug: str):
        data = StockReceiptInputSerializer(data=request.data, context={"shop": self.shop})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        movement = stock_receive(
            variant=values["variant"],
            quantity=values["quantity"],
            location=values.get("location"),
            actor=_actor(self),
            reason=values.get("reason", ""),
            reference=values.get("reference", ""),
        )
        item = stock_item_get_for_shop(shop=self.shop, item_id=movement.item_id)
        return Response(_change_output(request, movement=movement, item=item), status=201)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class StockAdjustmentCreateApi(ShopScopedApiView):
    """Correct a variant's on-hand quantity at a location, to what was ``counted`` or by ``delta``
    units, with a reason. 201 with the ``adjustment`` movement; 200 with ``"changed": false`` when
    the count matches the books. On hand never drops below the units held for checkouts."""

    permission_classes = [shop_permission(Perm.STOCK_ADJUST, read=Perm.STOCK_VIEW)]

    @extend_schema(
        operation_id="shop_stock_adjustments_create",
        request=StockAdjustmentInputSerializer,
        responses={
            201: StockChangeOutputSerializer,
            200: StockChangeOutputSerializer,
            **problem_responses(400),
            **SHOP_ERRORS,
        },
    )
    def post(self, request, shop_slug: str):
        data = StockAdjustmentInputSerializer(data=request.data, context={"shop": self.shop})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        location = values.get("location")
        movement = stock_adjust(
            variant=values["variant"],
            reason=values["reason"],
            counted=values.get("counted"),
            delta=values.get("delta"),
            location=location,
            actor=_actor(self),
            reference=values.get("reference", ""),
        )
        if movement is not None:
            item = stock_item_get_for_shop(shop=self.shop, item_id=movement.item_id)
        else:
            item = stock_item_find(
                shop=self.shop, variant_id=values["variant"].pk, location_id=location.pk if location else None
            )
        body = _change_output(request, movement=movement, item=item)
        return Response(body, status=201 if movement is not None else 200)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class StockMovementListApi(ShopScopedApiView, generics.ListAPIView):
    """The shop's stock ledger, newest first: every receipt, sale, return, adjustment, transfer,
    write-off, checkout hold and release. API keys need the ``stock`` scope; members ``stock.view``."""

    permission_classes = [shop_permission(Perm.STOCK_VIEW)]
    serializer_class = StockMovementOutputSerializer
    pagination_class = StockMovementCursorPagination

    def get_queryset(self):
        filters = StockMovementFilterSerializer(data=self.request.query_params, context={"shop": self.shop})
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return movements_for_shop(
            shop=self.shop,
            since=data.get("since"),
            until=data.get("until"),
            kinds=data.get("kind"),
            variant_id=data.get("variant"),
            location_id=data.get("location"),
            sku=data.get("sku", ""),
        )

    @extend_schema(
        operation_id="shop_stock_movements_list",
        parameters=[StockMovementFilterSerializer],
        responses={200: StockMovementOutputSerializer(many=True), **problem_responses(400), **SHOP_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

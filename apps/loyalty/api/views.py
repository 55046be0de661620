"""Loyalty API.

For the signed-in buyer (session; API keys get 403): ``GET /api/v1/loyalty/account`` (points,
their worth, tier and the way to the next, points expiring soon) and ``GET /api/v1/loyalty/entries``
(their statement, newest first, cursor-paginated). Only the caller's own account is ever read.

For the shop (an API key with the ``loyalty`` scope, or a member with ``boosts.manage``):
``GET /api/v1/shops/{slug}/loyalty/boosts`` (its boosts with the orders they boosted, the points
they funded and their cost) and ``GET …/boosts/{id}/awards`` (the orders one boost added points
to). Another shop's slug or boost id is a 404 problem document.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.loyalty.selectors import (
    boost_awards_for_shop,
    boost_get_for_shop,
    boosts_for_shop,
    loyalty_summary,
    statement_for_user,
)
from apps.shops.api.permissions import shop_permission
from apps.shops.api.serializers import problem_responses
from apps.shops.api.views import SHOP_SLUG_PARAMETER, ShopScopedApiView
from apps.shops.permissions import Perm

from .serializers import (
    BoostAwardOutputSerializer,
    BoostOutputSerializer,
    LedgerEntryOutputSerializer,
    LoyaltyAccountOutputSerializer,
)

TAGS = ["loyalty"]
BOOST_ID_PARAMETER = OpenApiParameter("boost_id", int, OpenApiParameter.PATH, description="The boost's id.")


class _NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


class EntryCursorPagination(_NewestFirst):
    pass


class BoostCursorPagination(_NewestFirst):
    ordering = ("-starts_at", "-id")


class BoostAwardCursorPagination(_NewestFirst):
    pass


# --- the buyer ------------------------------------------------------------------------------------


@extend_schema(tags=TAGS)
class LoyaltyAccountApi(APIView):
    """The signed-in buyer's points account (zeros and the first tier before they ever earned)."""

    @extend_schema(
        operation_id="loyalty_account_retrieve",
        responses={200: LoyaltyAccountOutputSerializer, **problem_responses(401, 403)},
    )
    def get(self, request):
        return Response(LoyaltyAccountOutputSerializer(loyalty_summary(user=request.user)).data)


@extend_schema(tags=TAGS)
class LoyaltyEntryListApi(generics.ListAPIView):
    """The signed-in buyer's statement: every ledger entry, newest first."""

    serializer_class = LedgerEntryOutputSerializer
    pagination_class = EntryCursorPagination

    def get_queryset(self):
        return statement_for_user(user=self.request.user)

    @extend_schema(
        operation_id="loyalty_entries_list",
        responses={200: LedgerEntryOutputSerializer(many=True), **problem_responses(401, 403)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- the shop -------------------------------------------------------------------------------------


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER])
class ShopBoostListApi(ShopScopedApiView, generics.ListAPIView):
    """The shop's boosts, latest start first, with the points they funded and what those cost. API
    keys need the ``loyalty`` scope; members ``boosts.manage``."""

    permission_classes = [shop_permission(Perm.BOOSTS_MANAGE)]
    serializer_class = BoostOutputSerializer
    pagination_class = BoostCursorPagination

    def get_queryset(self):
        return boosts_for_shop(shop=self.shop)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "currency": self.shop.currency if self.shop else ""}

    @extend_schema(
        operation_id="shop_loyalty_boosts_list",
        responses={200: BoostOutputSerializer(many=True), **problem_responses(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS, parameters=[SHOP_SLUG_PARAMETER, BOOST_ID_PARAMETER])
class ShopBoostAwardListApi(ShopScopedApiView, generics.ListAPIView):
    """The orders one of the shop's boosts added points to, newest first (404 for another shop's
    boost)."""

    permission_classes = [shop_permission(Perm.BOOSTS_MANAGE)]
    serializer_class = BoostAwardOutputSerializer
    pagination_class = BoostAwardCursorPagination

    def get_queryset(self):
        boost = boost_get_for_shop(shop=self.shop, boost_id=self.kwargs["boost_id"])
        return boost_awards_for_shop(shop=self.shop, boost=boost)

    @extend_schema(
        operation_id="shop_loyalty_boost_awards_list",
        responses={200: BoostAwardOutputSerializer(many=True), **problem_responses(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

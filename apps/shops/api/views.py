"""Shops API: the public shop directory, and the base class of every shop-scoped API view."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.shops.selectors import shop_get_public, shop_list_public

from .serializers import ShopDetailOutputSerializer, ShopFilterSerializer, ShopListOutputSerializer, problem_responses

SHOP_SLUG_PARAMETER = OpenApiParameter(
    "shop_slug", str, OpenApiParameter.PATH, description="The shop's web address (slug), e.g. `kampong-crafts`."
)


class ShopScopedApiView(APIView):
    """An API view acting inside one shop (``<shop_slug>`` in its URL).

    Set ``permission_classes = [shop_permission(Perm.X, read=Perm.Y)]``; the permission resolves the
    API key or member for the shop and sets ``self.shop`` (404 for another tenant's shop).
    """

    shop = None
    principal = None


class ShopCursorPagination(CursorPagination):
    ordering = ("name", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema(tags=["shops"])
class ShopListApi(generics.ListAPIView):
    """Shops buyers can see (only the site's own shop on a dedicated deployment), by name."""

    permission_classes = [AllowAny]
    serializer_class = ShopListOutputSerializer
    pagination_class = ShopCursorPagination

    def get_queryset(self):
        filters = ShopFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return shop_list_public(
            query=filters.validated_data.get("q", "").strip(),
            postcode=filters.validated_data.get("postcode", "").strip(),
        )

    @extend_schema(
        operation_id="shops_list",
        parameters=[ShopFilterSerializer],
        responses={200: ShopListOutputSerializer(many=True), **problem_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["shops"])
class ShopDetailApi(APIView):
    """One shop's public profile: story, photos, weekly opening hours."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="shops_retrieve",
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The shop's web address.")],
        responses={200: ShopDetailOutputSerializer, **problem_responses(404)},
    )
    def get(self, request, slug: str):
        shop = shop_get_public(slug=slug)
        return Response(ShopDetailOutputSerializer(shop, context={"request": request}).data)

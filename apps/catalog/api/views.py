"""Catalog API: public reads (categories, products) and a shop's own catalog for its integrations.

Shop routes live under ``/api/v1/shops/<shop_slug>/products`` for API keys and signed-in members
alike: the key's shop (or the member's) must be the one in the URL, else 404. Writes go through
``apps.catalog.services``; a broken rule there (``CatalogError``) becomes a 400 problem document.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog.search import product_search
from apps.catalog.selectors import (
    categories_all,
    product_get_for_shop,
    product_get_public_by_id,
    product_list_for_integration,
    product_list_public_filtered,
)
from apps.catalog.services import product_archive, product_create, product_patch
from apps.shops.api.permissions import shop_permission
from apps.shops.api.serializers import problem_responses
from apps.shops.api.views import SHOP_SLUG_PARAMETER, ShopScopedApiView
from apps.shops.permissions import Perm

from .serializers import (
    CategoryOutputSerializer,
    ProductCreateInputSerializer,
    ProductFilterSerializer,
    ProductOutputSerializer,
    ProductPatchInputSerializer,
    SearchInputSerializer,
    SearchOutputSerializer,
    ShopProductFilterSerializer,
    ShopProductOutputSerializer,
    VariantInputSerializer,
)

PRODUCT_ID_PARAMETER = OpenApiParameter("product_id", int, OpenApiParameter.PATH, description="The product's id.")


class ProductCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


# --- public ------------------------------------------------------------------------------------


@extend_schema(tags=["catalog"])
class CategoryListApi(generics.ListAPIView):
    """Every category, flat, each naming its parent's slug (null for top-level ones); rebuild the
    tree from ``parent``. Ordered by position, then name."""

    permission_classes = [AllowAny]
    serializer_class = CategoryOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return categories_all()

    @extend_schema(operation_id="categories_list", responses={200: CategoryOutputSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["catalog"])
class ProductListApi(generics.ListAPIView):
    """Published products buyers can see, newest first (only the site's shop when dedicated)."""

    permission_classes = [AllowAny]
    serializer_class = ProductOutputSerializer
    pagination_class = ProductCursorPagination

    def get_queryset(self):
        filters = ProductFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return product_list_public_filtered(
            shop_slug=data.get("shop", ""),
            category=data.get("category"),
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            currency=data.get("currency", ""),
            query=data.get("q", "").strip(),
        )

    @extend_schema(
        operation_id="products_list",
        parameters=[ProductFilterSerializer],
        responses={200: ProductOutputSerializer(many=True), **problem_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["catalog"])
class ProductDetailApi(APIView):
    """One published product."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="products_retrieve",
        parameters=[PRODUCT_ID_PARAMETER],
        responses={200: ProductOutputSerializer, **problem_responses(404)},
    )
    def get(self, request, product_id: int):
        product = product_get_public_by_id(product_id=product_id)
        return Response(ProductOutputSerializer(product, context={"request": request}).data)


# --- a shop's own catalog ----------------------------------------------------------------------

SHOP_ERRORS = problem_responses(401, 403, 404)


def _shop_product_output(request, shop, product_id: int) -> dict:
    product = product_get_for_shop(shop=shop, product_id=product_id)
    return ShopProductOutputSerializer(product, context={"request": request}).data


@extend_schema(tags=["shop catalog"], parameters=[SHOP_SLUG_PARAMETER])
class ShopProductListApi(ShopScopedApiView, generics.ListAPIView):
    """The shop's products in every status (drafts too), newest first. API keys need
    ``catalog:read`` to list and ``catalog:write`` to create; members need the matching role."""

    permission_classes = [shop_permission(Perm.CATALOG_EDIT, read=Perm.CATALOG_VIEW)]
    serializer_class = ShopProductOutputSerializer
    pagination_class = ProductCursorPagination

    def get_queryset(self):
        filters = ShopProductFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return product_list_for_integration(
            shop=self.shop,
            status=filters.validated_data.get("status", ""),
            query=filters.validated_data.get("q", "").strip(),
        )

    @extend_schema(
        operation_id="shop_products_list",
        parameters=[ShopProductFilterSerializer],
        responses={200: ShopProductOutputSerializer(many=True), **SHOP_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="shop_products_create",
        request=ProductCreateInputSerializer,
        responses={201: ShopProductOutputSerializer, **problem_responses(400), **SHOP_ERRORS},
    )
    def post(self, request, shop_slug: str):
        data = ProductCreateInputSerializer(data=request.data, context={"shop": self.shop})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        variant_input = VariantInputSerializer()
        product = product_create(
            shop=self.shop,
            title=values["title"],
            description=values.get("description", ""),
            category=values.get("category"),
            status=values.get("status", "draft"),
            tags=values.get("tags"),
            variants=[variant_input.to_variant_data(v) for v in values["variants"]],
        )
        return Response(_shop_product_output(request, self.shop, product.pk), status=201)


@extend_schema(tags=["shop catalog"], parameters=[SHOP_SLUG_PARAMETER, PRODUCT_ID_PARAMETER])
class ShopProductDetailApi(ShopScopedApiView):
    """One of the shop's products, in any status; PATCH changes it (variants upserted by SKU)."""

    permission_classes = [shop_permission(Perm.CATALOG_EDIT, read=Perm.CATALOG_VIEW)]

    @extend_schema(operation_id="shop_products_retrieve", responses={200: ShopProductOutputSerializer, **SHOP_ERRORS})
    def get(self, request, shop_slug: str, product_id: int):
        return Response(_shop_product_output(request, self.shop, product_id))

    @extend_schema(
        operation_id="shop_products_partial_update",
        request=ProductPatchInputSerializer,
        responses={200: ShopProductOutputSerializer, **problem_responses(400), **SHOP_ERRORS},
    )
    def patch(self, request, shop_slug: str, product_id: int):
        product = product_get_for_shop(shop=self.shop, product_id=product_id)
        data = ProductPatchInputSerializer(data=request.data, context={"shop": self.shop, "product": product})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        current = {v.sku: v for v in product.variants.all()}
        variant_input = VariantInputSerializer()
        variants = [variant_input.to_variant_data(v, current.get(v["sku"])) for v in values.pop("variants", [])]
        product_patch(product=product, variants=variants, tags=values.pop("tags", None), **values)
        return Response(_shop_product_output(request, self.shop, product.pk))


@extend_schema(tags=["shop catalog"], parameters=[SHOP_SLUG_PARAMETER, PRODUCT_ID_PARAMETER])
class ShopProductArchiveApi(ShopScopedApiView):
    """Hide the product from buyers (it stays in order history); PATCH ``status`` brings it back."""

    permission_classes = [shop_permission(Perm.CATALOG_EDIT)]

    @extend_schema(
        operation_id="shop_products_archive",
        request=None,
        responses={200: ShopProductOutputSerializer, **SHOP_ERRORS},
    )
    def post(self, request, shop_slug: str, product_id: int):
        product_archive(product=product_get_for_shop(shop=self.shop, product_id=product_id))
        return Response(_shop_product_output(request, self.shop, product_id))


# --- search ------------------------------------------------------------------------------------


def _page_url(request, page: int) -> str:
    params = request.query_params.copy()
    params["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


@extend_schema(tags=["catalog"])
class SearchApi(APIView):
    """Local-first product search: relevance blended with distance from the given location.

    Send ``lat``/``lon`` (or a Singapore ``postcode``) to rank nearby shops first and to use the
    distance filters; without one, distance plays no part and ``notices`` says what was ignored.
    """

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="search",
        parameters=[SearchInputSerializer],
        responses={200: SearchOutputSerializer, **problem_responses(400)},
    )
    def get(self, request):
        params = SearchInputSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        max_distance = data.get("max_distance_km")
        result = product_search(
            query=data.get("q", ""),
            location=data.get("location"),
            category=data.get("category"),
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            max_distance_km=float(max_distance) if max_distance is not None else None,
            pickup=data["pickup"],
            delivery=data["delivery"],
            sort=data["sort"],
            page=data["page"],
            per_page=data["per_page"],
        )
        result_page = {
            "query": result.query,
            "sort": result.sort,
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "num_pages": result.num_pages,
            "next": _page_url(request, result.page + 1) if result.has_next else None,
            "previous": _page_url(request, result.page - 1) if result.has_previous else None,
            "location_used": result.location_used,
            "notices": [str(n) for n in result.notices],
            "hits": result.hits,
        }
        return Response(SearchOutputSerializer(result_page, context={"request": request}).data)

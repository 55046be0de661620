from django.urls import path

from .views import (
    CategoryListApi,
    ProductDetailApi,
    ProductListApi,
    SearchApi,
    ShopProductArchiveApi,
    ShopProductDetailApi,
    ShopProductListApi,
)

urlpatterns = [
    path("categories", CategoryListApi.as_view(), name="category-list"),
    path("products", ProductListApi.as_view(), name="product-list"),
    path("products/<int:product_id>", ProductDetailApi.as_view(), name="product-detail"),
    path("search", SearchApi.as_view(), name="search"),
    path("shops/<slug:shop_slug>/products", ShopProductListApi.as_view(), name="shop-product-list"),
    path(
        "shops/<slug:shop_slug>/products/<int:product_id>", ShopProductDetailApi.as_view(), name="shop-product-detail"
    ),
    path(
        "shops/<slug:shop_slug>/products/<int:product_id>/archive",
        ShopProductArchiveApi.as_view(),
        name="shop-product-archive",
    ),
]

from django.urls import path

from .views import (
    StockAdjustmentCreateApi,
    StockLevelDetailApi,
    StockLevelListApi,
    StockMovementListApi,
    StockReceiptCreateApi,
)

urlpatterns = [
    path("shops/<slug:shop_slug>/stock", StockLevelListApi.as_view(), name="shop-stock-list"),
    path("shops/<slug:shop_slug>/stock/<int:item_id>", StockLevelDetailApi.as_view(), name="shop-stock-detail"),
    path("shops/<slug:shop_slug>/stock/receipts", StockReceiptCreateApi.as_view(), name="shop-stock-receipt-create"),
    path(
        "shops/<slug:shop_slug>/stock/adjustments",
        StockAdjustmentCreateApi.as_view(),
        name="shop-stock-adjustment-create",
    ),
    path("shops/<slug:shop_slug>/stock/movements", StockMovementListApi.as_view(), name="shop-stock-movement-list"),
]

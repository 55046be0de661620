from django.urls import path

from .files import OrderFileDetailApi, OrderFileListCreateApi, OrderFileReportCsvApi
from .logistics import LogisticsOrderBulkApi, LogisticsOrderDeliveredApi, LogisticsOrderFailedApi, LogisticsOrderListApi
from .views import (
    OrderIntakeCreateApi,
    OrderIntakeDetailApi,
    ShopOrderDetailApi,
    ShopOrderListApi,
    ShopOrderTransitionCreateApi,
)

urlpatterns = [
    path("logistics/orders", LogisticsOrderListApi.as_view(), name="logistics-order-list"),
    path("logistics/orders/bulk", LogisticsOrderBulkApi.as_view(), name="logistics-order-bulk"),
    path(
        "logistics/orders/<str:number>/delivered",
        LogisticsOrderDeliveredApi.as_view(),
        name="logistics-order-delivered",
    ),
    path("logistics/orders/<str:number>/failed", LogisticsOrderFailedApi.as_view(), name="logistics-order-failed"),
    path("orders", OrderIntakeCreateApi.as_view(), name="order-create"),
    path("orders/files", OrderFileListCreateApi.as_view(), name="order-file-list"),
    path("orders/files/<int:file_id>", OrderFileDetailApi.as_view(), name="order-file-detail"),
    path("orders/files/<int:file_id>/report.csv", OrderFileReportCsvApi.as_view(), name="order-file-report-csv"),
    path("orders/intakes/<int:intake_id>", OrderIntakeDetailApi.as_view(), name="order-intake-detail"),
    path("shops/<slug:shop_slug>/orders", ShopOrderListApi.as_view(), name="shop-order-list"),
    path("shops/<slug:shop_slug>/orders/<str:number>", ShopOrderDetailApi.as_view(), name="shop-order-detail"),
    path(
        "shops/<slug:shop_slug>/orders/<str:number>/transitions",
        ShopOrderTransitionCreateApi.as_view(),
        name="shop-order-transition-create",
    ),
]

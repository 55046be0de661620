"""Root URLs: the website, accounts, admin, the API under /api/v1/ and ops endpoints."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.orders.views_backoffice import backoffice_home

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("accounts/", include(("apps.accounts.api.urls", "accounts"))),
    path("", include(("apps.shops.api.urls", "shops"))),
    path("", include(("apps.catalog.api.urls", "catalog"))),
    path("", include(("apps.inventory.api.urls", "inventory"))),
    path("", include(("apps.orders.api.urls", "orders"))),
    path("", include(("apps.messaging.api.urls", "messaging"))),
    path("", include(("apps.loyalty.api.urls", "loyalty"))),
]

urlpatterns = [
    path("", include("apps.core.urls")),
    path("", include(("apps.catalog.urls_public", "catalog"))),
    path("search/", include(("apps.catalog.urls_search", "search"))),
    path("sell/<slug:shop_slug>/products/", include(("apps.catalog.urls_seller", "catalog_seller"))),
    path("sell/<slug:shop_slug>/imports/", include(("apps.catalog.urls_imports", "catalog_imports"))),
    path("sell/<slug:shop_slug>/stock/", include(("apps.inventory.urls_seller", "inventory_seller"))),
    path("sell/<slug:shop_slug>/stock/anomalies/", include(("apps.inventory.urls_anomalies", "inventory_anomalies"))),
    path("", include(("apps.payments.urls", "payments"))),
    path("payments/stripe/", include(("apps.payments.urls_webhooks", "payments_webhooks"))),
    path("sell/<slug:shop_slug>/orders/", include(("apps.orders.urls_seller", "orders_seller"))),
    path("sell/<slug:shop_slug>/delivery/board/", include(("apps.delivery.urls_board", "delivery_board"))),
    path("sell/<slug:shop_slug>/delivery/", include(("apps.delivery.urls_seller", "delivery_seller"))),
    path("sell/<slug:shop_slug>/messages/", include(("apps.messaging.urls_seller", "messaging_seller"))),
    path("sell/<slug:shop_slug>/loyalty/", include(("apps.loyalty.urls_seller", "loyalty_seller"))),
    path("messages/unsubscribe/", include(("apps.messaging.urls_unsubscribe", "messaging_unsubscribe"))),
    path("messages/", include(("apps.messaging.urls_buyer", "messaging"))),
    path("loyalty/", include(("apps.loyalty.urls_buyer", "loyalty"))),
    path("sell/", include("apps.shops.urls")),
    path("", include(("apps.orders.urls", "orders"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("apps.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("backoffice/", backoffice_home, name="backoffice"),
    path("backoffice/orders/", include(("apps.orders.urls_backoffice", "orders_backoffice"))),
    path("backoffice/messages/", include(("apps.messaging.urls_backoffice", "messaging_backoffice"))),
    path("api/v1/", include((api_v1, "api"))),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "apps.core.views.error_400"
handler403 = "apps.core.views.error_403"
handler404 = "apps.core.views.error_404"
handler500 = "apps.core.views.error_500"

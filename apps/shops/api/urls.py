from django.urls import path

from .views import ShopDetailApi, ShopListApi

urlpatterns = [
    path("shops", ShopListApi.as_view(), name="shop-list"),
    path("shops/<slug:slug>", ShopDetailApi.as_view(), name="shop-detail"),
]

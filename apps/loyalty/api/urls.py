from django.urls import path

from .views import LoyaltyAccountApi, LoyaltyEntryListApi, ShopBoostAwardListApi, ShopBoostListApi

urlpatterns = [
    path("loyalty/account", LoyaltyAccountApi.as_view(), name="account"),
    path("loyalty/entries", LoyaltyEntryListApi.as_view(), name="entry-list"),
    path("shops/<slug:shop_slug>/loyalty/boosts", ShopBoostListApi.as_view(), name="shop-boost-list"),
    path(
        "shops/<slug:shop_slug>/loyalty/boosts/<int:boost_id>/awards",
        ShopBoostAwardListApi.as_view(),
        name="shop-boost-award-list",
    ),
]

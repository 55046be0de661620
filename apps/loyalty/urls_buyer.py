"""The buyer's loyalty pages, mounted at ``loyalty/`` (namespace ``loyalty``)."""

from django.urls import path

from . import views_buyer

urlpatterns = [
    path("", views_buyer.loyalty_home, name="home"),
    path("badge/", views_buyer.balance_badge, name="badge"),
]

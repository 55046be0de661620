"""Seller anomaly review URLs, mounted at ``/sell/<shop_slug>/stock/anomalies/`` (namespace
``inventory_anomalies``)."""

from django.urls import path

from . import views_anomalies as views

urlpatterns = [
    path("", views.anomaly_list, name="list"),
    path("<int:anomaly_id>/", views.anomaly_detail, name="detail"),
    path("<int:anomaly_id>/review/", views.anomaly_review_view, name="review"),
]

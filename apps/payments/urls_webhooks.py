"""Stripe's webhook endpoint, included under ``payments/stripe/`` (namespace ``payments_webhooks``)."""

from django.urls import path

from . import views_webhooks

urlpatterns = [
    path("webhook/", views_webhooks.stripe_webhook, name="stripe"),
]

"""The payments pages: the seller's payout ledger, the buyer's saved cards, and the return page
after Stripe. Included at the root under the ``payments`` namespace."""

from django.urls import path

from . import views_buyer, views_seller

urlpatterns = [
    path("sell/<slug:shop_slug>/payouts/", views_seller.payouts, name="payouts"),
    path("accounts/cards/", views_buyer.cards, name="cards"),
    path("accounts/cards/add/", views_buyer.card_add, name="card-add"),
    path("accounts/cards/added/", views_buyer.card_added, name="card-added"),
    path("accounts/cards/<int:card_id>/remove/", views_buyer.card_remove, name="card-remove"),
    path("accounts/cards/<int:card_id>/default/", views_buyer.card_make_default, name="card-default"),
    path("payments/return/", views_buyer.payment_return, name="return"),
]

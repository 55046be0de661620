from django.urls import path

from . import views_seller

urlpatterns = [
    path("", views_seller.product_list, name="list"),
]

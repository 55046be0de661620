from django.urls import path

from . import views_seller as views

urlpatterns = [
    path("", views.order_list, name="list"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/collect/", views.order_collect, name="collect"),
    path("<str:number>/refund/", views.order_refund_view, name="refund"),
]

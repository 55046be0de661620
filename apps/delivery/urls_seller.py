from django.urls import path

from . import views_seller as views

urlpatterns = [
    path("", views.delivery_home, name="home"),
    path("zone/", views.zone_edit, name="zone"),
    path("slots/new/", views.slot_add, name="slot-add"),
    path("slots/<int:slot_id>/", views.slot_edit, name="slot-edit"),
    path("slots/<int:slot_id>/delete/", views.slot_delete, name="slot-delete"),
    path("couriers/new/", views.courier_add, name="courier-add"),
    path("couriers/<int:courier_id>/", views.courier_edit, name="courier-edit"),
]

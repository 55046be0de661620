from django.urls import path

from . import views_seller as views

urlpatterns = [
    path("", views.boost_list, name="list"),
    path("boosts/new/", views.boost_add, name="boost-add"),
    path("boosts/<int:boost_id>/", views.boost_edit, name="boost-edit"),
    path("boosts/<int:boost_id>/off/", views.boost_switch_off, name="boost-off"),
    path("boosts/<int:boost_id>/awards/", views.boost_awards, name="boost-awards"),
]

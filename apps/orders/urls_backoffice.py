"""The back office's order pages, mounted under ``/backoffice/orders/`` (staff with MFA only)."""

from django.urls import path

from . import views_backoffice as views

urlpatterns = [
    path("", views.order_search, name="orders"),
    path("incoming/", views.intake_queue, name="intakes"),
    path("incoming/re-push/", views.intakes_repush_view, name="intakes-repush"),
    path("incoming/<int:intake_id>/", views.intake_detail, name="intake"),
    path("files/", views.order_files, name="files"),
    path("files/<int:file_id>/", views.order_file_detail, name="file"),
    path("warnings/", views.warning_list, name="warnings"),
    path("warnings/<int:warning_id>/acknowledge/", views.warning_acknowledge_view, name="warning-acknowledge"),
    path("statistics/", views.statistics, name="statistics"),
    path("<str:number>/", views.order_detail, name="order"),
    path("<str:number>/transition/", views.order_transition_view, name="transition"),
]

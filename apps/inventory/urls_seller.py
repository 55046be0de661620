from django.urls import path

from . import views_seller as views

urlpatterns = [
    path("", views.stock_list, name="list"),
    path("live/", views.stock_live_panel, name="live"),
    path("<int:item_id>/", views.stock_item, name="item"),
    path("<int:item_id>/threshold/", views.stock_item_threshold, name="threshold"),
    path("receive/", views.stock_change_view, {"change": "receive"}, name="receive"),
    path("adjust/", views.stock_change_view, {"change": "adjust"}, name="adjust"),
    path("transfer/", views.stock_change_view, {"change": "transfer"}, name="transfer"),
    path("write-off/", views.stock_change_view, {"change": "shrinkage"}, name="shrinkage"),
    path("locations/", views.location_list, name="locations"),
    path("locations/<int:location_id>/default/", views.location_make_default, name="location-default"),
    path("counts/", views.count_list, name="counts"),
    path("counts/example.csv", views.count_example_csv, name="count-example"),
    path("counts/<int:count_id>/", views.count_detail, name="count"),
    path("counts/<int:count_id>/progress/", views.count_progress, name="count-progress"),
    path("counts/<int:count_id>/errors.csv", views.count_errors_csv, name="count-errors"),
    path("alerts/", views.alert_settings, name="alerts"),
]

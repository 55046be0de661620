"""Seller portal URLs under /sell/. Every route with ``<shop_slug>`` goes through ``seller_view``."""

from django.urls import include, path

from . import views

app_name = "shops"

shop_patterns = [
    path("", views.dashboard, name="dashboard"),
    path("settings/", views.shop_settings, name="settings"),
    path("settings/photos/", views.shop_photo_upload, name="photo-upload"),
    path("settings/photos/<int:photo_id>/delete/", views.shop_photo_delete, name="photo-delete"),
    path("staff/", views.staff, name="staff"),
    path("staff/<int:membership_id>/role/", views.member_role, name="member-role"),
    path("staff/<int:membership_id>/remove/", views.member_remove, name="member-remove"),
    path("staff/invitations/<int:invitation_id>/revoke/", views.invitation_revoke_view, name="invitation-revoke"),
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
]

urlpatterns = [
    path("", views.seller_home, name="seller-home"),
    path("open/", views.shop_open_view, name="open"),
    path("tenancy/", views.tenancy_explained, name="tenancy"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation-accept"),
    path("<slug:shop_slug>/", include(shop_patterns)),
]

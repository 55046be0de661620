from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("mfa/", views.mfa_overview, name="mfa"),
    path("mfa/setup/", views.mfa_setup, name="mfa-setup"),
    path("mfa/verify/", views.mfa_verify, name="mfa-verify"),
    path("mfa/authenticate/", views.mfa_authenticate, name="mfa-authenticate"),
    path("mfa/backup-codes/", views.mfa_backup_codes, name="mfa-backup-codes"),
    path("mfa/turn-off/", views.mfa_turn_off, name="mfa-turn-off"),
    path("addresses/", views.address_list, name="addresses"),
    path("addresses/new/", views.address_create_view, name="address-create"),
    path("addresses/<int:address_id>/edit/", views.address_edit, name="address-edit"),
    path("addresses/<int:address_id>/delete/", views.address_delete_view, name="address-delete"),
    path("addresses/<int:address_id>/default/", views.address_make_default_view, name="address-default"),
]

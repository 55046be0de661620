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
]

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """People: email login (allauth), TOTP MFA with backup codes (django-otp), profile."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from apps.core.registry import demo_seeders

        from .demo import seed_demo_accounts

        demo_seeders.register("accounts", seed_demo_accounts, order=10)

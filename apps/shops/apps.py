from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopsConfig(AppConfig):
    """The tenant: shops, their staff and roles, API keys, shared or dedicated tenancy."""

    name = "apps.shops"
    label = "shops"
    verbose_name = _("Shops")

    def ready(self) -> None:
        from apps.accounts.selectors import mfa_requirement_rule_register

        from .selectors import user_must_use_mfa_as_shop_owner

        mfa_requirement_rule_register("shop-owners", user_must_use_mfa_as_shop_owner)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    """Loyalty rebates: every buyer's points account and its append-only ledger, tiers by rolling
    12-month spend, shop-funded boosts, redemption at checkout and 1-Click, expiry and the nightly
    jobs. It knows an order only by its number; the orders app calls its services."""

    name = "apps.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

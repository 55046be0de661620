from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _tiers_after_migrate(sender, using="default", **kwargs) -> None:
    from .services import tiers_default_ensure

    tiers_default_ensure()


class LoyaltyConfig(AppConfig):
    """Loyalty rebates: every buyer's points account and its append-only ledger, tiers by rolling
    12-month spend, shop-funded boosts, redemption at checkout and 1-Click, expiry and the nightly
    jobs. It knows an order only by its number; the orders app calls its services."""

    name = "apps.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # After migrate, and after a test flushes the database: the starting tiers are there.
        post_migrate.connect(_tiers_after_migrate, sender=self, dispatch_uid="loyalty.tiers")

        from . import metrics

        metrics.metrics_register()

        from django.core import checks

        from .checks import point_values

        checks.register(point_values, "loyalty")

        from apps.core.registry import product_page_panels

        from .panels import boost_panel

        product_page_panels.register("loyalty-boost", boost_panel, order=20)

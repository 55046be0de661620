from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    """Stock per variant and location, its append-only ledger of movements, and checkout reservations."""

    name = "apps.inventory"
    label = "inventory"
    verbose_name = _("Inventory")

    def ready(self) -> None:
        from apps.core.registry import demo_seeders, seller_dashboard_panels

        from .demo import seed_demo_inventory
        from .views_seller import stock_panel_for

        seller_dashboard_panels.register("stock", stock_panel_for, order=20)
        demo_seeders.register("inventory", seed_demo_inventory, order=40)

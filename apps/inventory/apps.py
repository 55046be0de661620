from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    """Stock per variant and location, its append-only ledger of movements, and checkout reservations."""

    name = "apps.inventory"
    label = "inventory"
    verbose_name = _("Inventory")

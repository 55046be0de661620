from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    """Categories, products with variants, images, tags, CSV import and local-first search."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from apps.core.registry import demo_seeders

        from .demo import seed_demo_catalog

        demo_seeders.register("catalog", seed_demo_catalog, order=30)

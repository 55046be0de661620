from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    """Categories, products with variants, images, tags, CSV import and local-first search."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

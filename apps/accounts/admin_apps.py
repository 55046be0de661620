from django.contrib.admin.apps import AdminConfig


class LocalBazaarAdminConfig(AdminConfig):
    """Django admin on a site that demands a verified second factor (see ``admin_site``)."""

    default_site = "apps.accounts.admin_site.MfaAdminSite"

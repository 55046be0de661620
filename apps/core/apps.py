from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Shared base pieces: money, errors, audit log, request ids, health checks. Imports no domain app."""

    name = "apps.core"
    label = "core"
    verbose_name = _("Core")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    """Same-day delivery: each shop's zone, slots with capacity and cut-offs, fees and couriers; slot
    bookings safe under concurrency; delivery runs built at each slot's cut-off (stops in a short
    route) and worked by a courier. Sits below orders: it knows orders only by their number and
    tells the orders app what happened through signals (``apps.delivery.signals``)."""

    name = "apps.delivery"
    label = "delivery"
    verbose_name = _("Delivery")

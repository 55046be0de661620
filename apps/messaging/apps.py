from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    """Buyer–seller conversations about a shop, a product or an order: the buyer's messages, the
    shop's shared inbox, read receipts, quiet-period email notifications, and abuse controls."""

    name = "apps.messaging"
    label = "messaging"
    verbose_name = _("Messages")

    def ready(self) -> None:
        from .receivers import notify_on_message_sent
        from .signals import message_sent

        message_sent.connect(notify_on_message_sent, dispatch_uid="messaging.notify_on_message_sent")

        from apps.core.registry import product_page_panels

        from .panels import product_message_panel

        product_page_panels.register("messaging", product_message_panel, order=50)

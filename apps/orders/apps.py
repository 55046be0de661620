from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """The cart, checkout (one payment, one order per shop), 1-Click Buying and buyers' orders."""

    name = "apps.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from apps.core.registry import demo_seeders, product_page_panels
        from apps.payments.signals import payment_failed, payment_refunded, payment_succeeded

        from .demo import seed_demo_orders
        from .demo_loyalty import seed_demo_loyalty
        from .panels import buy_panel
        from .receivers import (
            merge_guest_cart,
            payment_failed_received,
            payment_refunded_received,
            payment_succeeded_received,
        )

        product_page_panels.register("buy", buy_panel, order=10)
        demo_seeders.register("orders", seed_demo_orders, order=60)
        demo_seeders.register("loyalty", seed_demo_loyalty, order=65)  # after the orders it builds on
        user_logged_in.connect(merge_guest_cart, dispatch_uid="orders.merge_guest_cart")
        payment_succeeded.connect(payment_succeeded_received, dispatch_uid="orders.payment_succeeded")
        payment_refunded.connect(payment_refunded_received, dispatch_uid="orders.payment_refunded")
        payment_failed.connect(payment_failed_received, dispatch_uid="orders.payment_failed")

        from .receivers import credit_note_on_order_refunded, invoice_on_order_placed, invoice_on_status_changed
        from .signals import order_placed, order_refunded, order_status_changed

        order_status_changed.connect(invoice_on_status_changed, dispatch_uid="orders.documents.invoice_on_status")
        order_placed.connect(invoice_on_order_placed, dispatch_uid="orders.documents.invoice_on_placed")
        order_refunded.connect(credit_note_on_order_refunded, dispatch_uid="orders.documents.credit_note")

        from . import metrics
        from .signals import order_placed, order_status_changed

        metrics.metrics_register()
        order_placed.connect(metrics.order_placed_count, dispatch_uid="orders.metrics.order_placed")
        order_status_changed.connect(metrics.order_transition_count, dispatch_uid="orders.metrics.transition")

        from apps.delivery.signals import delivery_run_started, delivery_stop_done

        from .receivers_delivery import (
            delivery_run_started_received,
            delivery_stop_done_received,
            slot_follows_order_status,
        )

        delivery_run_started.connect(delivery_run_started_received, dispatch_uid="orders.delivery.run_started")
        delivery_stop_done.connect(delivery_stop_done_received, dispatch_uid="orders.delivery.stop_done")
        order_status_changed.connect(slot_follows_order_status, dispatch_uid="orders.delivery.slot_follows_status")

        from .receivers_loyalty import loyalty_follows_refund, loyalty_follows_status, loyalty_on_order_placed

        order_status_changed.connect(loyalty_follows_status, dispatch_uid="orders.loyalty.follows_status")
        order_placed.connect(loyalty_on_order_placed, dispatch_uid="orders.loyalty.on_placed")
        order_refunded.connect(loyalty_follows_refund, dispatch_uid="orders.loyalty.follows_refund")

"""Receivers that keep a buyer's loyalty points in step with their orders. Connected in
``OrdersConfig.ready``; each only calls ``apps.orders.services_loyalty``, inside the sender's
transaction (so points and the order move together or not at all)."""

from __future__ import annotations


def loyalty_follows_status(sender, order, from_status="", to_status="", **kwargs) -> None:
    from .services_loyalty import order_loyalty_follow_status

    order_loyalty_follow_status(order=order, from_status=from_status, to_status=to_status)


def loyalty_on_order_placed(sender, order, **kwargs) -> None:
    """A pay-on-pickup order is confirmed as it is placed (no status change follows): it earns now."""
    if order.status == "confirmed":
        from .services_loyalty import order_earning_record

        order_earning_record(order=order)


def loyalty_follows_refund(sender, order, **kwargs) -> None:
    from .services_loyalty import order_loyalty_follow_refund

    order_loyalty_follow_refund(order=order)

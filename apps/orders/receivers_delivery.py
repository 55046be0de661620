"""Receivers for what the delivery app tells the orders app (``apps.delivery.signals``), and for the
orders' own status changes that a delivery slot must follow. Connected in ``OrdersConfig.ready``;
each only calls a service of ``apps.orders.services_delivery``, inside the sender's transaction."""

from __future__ import annotations


def delivery_run_started_received(sender, run, references, actor_label: str = "", **kwargs) -> None:
    """The courier left: the run's packed orders go out for delivery."""
    from .services_delivery import orders_out_for_delivery

    orders_out_for_delivery(references=list(references), run=run, actor_label=actor_label)


def delivery_stop_done_received(
    sender, run, stop, reference, delivered, reason: str = "", actor_label: str = "", **kwargs
) -> None:
    """A stop was delivered or failed: the order follows (an illegal move undoes the stop)."""
    from .services_delivery import order_delivery_done

    order_delivery_done(reference=reference, delivered=delivered, reason=reason, actor_label=actor_label, run=run)


def slot_follows_order_status(sender, order, to_status, **kwargs) -> None:
    """A delivery order was paid (its slot is confirmed) or cancelled / not paid in time (its slot is
    released with the stock)."""
    if order.fulfilment != "delivery":
        return
    from .services_delivery import order_slot_follow_status

    order_slot_follow_status(order=order, to_status=to_status, from_status=kwargs.get("from_status", ""))

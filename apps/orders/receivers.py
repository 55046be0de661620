"""Receivers the orders app connects in ``OrdersConfig.ready``; each only calls a service."""

from .selectors import cart_count, cart_get
from .services import cart_merge

GUEST_CART_SESSION_KEY = "orders_guest_cart"  # apps.orders.views keeps the guest's cart token here
CART_COUNT_SESSION_KEY = "orders_cart_count"  # items in the cart, for the header


def merge_guest_cart(sender, request, user, **kwargs) -> None:
    """A guest's cart joins the buyer's cart on sign-in (the token is in the session's data, which
    sign-in keeps)."""
    if request is None:
        return
    token = request.session.pop(GUEST_CART_SESSION_KEY, None)
    if token:
        cart_merge(session_key=token, user=user)
    request.session[CART_COUNT_SESSION_KEY] = cart_count(cart=cart_get(user=user))


def payment_succeeded_received(sender, payment, **kwargs) -> None:
    """A card checkout's payment succeeded (its orders are paid), or a pay-on-pickup order was paid
    at the counter (the payment's reference is then the order's number)."""
    from .services import checkout_paid, order_collected

    if order_collected(number=payment.reference) is None:
        checkout_paid(number=payment.reference)


def payment_failed_received(sender, payment, **kwargs) -> None:
    """A card payment attempt was declined or needs the buyer: on the orders' timelines."""
    from .services import payment_attempt_failed_record

    payment_attempt_failed_record(reference=payment.reference, status=payment.status, error=payment.last_error)


def payment_refunded_received(sender, payment, refund, **kwargs) -> None:
    """A refund made elsewhere (admin, Stripe's dashboard) follows onto the orders and payouts."""
    from .services import refund_recorded_elsewhere

    refund_recorded_elsewhere(payment=payment, refund=refund)


def invoice_on_status_changed(sender, order, to_status, **kwargs) -> None:
    """A web or 1-Click order became paid or confirmed: its invoice is issued and emailed (queued)."""
    from .services_documents import invoice_deliver_queue

    invoice_deliver_queue(order=order, status=to_status)


def invoice_on_order_placed(sender, order, **kwargs) -> None:
    """A pay-on-pickup order is confirmed as it is placed (no status change follows): same as above."""
    from .services_documents import invoice_deliver_queue

    invoice_deliver_queue(order=order, status=order.status)


def credit_note_on_order_refunded(sender, order, amount, reference, reason="", **kwargs) -> None:
    """Money was given back on an order: its credit note is issued and emailed (queued)."""
    from .services_documents import credit_note_deliver_queue

    credit_note_deliver_queue(order=order, refund_reference=reference, amount=amount, reason=reason)

"""Orders tasks: thin doors that call one service and own the retries."""

from celery import shared_task

from .services import checkout_payment_cancel_now, checkouts_expire, order_refund_in_full


@shared_task(name="orders.checkouts_expire")
def checkouts_expire_due() -> int:
    """Release the stock of card checkouts not paid in time (beat, every minute)."""
    return checkouts_expire()


@shared_task(name="orders.checkout_payment_cancel", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def checkout_payment_cancel(*, number: str) -> str:
    return checkout_payment_cancel_now(number=number)


@shared_task(name="orders.order_refund_unfulfillable", autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def order_refund_unfulfillable(*, order_id: int) -> str:
    """Refund an order paid after its items sold out (its payment came in after the hold expired)."""
    return order_refund_in_full(order_id=order_id, reason="the items sold out before the payment arrived")

"""How orders move a buyer's loyalty points (``apps.loyalty`` knows orders only by their number).

- paid by card, or confirmed to be paid on pickup: the order earns pending points on the money paid
  (points spent on it do not earn);
- delivered or collected: they become available;
- refunded in part: they shrink with the money given back; cancelled, refunded in full or returned:
  they are reversed;
- points spent on an order come back with refunds (``services.refund_split``), or all at once when
  the order ends without any money taken (cancelled before paying, not paid in time); a late payment
  after that spends them again.

Called by the receivers in ``receivers_loyalty`` inside the sender's transaction.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _

from apps.loyalty.services import (
    EarningLine,
    earning_record,
    earning_reduce,
    earning_release,
    earning_reverse,
    redemption_retake,
    redemption_return,
)

from .models import Order
from .selectors import order_money_taken
from .states import OrderStatus as S

CENT = Decimal("0.01")


def _lines(order: Order) -> list[EarningLine]:
    """Each line's product and the money paid for it (its share of what was not paid in points)."""
    paid = order.amount_due
    rows = order.lines.values_list("variant__product_id", "line_total")
    if not order.total:
        return [EarningLine(product_id, Decimal(0)) for product_id, _total in rows]
    return [
        EarningLine(product_id, (line_total * paid / order.total).quantize(CENT, rounding=ROUND_HALF_UP))
        for product_id, line_total in rows
    ]


def order_earning_record(*, order: Order) -> None:
    if order.buyer_id is None:
        return  # walk-in and phone customers have no account
    earning_record(
        user=order.buyer,
        reference=order.number,
        shop=order.shop,
        currency=order.currency,
        paid=order.amount_due,
        lines=_lines(order),
        placed_at=order.placed_at,
    )


def _points_returned(order: Order, points: int) -> None:
    if points:
        Order.objects.filter(pk=order.pk).update(points_returned=F("points_returned") + points)
        order.points_returned += points


def order_loyalty_follow_status(*, order: Order, from_status: str, to_status: str) -> None:
    """The order's status changed: its points follow (see the module's docstring). The reasons on
    the buyer's statement are written in the buyer's language."""
    if order.buyer_id is None:
        return
    writes_reasons = (
        to_status in (S.CANCELLED, S.RETURNED)
        or (to_status == S.PAYMENT_FAILED and order.points_used)
        or (to_status == S.PAID and order.points_returned)
    )
    if not writes_reasons:  # earning and releasing word their entries in the loyalty app
        _follow_status(order, from_status=from_status, to_status=to_status)
        return
    with translation.override(order.contact_language):
        _follow_status(order, from_status=from_status, to_status=to_status)


def _follow_status(order: Order, *, from_status: str, to_status: str) -> None:
    # Its points came back when the checkout expired, then the payment arrived after all: the order was
    # paid as placed, so they are spent again. Cancelled at that moment (the items sold out meanwhile),
    # the refund that follows gives them back with the money, as for any paid order.
    paid_late = from_status == S.PAYMENT_FAILED and order.points_returned and to_status in (S.PAID, S.CANCELLED)
    if paid_late and (to_status == S.PAID or order_money_taken(order=order)):
        taken = redemption_retake(
            reference=order.number, reason=_("Order %(number)s paid after all") % {"number": order.number}
        )
        if taken:
            Order.objects.filter(pk=order.pk).update(points_returned=F("points_returned") - taken)
            order.points_returned -= taken
    if to_status in (S.PAID, S.CONFIRMED):
        order_earning_record(order=order)
    elif to_status in (S.DELIVERED, S.COMPLETED):
        earning_release(reference=order.number)
    elif to_status in (S.CANCELLED, S.RETURNED):
        reason = (_("Order %(number)s cancelled") if to_status == S.CANCELLED else _("Order %(number)s returned")) % {
            "number": order.number
        }
        earning_reverse(reference=order.number, reason=reason)
        if to_status == S.CANCELLED and order.points_used and not order_money_taken(order=order):
            _points_returned(order, redemption_return(reference=order.number, reason=reason))
    elif to_status == S.PAYMENT_FAILED and order.points_used:
        _points_returned(
            order,
            redemption_return(
                reference=order.number, reason=_("Order %(number)s not paid in time") % {"number": order.number}
            ),
        )


def order_loyalty_follow_refund(*, order: Order) -> None:
    """Money was given back on the order: its earned points shrink in proportion."""
    if order.buyer_id is None:
        return
    unit = order.points_value / order.points_used if order.points_used else Decimal(0)
    money_refunded = order.amount_refunded - order.points_returned * unit
    earning_reduce(reference=order.number, refunded=max(Decimal(0), money_refunded))

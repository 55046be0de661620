"""The order state machine, written down once: every status, every allowed move, who may make it.

``apps.orders.services.order_transition`` is the only code that changes an order's status; it asks
:func:`transition_get` whether the move exists and :func:`actor_may` whether the actor may make it.
The README's state table is generated from :data:`TRANSITIONS` (a test keeps them equal).

Who may make a move (``Transition.by``):

- ``SYSTEM``: the platform itself (payments, the order pipeline, expiry, delivery jobs);
- ``BUYER``: the order's own buyer (cancelling within the cancel window);
- ``STAFF``: platform staff and support (the back office, admin);
- ``LOGISTICS``: a delivery partner's logistics API key or a shop's courier;
- a shop permission (``Perm.ORDERS_FULFIL``, ``Perm.ORDERS_MANAGE``): a member of the order's shop
  whose role holds it, or the shop's API key with a scope that grants it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.shops.permissions import Perm


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    PAID = "paid", _("Paid")
    CONFIRMED = "confirmed", _("Confirmed (pay on pickup)")
    ACCEPTED = "accepted", _("Accepted")
    PACKED = "packed", _("Packed")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")
    REFUNDED = "refunded", _("Refunded")


S = OrderStatus

SYSTEM = "system"
BUYER = "buyer"
STAFF = "staff"
LOGISTICS = "logistics"
ACTOR_KINDS = (SYSTEM, BUYER, STAFF, LOGISTICS)


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    by: frozenset[str]
    label: str = ""
    # The order must be fulfilled this way ("pickup", "delivery"); empty: any.
    fulfilment: str = ""
    # A reason is required (cancelling, failed delivery, return).
    needs_reason: bool = False
    extra: dict = field(default_factory=dict, compare=False)


def _t(sources, target, by, label="", **kwargs) -> list[Transition]:
    sources = [sources] if isinstance(sources, str) else sources
    return [Transition(source, target, frozenset(by), str(label), **kwargs) for source in sources]


MANAGE = Perm.ORDERS_MANAGE.value
FULFIL = Perm.ORDERS_FULFIL.value

# Orders money has been taken for (or will be, at the counter) and whose goods are still the shop's.
PAID_OPEN = [S.PAID, S.CONFIRMED, S.ACCEPTED, S.PACKED, S.READY_FOR_PICKUP, S.DELIVERY_FAILED]

TRANSITIONS: list[Transition] = [
    *_t(S.PENDING_PAYMENT, S.PAID, {SYSTEM}, _("Payment received")),
    *_t(S.PENDING_PAYMENT, S.CONFIRMED, {SYSTEM}, _("Confirmed, to be paid on pickup")),
    *_t(S.PENDING_PAYMENT, S.PAYMENT_FAILED, {SYSTEM}, _("Payment failed or not made in time")),
    *_t(S.PAYMENT_FAILED, S.PAID, {SYSTEM}, _("Late payment received")),
    *_t([S.PENDING_PAYMENT, S.PAYMENT_FAILED], S.CANCELLED, {SYSTEM, BUYER, STAFF}, _("Cancel")),
    *_t([S.PAID, S.CONFIRMED], S.ACCEPTED, {MANAGE, STAFF}, _("Accept")),
    *_t(S.ACCEPTED, S.PACKED, {FULFIL, STAFF}, _("Packed")),
    *_t(S.PACKED, S.READY_FOR_PICKUP, {FULFIL, STAFF}, _("Ready for pickup"), fulfilment="pickup"),
    *_t(S.PACKED, S.OUT_FOR_DELIVERY, {FULFIL, STAFF, SYSTEM, LOGISTICS}, _("Hand over"), fulfilment="delivery"),
    *_t(S.READY_FOR_PICKUP, S.DELIVERED, {FULFIL, STAFF}, _("Collected by the buyer")),
    *_t(S.OUT_FOR_DELIVERY, S.DELIVERED, {FULFIL, STAFF, LOGISTICS}, _("Delivered")),
    *_t(S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED, {FULFIL, STAFF, LOGISTICS}, _("Delivery failed"), needs_reason=True),
    *_t(S.DELIVERY_FAILED, S.OUT_FOR_DELIVERY, {FULFIL, STAFF, SYSTEM, LOGISTICS}, _("Deliver again")),
    *_t(S.DELIVERED, S.COMPLETED, {SYSTEM, MANAGE, STAFF}, _("Complete")),
    *_t(
        [S.PAID, S.CONFIRMED, S.ACCEPTED, S.PACKED, S.READY_FOR_PICKUP, S.DELIVERY_FAILED],
        S.CANCELLED,
        {SYSTEM, MANAGE, STAFF, BUYER},
        _("Cancel"),
        needs_reason=True,
    ),
    *_t(
        [S.DELIVERY_FAILED, S.DELIVERED, S.COMPLETED],
        S.RETURNED,
        {MANAGE, STAFF},
        _("Goods returned"),
        needs_reason=True,
    ),
    # Set by the refund service when the last of an order's money has been given back.
    *_t(
        [*PAID_OPEN, S.OUT_FOR_DELIVERY, S.DELIVERED, S.COMPLETED, S.RETURNED],
        S.REFUNDED,
        {SYSTEM},
        _("Refunded in full"),
    ),
]

_BY_PAIR: dict[tuple[str, str], Transition] = {(t.source, t.target): t for t in TRANSITIONS}

# Statuses from which nothing moves on.
FINAL = frozenset(s for s in S.values if not any(t.source == s for t in TRANSITIONS))
# The buyer sees their order as "open" (something is still to happen) in these.
OPEN = frozenset({S.PAID, S.CONFIRMED, S.ACCEPTED, S.PACKED, S.READY_FOR_PICKUP, S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED})
# Money was taken (or will be at the counter): refunds are possible.
REFUNDABLE = frozenset({*PAID_OPEN, S.OUT_FOR_DELIVERY, S.DELIVERED, S.COMPLETED, S.RETURNED, S.REFUNDED, S.CANCELLED})
# Waiting for the shop: the seller's queue shows these first.
AWAITING_SHOP = frozenset({S.PAID, S.CONFIRMED, S.ACCEPTED, S.PACKED})
# Not yet dispatched (handed over or ready): the dispatch-time rule watches these.
NOT_DISPATCHED = frozenset({S.PAID, S.CONFIRMED, S.ACCEPTED, S.PACKED})


def transition_get(source: str, target: str) -> Transition | None:
    return _BY_PAIR.get((source, target))


def transitions_from(source: str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source == source]


class LineStatus(models.TextChoices):
    """A line's own state, for partial fulfilment and partial refunds."""

    OPEN = "open", pgettext_lazy("order line status", "Open")
    FULFILLED = "fulfilled", _("Fulfilled")
    CANCELLED = "cancelled", _("Cancelled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partly refunded")
    REFUNDED = "refunded", _("Refunded")
    RETURNED = "returned", _("Returned")


def state_table_markdown() -> str:
    """The README's table of moves, generated from :data:`TRANSITIONS` (moves to the same status by
    the same actors share a row)."""
    rows: dict[tuple, list[str]] = {}
    for t in TRANSITIONS:
        rows.setdefault((t.target, t.by, t.fulfilment, t.needs_reason), []).append(t.source)
    lines = ["| to | from | who may | notes |", "|---|---|---|---|"]
    for (target, by, fulfilment, needs_reason), sources in rows.items():
        notes = ", ".join(
            n
            for n in (f"{fulfilment} orders only" if fulfilment else "", "reason required" if needs_reason else "")
            if n
        )
        lines.append(f"| {target} | {', '.join(sources)} | {', '.join(sorted(by))} | {notes} |")
    return "\n".join(lines)

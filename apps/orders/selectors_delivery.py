"""Reads for same-day delivery orders: the buyer's view of an order's slot and run, and the logistics
API's list of orders to deliver (with each order's slot, parcel weight and item count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from apps.delivery.models import SlotBooking
from apps.delivery.selectors import slot_booking_get
from apps.delivery.services_runs import run_stop_get

from .models import Fulfilment, Order, OrderLine

# What a delivery partner works on, unless it asks for other statuses.
LOGISTICS_DEFAULT_STATUSES = (Order.Status.PACKED, Order.Status.OUT_FOR_DELIVERY, Order.Status.DELIVERY_FAILED)


@dataclass(frozen=True)
class DeliveryStatus:
    """A delivery order's slot and, once its run is built, where the delivery is."""

    date: date
    starts: time
    ends: time
    booking_status: str
    fee: Decimal
    run_status: str = ""
    stop_status: str = ""
    stop_sequence: int | None = None
    courier: str = ""
    reason: str = ""
    done_at: datetime | None = None

    @property
    def live(self) -> bool:
        """Still worth refreshing the page for: booked and not yet delivered or failed."""
        return self.booking_status != SlotBooking.Status.RELEASED and self.stop_status in ("", "pending")


def order_delivery_status(*, order: Order) -> DeliveryStatus | None:
    """The slot of a delivery order and, once its run is built, its run and stop (two queries). None
    for a pickup order or one without a booking."""
    if order.fulfilment != Fulfilment.DELIVERY:
        return None
    booking = slot_booking_get(reference=order.number)
    if booking is None:
        return None
    base = {
        "date": booking.date,
        "starts": booking.slot.starts,
        "ends": booking.slot.ends,
        "booking_status": booking.status,
        "fee": booking.fee,
    }
    stop = run_stop_get(reference=order.number) if booking.status != SlotBooking.Status.RELEASED else None
    if stop is None:
        return DeliveryStatus(**base)
    return DeliveryStatus(
        **base,
        run_status=stop.run.status,
        stop_status=stop.status,
        stop_sequence=stop.sequence,
        courier=stop.run.courier.name if stop.run.courier_id else "",
        reason=stop.reason,
        done_at=stop.done_at,
    )


def logistics_orders(
    *,
    shop=None,
    day: date | None = None,
    slot_id: int | None = None,
    statuses: list[str] | None = None,
) -> QuerySet[Order]:
    """Delivery orders for a delivery partner: of ``shop`` (None: every shop, for a platform key),
    booked on ``day`` / in ``slot_id`` when given, in ``statuses`` (default: packed, out for delivery,
    delivery failed). Each order carries its booking's slot (``slot_ref``, ``slot_date``,
    ``slot_starts``, ``slot_ends``), ``parcel_grams`` (Σ weight × quantity of its lines) and
    ``item_count``: one query per page."""
    booking = SlotBooking.objects.filter(reference=OuterRef("number")).exclude(status=SlotBooking.Status.RELEASED)
    lines = OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
    queryset = (
        Order.objects.filter(fulfilment=Fulfilment.DELIVERY, status__in=statuses or LOGISTICS_DEFAULT_STATUSES)
        .select_related("shop")
        .annotate(
            slot_ref=Subquery(booking.values("slot_id")[:1]),
            slot_date=Subquery(booking.values("date")[:1]),
            slot_starts=Subquery(booking.values("slot__starts")[:1]),
            slot_ends=Subquery(booking.values("slot__ends")[:1]),
            parcel_grams=Coalesce(
                Subquery(lines.annotate(g=Sum(F("weight_grams") * F("quantity"))).values("g")[:1]),
                Value(0),
                output_field=IntegerField(),
            ),
            item_count=Coalesce(
                Subquery(lines.annotate(n=Sum("quantity")).values("n")[:1]), Value(0), output_field=IntegerField()
            ),
        )
    )
    if shop is not None:
        queryset = queryset.filter(shop=shop)
    if day is not None:
        queryset = queryset.filter(slot_date=day)
    if slot_id is not None:
        queryset = queryset.filter(slot_ref=slot_id)
    return queryset


def logistics_order_get(*, number: str, shop=None) -> Order:
    """One delivery partner's order by number: of ``shop`` for a shop's key (another shop's order is a
    404, as if it did not exist), any shop's for a platform key."""
    queryset = Order.objects.select_related("shop").filter(number=(number or "").strip().upper())
    if shop is not None:
        queryset = queryset.filter(shop=shop)
    order = queryset.first()
    if order is None:
        raise Http404("No such order.")
    return order

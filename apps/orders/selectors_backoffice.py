"""Reads for the back office (platform staff): order search, one order with everything that happened
to it, the incoming-order exception queues, batch files, warnings, and the statistics behind the
charts.

Every list is a queryset with its related rows joined, so a page costs a fixed number of queries
whatever its length; the statistics are aggregate queries (counted and averaged by the database),
never a loop over orders in Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import Lead, TruncDate, TruncHour
from django.http import Http404

from . import states
from .models import Order, OrderEvent, OrderFile, OrderIntake, OrderWarning

DISPATCHED = (states.S.READY_FOR_PICKUP, states.S.OUT_FOR_DELIVERY)


def platform_tz() -> ZoneInfo:
    """The platform's time zone: dates typed in the back office and day buckets are in it."""
    return ZoneInfo(settings.TIME_ZONE)


# --- orders --------------------------------------------------------------------------------------


def orders_search(
    *,
    number: str = "",
    email: str = "",
    shop: str = "",
    status: str = "",
    channel: str = "",
    placed_from: date | None = None,
    placed_to: date | None = None,
) -> QuerySet[Order]:
    """Orders of every shop, newest first, narrowed by whichever criteria are given.

    ``number``: the order number (or its beginning), any case. ``email``: part of the buyer's account
    email or of an external customer's email. ``shop``: the shop's slug exactly, or part of its name.
    ``placed_from``/``placed_to``: calendar days in the platform's time zone, both included.
    """
    orders = Order.objects.select_related("shop", "buyer")
    if number:
        orders = orders.filter(number__istartswith=number.strip())
    if email:
        orders = orders.filter(Q(buyer__email__icontains=email) | Q(customer_email__icontains=email))
    if shop:
        orders = orders.filter(Q(shop__slug=shop) | Q(shop__name__icontains=shop))
    if status:
        orders = orders.filter(status=status)
    if channel:
        orders = orders.filter(channel=channel)
    tz = platform_tz()
    if placed_from:
        orders = orders.filter(placed_at__gte=datetime.combine(placed_from, time.min, tzinfo=tz))
    if placed_to:
        orders = orders.filter(placed_at__lt=datetime.combine(placed_to + timedelta(days=1), time.min, tzinfo=tz))
    return orders.order_by("-placed_at", "-id")


def order_get_for_staff(*, number: str) -> Order:
    """Any shop's order by its number; 404 when there is none."""
    order = Order.objects.select_related("shop", "buyer", "checkout").filter(number=number).first()
    if order is None:
        raise Http404("No such order.")
    return order


def order_timeline(*, order: Order) -> list[OrderEvent]:
    """Every event of the order, oldest first (status changes and everything else)."""
    return list(order.events.select_related("actor").order_by("created_at", "id"))


def order_staff_moves(*, order: Order) -> list[states.Transition]:
    """The moves platform staff may make on the order as it is now (the state machine decides)."""
    return [
        move
        for move in states.transitions_from(order.status)
        if states.STAFF in move.by and (not move.fulfilment or move.fulfilment == order.fulfilment)
    ]


@dataclass(frozen=True)
class OrderPayment:
    payment: object | None
    refunds: list = field(default_factory=list)


def order_payment(*, order: Order) -> OrderPayment:
    """The payment that paid the order (the order's own for pay on pickup, else its checkout's) and
    that payment's refunds; empty for external orders settled elsewhere."""
    from apps.payments.selectors import payment_get_by_reference, refunds_for_payment

    reference = order.number if order.payment_method == "pay_on_pickup" or not order.checkout_id else None
    payment = None
    if reference:
        payment = payment_get_by_reference(reference=reference)
    if payment is None and order.checkout_id:
        payment = payment_get_by_reference(reference=order.checkout.number)
    if payment is None:
        return OrderPayment(payment=None)
    return OrderPayment(payment=payment, refunds=list(refunds_for_payment(payment=payment)))


@dataclass(frozen=True)
class OrderDetails:
    """Everything the back office shows about one order."""

    order: Order
    lines: list
    events: list[OrderEvent]
    payment: OrderPayment
    refunds: list
    documents: list
    warnings: list[OrderWarning]
    intake: OrderIntake | None
    moves: list[states.Transition]


def order_details(*, order: Order) -> OrderDetails:
    """The order's lines, timeline, payment and refunds, documents, warnings, the incoming order it
    came from and the moves staff may make; a fixed number of queries."""
    return OrderDetails(
        order=order,
        lines=list(order.lines.all()),
        events=order_timeline(order=order),
        payment=order_payment(order=order),
        refunds=list(order.refunds_recorded.select_related("actor")),
        documents=list(order.documents.all()),
        warnings=list(order.warnings.select_related("acknowledged_by")),
        intake=OrderIntake.objects.filter(order=order).only("id", "status", "external_ref").first(),
        moves=order_staff_moves(order=order),
    )


# --- incoming orders (dead letter, rejected) -------------------------------------------------------

EXCEPTION_TABS = {
    "dead_letter": OrderIntake.Status.DEAD_LETTER,
    "rejected": OrderIntake.Status.REJECTED,
}


def intakes_exceptions(*, tab: str = "dead_letter", channel: str = "", shop: str = "") -> QuerySet[OrderIntake]:
    """Incoming orders that need staff: the dead-letter queue (retries exhausted) or those rejected
    as invalid; oldest first, since the oldest has waited longest."""
    status = EXCEPTION_TABS.get(tab, OrderIntake.Status.DEAD_LETTER)
    intakes = OrderIntake.objects.filter(status=status).select_related("shop", "source_file")
    if channel:
        intakes = intakes.filter(channel=channel)
    if shop:
        intakes = intakes.filter(Q(shop__slug=shop) | Q(shop__name__icontains=shop))
    return intakes.order_by("created_at", "id")


def intakes_exception_counts() -> dict[str, int]:
    """How many incoming orders wait in each exception tab (one query)."""
    counts = OrderIntake.objects.filter(status__in=EXCEPTION_TABS.values()).aggregate(
        dead_letter=Count("id", filter=Q(status=OrderIntake.Status.DEAD_LETTER)),
        rejected=Count("id", filter=Q(status=OrderIntake.Status.REJECTED)),
    )
    return counts


def intake_get_for_staff(*, intake_id: int) -> OrderIntake:
    intake = OrderIntake.objects.select_related("shop", "source_file", "order").filter(pk=intake_id).first()
    if intake is None:
        raise Http404("No such incoming order.")
    return intake


# --- batch files ---------------------------------------------------------------------------------


def order_files_list() -> QuerySet[OrderFile]:
    """Uploaded batch files, newest first."""
    return OrderFile.objects.select_related("shop", "uploaded_by").order_by("-created_at", "-id")


def order_file_get_for_staff(*, file_id: int) -> OrderFile:
    order_file = OrderFile.objects.select_related("shop", "uploaded_by").filter(pk=file_id).first()
    if order_file is None:
        raise Http404("No such file.")
    return order_file


def order_file_intake_counts(*, order_file: OrderFile) -> dict[str, int]:
    """How many of the file's orders are in each intake status (the pipeline's progress)."""
    rows = order_file.intakes.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


# --- warnings ------------------------------------------------------------------------------------


def warnings_list(*, kind: str = "", show: str = "open") -> QuerySet[OrderWarning]:
    """Warnings, open ones first (newest first within each group). ``show``: ``open`` (default),
    ``acknowledged`` or ``all``."""
    warnings = OrderWarning.objects.select_related("order", "shop", "acknowledged_by")
    if kind:
        warnings = warnings.filter(kind=kind)
    if show == "open":
        warnings = warnings.filter(acknowledged_at__isnull=True)
    elif show == "acknowledged":
        warnings = warnings.filter(acknowledged_at__isnull=False)
    return warnings.order_by(F("acknowledged_at").desc(nulls_first=True), "-created_at", "-id")


def warning_get_for_staff(*, warning_id: int) -> OrderWarning:
    warning = OrderWarning.objects.filter(pk=warning_id).first()
    if warning is None:
        raise Http404("No such warning.")
    return warning


# --- statistics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountSeries:
    """Counts per time bucket for each key (a channel or a status), over ``buckets`` (aware
    datetimes in the platform's time zone, oldest first)."""

    buckets: list[datetime]
    counts: dict[str, list[int]]

    @property
    def totals(self) -> list[int]:
        return [sum(values[i] for values in self.counts.values()) for i in range(len(self.buckets))]


def _hour_buckets(now: datetime, hours: int) -> list[datetime]:
    tz = platform_tz()
    last = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=hours - 1 - i) for i in range(hours)]


def _day_buckets(now: datetime, days: int) -> list[date]:
    today = now.astimezone(platform_tz()).date()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=platform_tz())


def orders_per_hour(*, now: datetime, hours: int = 48, by: str = "channel") -> CountSeries:
    """Orders placed in each of the last ``hours`` hours (the current one included), split by
    ``by`` (``channel`` or ``status``, the order's status now); one query."""
    buckets = _hour_buckets(now, hours)
    tz = platform_tz()
    rows = (
        Order.objects.filter(placed_at__gte=buckets[0], placed_at__lt=buckets[-1] + timedelta(hours=1))
        .annotate(bucket=TruncHour("placed_at", tzinfo=tz))
        .values("bucket", by)
        .annotate(n=Count("id"))
        .order_by()
    )
    index = {bucket: i for i, bucket in enumerate(buckets)}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    for row in rows:
        i = index.get(row["bucket"].astimezone(tz))
        if i is not None:
            counts[row[by]][i] += row["n"]
    return CountSeries(buckets=buckets, counts=dict(sorted(counts.items())))


def orders_per_day(*, now: datetime, days: int = 30, by: str = "channel") -> CountSeries:
    """Orders placed on each of the last ``days`` days (today included, platform time zone), split
    by ``by`` (``channel`` or ``status``); one query."""
    days_list = _day_buckets(now, days)
    tz = platform_tz()
    rows = (
        Order.objects.filter(
            placed_at__gte=_day_start(days_list[0]), placed_at__lt=_day_start(days_list[-1] + timedelta(days=1))
        )
        .annotate(bucket=TruncDate("placed_at", tzinfo=tz))
        .values("bucket", by)
        .annotate(n=Count("id"))
        .order_by()
    )
    index = {day: i for i, day in enumerate(days_list)}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(days_list))
    for row in rows:
        i = index.get(row["bucket"])
        if i is not None:
            counts[row[by]][i] += row["n"]
    return CountSeries(buckets=[_day_start(d) for d in days_list], counts=dict(sorted(counts.items())))


@dataclass(frozen=True)
class StateDuration:
    """How long orders stayed in ``status`` before moving on (stays not yet over are not counted)."""

    status: str
    stays: int
    average_seconds: float
    p90_seconds: float

    @property
    def label(self) -> str:
        return str(states.OrderStatus(self.status).label)

    @property
    def average_hours(self) -> float:
        return self.average_seconds / 3600

    @property
    def p90_hours(self) -> float:
        return self.p90_seconds / 3600


def _stays(*, since: datetime) -> QuerySet:
    """Each status change of orders placed since ``since``, with the time the order left that status
    (the next status change's time, ``LEAD`` over the order's changes)."""
    return (
        OrderEvent.objects.filter(kind=OrderEvent.Kind.TRANSITION, order__placed_at__gte=since)
        .annotate(
            left_at=Window(
                Lead("created_at"), partition_by=[F("order_id")], order_by=[F("created_at").asc(), F("id").asc()]
            )
        )
        .values("to_status", "created_at", "left_at")
        .order_by()
    )


def percentile_cont(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile with linear interpolation between the closest ranks, as
    PostgreSQL's ``percentile_cont`` computes it."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def state_durations(*, now: datetime, days: int = 30) -> list[StateDuration]:
    """Average and 90th percentile of the time orders placed in the last ``days`` days spent in each
    status, from consecutive status changes of each order. On PostgreSQL one query does it all
    (``LEAD`` in a subquery, ``AVG`` and ``percentile_cont`` over it); elsewhere the stays are read
    and summarised in Python."""
    since = now - timedelta(days=days)
    if connection.vendor == "postgresql":
        return _state_durations_sql(since=since)
    return state_durations_python(since=since)


def _state_durations_sql(*, since: datetime) -> list[StateDuration]:
    inner, params = _stays(since=since).query.sql_with_params()
    # The inner query is the ORM's own SQL (its values are in ``params``); nothing typed goes in here.
    epoch = "EXTRACT(EPOCH FROM s.left_at - s.created_at)"
    sql = f"SELECT s.to_status, COUNT(*), AVG({epoch}), percentile_cont(0.9) WITHIN GROUP (ORDER BY {epoch}) FROM ({inner}) s WHERE s.left_at IS NOT NULL GROUP BY s.to_status"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = [StateDuration(status, stays, float(avg), float(p90)) for status, stays, avg, p90 in rows]
    return _in_state_order(found)


def state_durations_python(*, since: datetime) -> list[StateDuration]:
    """The same figures as the PostgreSQL query, summarised in Python (for SQLite)."""
    spent: dict[str, list[float]] = defaultdict(list)
    for row in _stays(since=since).iterator():
        if row["left_at"] is not None:
            spent[row["to_status"]].append((row["left_at"] - row["created_at"]).total_seconds())
    found = [
        StateDuration(status, len(values), sum(values) / len(values), percentile_cont(values, 0.9))
        for status, values in spent.items()
    ]
    return _in_state_order(found)


def _in_state_order(found: list[StateDuration]) -> list[StateDuration]:
    order = {status: i for i, status in enumerate(states.OrderStatus.values)}
    return sorted((d for d in found if d.status in order), key=lambda d: order[d.status])


@dataclass(frozen=True)
class Compliance:
    """Orders dispatched (ready for pickup or out for delivery) within their shop's dispatch time
    (``on_time``), after it or not at all with the time up (``late``). Orders still within their
    time, and orders cancelled or unpaid before dispatch, are not counted."""

    on_time: int
    late: int

    @property
    def due(self) -> int:
        return self.on_time + self.late

    @property
    def share(self) -> float | None:
        """The share on time, 0–1; None when no order was due."""
        return self.on_time / self.due if self.due else None


def _dispatch_window():
    """The shop's dispatch time as a duration (SQLite keeps durations as microseconds)."""
    if connection.vendor == "postgresql":
        return F("shop__dispatch_hours") * timedelta(hours=1)
    return ExpressionWrapper(F("shop__dispatch_hours") * 3_600_000_000, output_field=DurationField())


def _with_dispatch(orders: QuerySet[Order]) -> QuerySet[Order]:
    first_dispatch = (
        OrderEvent.objects.filter(order_id=OuterRef("pk"), kind=OrderEvent.Kind.TRANSITION, to_status__in=DISPATCHED)
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    return orders.annotate(
        dispatched_at=Subquery(first_dispatch, output_field=DateTimeField()),
        dispatch_due=ExpressionWrapper(F("placed_at") + _dispatch_window(), output_field=DateTimeField()),
    )


def _compliance_counts(now: datetime) -> dict:
    return {
        "on_time": Count("id", filter=Q(dispatched_at__isnull=False, dispatched_at__lte=F("dispatch_due"))),
        "late": Count(
            "id",
            filter=Q(dispatched_at__gt=F("dispatch_due"))
            | Q(dispatched_at__isnull=True, status__in=states.NOT_DISPATCHED, dispatch_due__lt=now),
        ),
    }


def dispatch_compliance_per_day(*, now: datetime, days: int = 30) -> list[tuple[date, Compliance]]:
    """Dispatch-time compliance of the orders placed on each of the last ``days`` days; one query."""
    days_list = _day_buckets(now, days)
    orders = Order.objects.filter(
        placed_at__gte=_day_start(days_list[0]), placed_at__lt=_day_start(days_list[-1] + timedelta(days=1))
    )
    rows = (
        _with_dispatch(orders)
        .annotate(day=TruncDate("placed_at", tzinfo=platform_tz()))
        .values("day")
        .annotate(**_compliance_counts(now))
        .order_by()
    )
    found = {row["day"]: Compliance(row["on_time"], row["late"]) for row in rows}
    return [(day, found.get(day, Compliance(0, 0))) for day in days_list]


@dataclass(frozen=True)
class ShopCompliance:
    shop_id: int
    shop_name: str
    shop_slug: str
    dispatch_hours: int
    compliance: Compliance


def dispatch_offenders(*, now: datetime, days: int = 30, limit: int = 10) -> list[ShopCompliance]:
    """The shops with the most orders dispatched late (or not at all in time) among orders placed in
    the last ``days`` days, worst first; one query."""
    since = _day_start(_day_buckets(now, days)[0])
    rows = (
        _with_dispatch(Order.objects.filter(placed_at__gte=since))
        .values("shop_id", "shop__name", "shop__slug", "shop__dispatch_hours")
        .annotate(**_compliance_counts(now))
        .filter(late__gt=0)
        .order_by("-late", "on_time", "shop__name")[:limit]
    )
    return [
        ShopCompliance(
            shop_id=row["shop_id"],
            shop_name=row["shop__name"],
            shop_slug=row["shop__slug"],
            dispatch_hours=row["shop__dispatch_hours"],
            compliance=Compliance(row["on_time"], row["late"]),
        )
        for row in rows
    ]

"""Reads for early warnings: who is told, what the scans look at, what the metrics show. (The back
office's lists are in ``selectors_backoffice``.)

The overdue queries are one statement each, whatever the number of orders: the shop's dispatch time
is joined in and compared in the database (``placed_at + dispatch_hours × fraction < now``), and
orders that already carry the rule's warning are left out by a ``NOT EXISTS`` on the warning's key,
so a long-overdue order is not read again on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat

from . import states
from .models import Order, OrderEvent, OrderIntake, OrderWarning, PaymentMethod

# Statuses in which the shop has not accepted the order yet.
NOT_ACCEPTED = frozenset({states.S.PAID, states.S.CONFIRMED})


def warning_key(kind: str, subject: str) -> str:
    """The unique key of a warning: one per rule and subject (an order number, a line, a window)."""
    return f"{kind}:{subject}"[:120]


def warning_recipients() -> list[str]:
    """Who is emailed about warnings: ``ORDER_WARNING_EMAILS``, or else every active staff user
    with an email address."""
    configured = [address.strip() for address in settings.ORDER_WARNING_EMAILS if address and address.strip()]
    if configured:
        return sorted(set(configured))
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def warnings_open_by_kind() -> dict[str, int]:
    """Unacknowledged warnings per kind (every kind present, zero included): one GROUP BY query."""
    counts = dict.fromkeys(OrderWarning.Kind.values, 0)
    rows = (
        OrderWarning.objects.filter(acknowledged_at__isnull=True)
        .order_by()
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    counts.update(dict(rows))
    return counts


def dead_letter_count() -> int:
    """Incoming orders waiting in the dead-letter queue (one COUNT query)."""
    return OrderIntake.objects.filter(status=OrderIntake.Status.DEAD_LETTER).count()


def _hours(fraction: Decimal) -> ExpressionWrapper:
    # integer hours × an interval: PostgreSQL computes the shop's deadline itself.
    return ExpressionWrapper(
        F("shop__dispatch_hours") * Value(timedelta(seconds=float(fraction * 3600))), output_field=DurationField()
    )


def _overdue(*, statuses, kind: str, fraction: Decimal, now: datetime, limit: int) -> QuerySet[Order]:
    already = OrderWarning.objects.filter(key=Concat(Value(f"{kind}:"), OuterRef("number")))
    return (
        Order.objects.filter(status__in=list(statuses))
        .alias(deadline=ExpressionWrapper(F("placed_at") + _hours(fraction), output_field=DateTimeField()))
        .filter(deadline__lt=now)
        .exclude(Exists(already))
        .select_related("shop")
        .order_by("placed_at", "id")[:limit]
    )


def orders_not_accepted_overdue(*, now: datetime, fraction: Decimal, limit: int) -> list[Order]:
    """Paid or confirmed orders still not accepted ``fraction`` of their shop's dispatch time after
    they were placed, without a *not accepted* warning yet (oldest first, at most ``limit``)."""
    return list(
        _overdue(statuses=NOT_ACCEPTED, kind=OrderWarning.Kind.NOT_ACCEPTED, fraction=fraction, now=now, limit=limit)
    )


def orders_not_dispatched_overdue(*, now: datetime, limit: int) -> list[Order]:
    """Orders not yet handed over or ready for pickup (``states.NOT_DISPATCHED``) their shop's whole
    dispatch time after they were placed, without a *not dispatched* warning yet."""
    return list(
        _overdue(
            statuses=states.NOT_DISPATCHED,
            kind=OrderWarning.Kind.NOT_DISPATCHED,
            fraction=Decimal(1),
            now=now,
            limit=limit,
        )
    )


@dataclass(frozen=True)
class PaymentOutcomes:
    failed: int
    succeeded: int

    @property
    def attempts(self) -> int:
        return self.failed + self.succeeded

    @property
    def failure_rate(self) -> Decimal:
        return Decimal(self.failed) / Decimal(self.attempts) if self.attempts else Decimal(0)


def card_payment_outcomes(*, since: datetime, until: datetime) -> PaymentOutcomes:
    """How card payments ended between ``since`` and ``until``, read from the orders' timelines:
    a declined attempt (or one the bank sent back to the buyer: a *payment attempt* event) or a move
    to *payment failed* (not paid in time) is a failure, a move to *paid* a success. A checkout's
    orders share one payment, so each checkout counts once per outcome (an order without a checkout
    counts on its own). One query."""
    # Concat treats NULL as "", so the checkout-or-order choice is a CASE, not a COALESCE.
    payment = Case(
        When(order__checkout_id__isnull=False, then=Concat(Value("c"), Cast("order__checkout_id", CharField()))),
        default=Concat(Value("o"), Cast("order_id", CharField())),
    )
    failed_q = Q(kind=OrderEvent.Kind.TRANSITION, to_status=states.S.PAYMENT_FAILED) | Q(
        kind=OrderEvent.Kind.PAYMENT, data__outcome="failed"
    )
    paid_q = Q(kind=OrderEvent.Kind.TRANSITION, to_status=states.S.PAID)
    row = (
        OrderEvent.objects.filter(
            kind__in=[OrderEvent.Kind.TRANSITION, OrderEvent.Kind.PAYMENT],
            created_at__gte=since,
            created_at__lt=until,
            order__payment_method=PaymentMethod.CARD,
        )
        .filter(failed_q | paid_q)
        .aggregate(
            failed=Count(payment, filter=failed_q, distinct=True),
            succeeded=Count(payment, filter=paid_q, distinct=True),
        )
    )
    return PaymentOutcomes(failed=row["failed"] or 0, succeeded=row["succeeded"] or 0)

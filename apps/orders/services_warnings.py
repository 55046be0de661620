"""Early warnings: business rules an order (or the platform) broke, raised once and sent out.

Rules and their settings (``localbazaar/settings/base.py``, each readable from the environment):

1. *Price out of line* (``price_deviation``): an order line whose charged ``unit_price`` differs from
   the catalog price it came in with (``OrderLine.list_price``) by more than
   ``ORDER_WARNING_PRICE_DEVIATION_PCT`` percent (default 20) of that catalog price. Lines without
   a catalog price are not checked. Key ``price_deviation:<order number>:<line id>``.
2. *Discount above the limit* (``discount``): an order whose ``discount`` is more than
   ``ORDER_WARNING_DISCOUNT_PCT`` percent (default 30) of its ``subtotal``. Key
   ``discount:<order number>``.
   Both are checked by :func:`warnings_for_new_order`, which the intake pipeline calls for every
   external order once the order exists.
3. *Not accepted in time* (``not_accepted``): an order still paid or confirmed (not accepted)
   ``ORDER_WARNING_ACCEPT_HOURS_FRACTION`` (default 0.5) of its shop's ``dispatch_hours`` after it
   was placed; *not dispatched in time* (``not_dispatched``): an order still in
   ``states.NOT_DISPATCHED`` its shop's whole ``dispatch_hours`` after it was placed. Keys
   ``not_accepted:<number>`` and ``not_dispatched:<number>``. :func:`warnings_scan_overdue` (beat,
   every 5 minutes) checks them: one query per rule, at most ``ORDER_WARNING_SCAN_BATCH`` new
   warnings per rule and run (the rest come on the next run).
4. *Payment failures above the rate* (``payment_failures``, no order): more than
   ``ORDER_WARNING_PAYMENT_FAILURE_RATE`` (default 0.2) of the card payments that ended in the last
   ``ORDER_WARNING_PAYMENT_WINDOW_MINUTES`` (default 15) failed, with at least
   ``ORDER_WARNING_PAYMENT_MIN_ATTEMPTS`` (default 10) of them. Outcomes are read from the orders'
   timelines (to *payment failed* vs to *paid*), one per checkout. One warning per period: the key is
   ``payment_failures:<start of the window-long period holding now>``, so a lasting problem warns
   once every window, not on every run. :func:`warnings_scan_payment_failures` (beat, every 5
   minutes).

Raising (:func:`warning_raise`, also used by other rules such as late deliveries) is a get-or-create
on the unique ``key``: raising again is a no-op, and two processes raising at once make one warning.
A new warning adds a *warning* event to its order's timeline and, after the commit, counts in
Prometheus and queues ``orders.warning_notify``: one email to ``ORDER_WARNING_EMAILS`` (or, when
that is empty, every active staff user with an email address; ``notified_at`` records it, so a
retried task does not email again) and a JSON post to ``ORDER_WARNING_WEBHOOK_URL`` when set
(through ``apps.core.webhooks``, which refuses private addresses), retried with backoff when it
fails. A retried or redelivered task may post more than once: the payload carries the warning's
``key`` for the receiver to spot repeats.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.money import Money
from apps.core.services import email_send
from apps.core.tasks_base import enqueue_on_commit
from apps.core.webhooks import webhook_post_json

from .actors import Actor
from .errors import WarningError
from .metrics import warnings_raised_count
from .models import Order, OrderEvent, OrderLine, OrderWarning
from .selectors_warnings import (
    card_payment_outcomes,
    orders_not_accepted_overdue,
    orders_not_dispatched_overdue,
    warning_key,
    warning_recipients,
)
from .services import order_event_record

logger = logging.getLogger(__name__)

Kind = OrderWarning.Kind
HUNDRED = Decimal(100)


def _setting_decimal(name: str) -> Decimal:
    return Decimal(str(getattr(settings, name)))


def _pct(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# --- raising, notifying, acknowledging -----------------------------------------------------------


def _notify_after_commit(warning: OrderWarning) -> None:
    from .tasks import warning_notify

    enqueue_on_commit(warning_notify, warning_id=warning.pk)


def _event_for(warning: OrderWarning) -> OrderEvent:
    return OrderEvent(
        order_id=warning.order_id,
        kind=OrderEvent.Kind.WARNING,
        actor_kind=OrderEvent.ActorKind.SYSTEM,
        actor_label=Actor.system().label,
        reason=warning.message[:500],
        data={"warning": warning.key, "kind": warning.kind},
        created_at=timezone.now(),
    )


@transaction.atomic
def warning_raise(
    *,
    kind: str,
    key: str,
    message: str,
    order: Order | None = None,
    shop=None,
    data: dict | None = None,
) -> tuple[OrderWarning, bool]:
    """Raise warning ``key`` unless it exists; returns (warning, created).

    ``shop`` defaults to the order's. A new warning gets a *warning* event on its order's timeline
    and, after the commit, is counted and sent out (email, webhook). ``data`` must be JSON."""
    if kind not in Kind.values:
        raise WarningError(_("Unknown warning kind %(kind)s.") % {"kind": kind}, code="warning-kind")
    existing = OrderWarning.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    warning = OrderWarning(
        kind=kind,
        key=key,
        message=message[:500],
        data=data or {},
        order=order,
        shop_id=getattr(shop, "pk", None) or (order.shop_id if order is not None else None),
    )
    warning.full_clean(exclude=["order", "shop", "acknowledged_by"], validate_unique=False)
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the caller's transaction usable
            warning.save()
    except IntegrityError:
        return OrderWarning.objects.get(key=key), False
    if order is not None:
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.WARNING,
            reason=warning.message,
            data={"warning": warning.key, "kind": warning.kind},
        )
    warnings_raised_count([warning.kind])
    _notify_after_commit(warning)
    return warning, True


def _warnings_raise_many(candidates: list[OrderWarning]) -> list[OrderWarning]:
    """Raise many new order warnings in a constant number of queries (the scans' path). Keys taken
    meanwhile by another process fall back to :func:`warning_raise`, which skips them."""
    if not candidates:
        return []
    for warning in candidates:
        warning.full_clean(exclude=["order", "shop", "acknowledged_by"], validate_unique=False)
    try:
        with transaction.atomic():
            created = OrderWarning.objects.bulk_create(candidates)
    except IntegrityError:
        created = []
        for warning in candidates:
            raised, is_new = warning_raise(
                kind=warning.kind,
                key=warning.key,
                message=warning.message,
                order=warning.order,
                shop=warning.shop,
                data=warning.data,
            )
            if is_new:
                created.append(raised)
        return created
    OrderEvent.objects.bulk_create([_event_for(w) for w in created if w.order_id])
    warnings_raised_count(w.kind for w in created)
    for warning in created:
        _notify_after_commit(warning)
    return created


@transaction.atomic
def warning_acknowledge(*, warning: OrderWarning, user) -> OrderWarning:
    """Staff have seen the warning: it leaves the open ones (and the open-warnings gauge). Done once;
    acknowledging again changes nothing. Noted on the order's timeline."""
    if not getattr(user, "is_staff", False):
        raise WarningError(_("Only platform staff can acknowledge warnings."), code="warning-not-staff")
    warning = OrderWarning.objects.select_for_update(of=("self",)).select_related("order").get(pk=warning.pk)
    if warning.acknowledged_at is not None:
        return warning
    warning.acknowledged_at = timezone.now()
    warning.acknowledged_by = user
    warning.save(update_fields=["acknowledged_at", "acknowledged_by", "updated_at"])
    if warning.order is not None:
        order_event_record(
            order=warning.order,
            kind=OrderEvent.Kind.WARNING,
            actor=Actor.staff(user),
            reason=_("Warning acknowledged: %(message)s") % {"message": warning.message},
            via="backoffice",
            data={"warning": warning.key, "kind": warning.kind, "acknowledged": True},
        )
    return warning


def warning_payload(warning: OrderWarning) -> dict:
    """The webhook's JSON: a Slack-compatible ``text`` and block, and the warning itself."""
    title = _("LocalBazaar warning: %(kind)s") % {"kind": warning.get_kind_display()}
    return {
        "text": f"{title}: {warning.message}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{warning.message}"}}],
        "localbazaar": {
            "warning_id": warning.pk,
            "key": warning.key,
            "kind": warning.kind,
            "message": warning.message,
            "order": warning.order.number if warning.order_id else None,
            "shop": warning.shop.slug if warning.shop_id else None,
            "data": warning.data,
            "raised_at": warning.created_at.isoformat(),
        },
    }


def _email_body(warning: OrderWarning) -> str:
    lines = [warning.message, ""]
    if warning.order_id:
        lines.append(_("Order: %(number)s") % {"number": warning.order.number})
    if warning.shop_id:
        lines.append(_("Shop: %(shop)s") % {"shop": warning.shop.name})
    lines.append(_("Raised: %(time)s") % {"time": timezone.localtime(warning.created_at).strftime("%Y-%m-%d %H:%M")})
    lines += ["", _("Acknowledge it in the back office once it is dealt with: %(url)s") % {"url": settings.SITE_URL}]
    return "\n".join(lines)


@transaction.atomic
def warning_email_send(*, warning_id: int) -> str:
    """Email the warning once (``notified_at`` records it; later calls do nothing)."""
    warning = (
        OrderWarning.objects.select_for_update(of=("self",))
        .select_related("order", "shop")
        .filter(pk=warning_id)
        .first()
    )
    if warning is None:
        return "gone"
    if warning.notified_at is not None:
        return "already notified"
    recipients = warning_recipients()
    if recipients:
        email_send(
            to=recipients,
            subject=(_("[%(site)s] Warning: %(message)s") % {"site": settings.SITE_NAME, "message": warning.message})[
                :150
            ],
            body=_email_body(warning),
        )
    else:
        logger.warning("warning %s: nobody to email (set ORDER_WARNING_EMAILS or add staff)", warning.key)
    warning.notified_at = timezone.now()
    warning.save(update_fields=["notified_at", "updated_at"])
    return "emailed" if recipients else "no recipients"


def warning_webhook_post(*, warning_id: int) -> str:
    """Post the warning to ``ORDER_WARNING_WEBHOOK_URL`` (when set). Raises
    ``apps.core.webhooks.WebhookError`` when the post fails, for the task to retry."""
    url = settings.ORDER_WARNING_WEBHOOK_URL
    if not url:
        return "no webhook"
    warning = OrderWarning.objects.select_related("order", "shop").filter(pk=warning_id).first()
    if warning is None:
        return "gone"
    webhook_post_json(url, warning_payload(warning))
    return "posted"


# --- the rules -----------------------------------------------------------------------------------


def _line_deviation(line: OrderLine) -> Decimal | None:
    """How far the charged price is from the catalog's, in percent of the catalog price (None: no
    catalog price to compare with; a charged price on a free catalog item is infinitely far)."""
    if line.list_price is None:
        return None
    if line.list_price == 0:
        return Decimal("Infinity") if line.unit_price != 0 else Decimal(0)
    return abs(line.unit_price - line.list_price) * HUNDRED / line.list_price


@transaction.atomic
def warnings_for_new_order(*, order: Order) -> list[OrderWarning]:
    """Check a new order against the price and discount rules; returns the order's warnings from
    them (raised now or by an earlier call: calling again raises nothing new)."""
    found: list[OrderWarning] = []
    price_limit = _setting_decimal("ORDER_WARNING_PRICE_DEVIATION_PCT")
    for line in order.lines.all():
        deviation = _line_deviation(line)
        if deviation is None or deviation <= price_limit:
            continue
        charged, listed = Money(line.unit_price, order.currency), Money(line.list_price, order.currency)
        shown = _pct(deviation) if deviation.is_finite() else "∞"
        warning, _created = warning_raise(
            kind=Kind.PRICE_DEVIATION,
            key=warning_key(Kind.PRICE_DEVIATION, f"{order.number}:{line.pk}"),
            message=_(
                "Order %(number)s: %(sku)s was charged %(charged)s, %(pct)s%% away from the catalog price "
                "%(listed)s (limit %(limit)s%%). Check the price with the shop before it is dispatched."
            )
            % {
                "number": order.number,
                "sku": line.sku,
                "charged": charged,
                "listed": listed,
                "pct": shown,
                "limit": price_limit,
            },
            order=order,
            data={
                "line": line.pk,
                "sku": line.sku,
                "unit_price": str(line.unit_price),
                "list_price": str(line.list_price),
                "currency": order.currency,
                "deviation_pct": shown,
                "limit_pct": str(price_limit),
            },
        )
        found.append(warning)
    discount_limit = _setting_decimal("ORDER_WARNING_DISCOUNT_PCT")
    if order.discount > 0:
        share = order.discount * HUNDRED / order.subtotal if order.subtotal > 0 else Decimal("Infinity")
        if share > discount_limit:
            shown = _pct(share) if share.is_finite() else "∞"
            warning, _created = warning_raise(
                kind=Kind.DISCOUNT,
                key=warning_key(Kind.DISCOUNT, order.number),
                message=_(
                    "Order %(number)s: a discount of %(discount)s is %(pct)s%% of its subtotal %(subtotal)s "
                    "(limit %(limit)s%%). Check who granted it."
                )
                % {
                    "number": order.number,
                    "discount": Money(order.discount, order.currency),
                    "subtotal": Money(order.subtotal, order.currency),
                    "pct": shown,
                    "limit": discount_limit,
                },
                order=order,
                data={
                    "discount": str(order.discount),
                    "subtotal": str(order.subtotal),
                    "currency": order.currency,
                    "discount_pct": shown,
                    "limit_pct": str(discount_limit),
                },
            )
            found.append(warning)
    return found


def _overdue_warning(order: Order, *, kind: str, hours: Decimal, now: datetime) -> OrderWarning:
    late_hours = _pct(Decimal((now - order.placed_at).total_seconds()) / Decimal(3600))
    values = {
        "number": order.number,
        "shop": order.shop.name,
        "hours": late_hours,
        "limit": _pct(hours),
        "dispatch": order.shop.dispatch_hours,
        "status": order.get_status_display(),
    }
    if kind == Kind.NOT_ACCEPTED:
        message = _(
            "Order %(number)s at %(shop)s is still not accepted %(hours)s hours after it was placed (limit "
            "%(limit)s h of its %(dispatch)s h dispatch time). Ask the shop to accept or cancel it."
        )
    else:
        message = _(
            "Order %(number)s at %(shop)s is still %(status)s %(hours)s hours after it was placed, past the shop's "
            "%(dispatch)s h dispatch time. Ask the shop to hand it over or cancel it."
        )
    return OrderWarning(
        kind=kind,
        key=warning_key(kind, order.number),
        message=(message % values)[:500],
        order=order,
        shop=order.shop,
        data={
            "status": order.status,
            "placed_at": order.placed_at.isoformat(),
            "dispatch_hours": order.shop.dispatch_hours,
            "limit_hours": str(hours),
            "checked_at": now.isoformat(),
        },
    )


@transaction.atomic
def warnings_scan_overdue(*, now: datetime | None = None) -> int:
    """Raise *not accepted* and *not dispatched* warnings for orders past their shop's limits (see
    the module docstring); returns how many were raised. A constant number of queries per rule."""
    now = now or timezone.now()
    fraction = _setting_decimal("ORDER_WARNING_ACCEPT_HOURS_FRACTION")
    limit = settings.ORDER_WARNING_SCAN_BATCH
    candidates = [
        _overdue_warning(order, kind=Kind.NOT_ACCEPTED, hours=Decimal(order.shop.dispatch_hours) * fraction, now=now)
        for order in orders_not_accepted_overdue(now=now, fraction=fraction, limit=limit)
    ]
    candidates += [
        _overdue_warning(order, kind=Kind.NOT_DISPATCHED, hours=Decimal(order.shop.dispatch_hours), now=now)
        for order in orders_not_dispatched_overdue(now=now, limit=limit)
    ]
    return len(_warnings_raise_many(candidates))


@transaction.atomic
def warnings_scan_payment_failures(*, now: datetime | None = None) -> OrderWarning | None:
    """Raise the platform's *payment failures* warning when the card failure rate of the last window
    is above the limit (with enough attempts); returns the new warning, or None (nothing wrong, or
    already raised for this period)."""
    now = now or timezone.now()
    minutes = int(settings.ORDER_WARNING_PAYMENT_WINDOW_MINUTES)
    window = timedelta(minutes=minutes)
    outcomes = card_payment_outcomes(since=now - window, until=now)
    rate_limit = _setting_decimal("ORDER_WARNING_PAYMENT_FAILURE_RATE")
    if outcomes.attempts < int(settings.ORDER_WARNING_PAYMENT_MIN_ATTEMPTS) or outcomes.failure_rate <= rate_limit:
        return None
    epoch_seconds = int(now.timestamp())
    period_start = datetime.fromtimestamp(epoch_seconds - epoch_seconds % (minutes * 60), tz=UTC)
    warning, created = warning_raise(
        kind=Kind.PAYMENT_FAILURES,
        key=warning_key(Kind.PAYMENT_FAILURES, period_start.strftime("%Y-%m-%dT%H:%MZ")),
        message=_(
            "%(failed)s of %(attempts)s card payments failed in the last %(minutes)s minutes (%(pct)s%%, limit "
            "%(limit)s%%). Check the payment provider's status and recent declines."
        )
        % {
            "failed": outcomes.failed,
            "attempts": outcomes.attempts,
            "minutes": minutes,
            "pct": _pct(outcomes.failure_rate * HUNDRED),
            "limit": _pct(rate_limit * HUNDRED),
        },
        data={
            "failed": outcomes.failed,
            "succeeded": outcomes.succeeded,
            "window_start": (now - window).isoformat(),
            "window_end": now.isoformat(),
            "period_start": period_start.isoformat(),
            "rate_limit": str(rate_limit),
            "min_attempts": int(settings.ORDER_WARNING_PAYMENT_MIN_ATTEMPTS),
        },
    )
    return warning if created else None

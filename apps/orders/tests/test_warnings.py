"""Early warnings: each rule raises one warning (never two), at its threshold and not before; new
warnings go on the order's timeline, are emailed once and posted to the webhook (retried when it
fails); staff acknowledge them; Prometheus shows them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection

from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.core.tests.concurrency import race, race_errors
from apps.inventory.tests.webhook_server import WebhookReceiver
from apps.orders import states
from apps.orders.errors import WarningError
from apps.orders.models import Checkout, Order, OrderEvent, OrderLine, OrderWarning
from apps.orders.selectors_warnings import card_payment_outcomes, warning_recipients, warnings_open_by_kind
from apps.orders.services_warnings import (
    warning_acknowledge,
    warning_email_send,
    warning_payload,
    warning_raise,
    warnings_for_new_order,
    warnings_scan_overdue,
    warnings_scan_payment_failures,
)
from apps.orders.tasks import WARNING_WEBHOOK_MAX_RETRIES, warning_notify
from apps.shops.tests.factories import ShopFactory
from localbazaar.celery import app as celery_app

pytestmark = pytest.mark.django_db

S = states.OrderStatus
Kind = OrderWarning.Kind
NOW = datetime(2026, 3, 10, 12, 7, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _warning_settings(settings):
    settings.ORDER_WARNING_EMAILS = ["ops@localbazaar.test"]
    settings.ORDER_WARNING_WEBHOOK_URL = ""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0


@pytest.fixture
def eager_retries():
    """Eager tasks that retry run their retries at once, in this process, instead of raising
    ``Retry`` at the caller (a real worker: ``test_warnings_worker.py``)."""
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = previous


def make_order(
    *,
    shop=None,
    status: str = S.PAID,
    placed_at: datetime | None = None,
    payment_method: str = "card",
    subtotal: str = "100.00",
    discount: str = "0",
    lines: tuple[tuple[str, str | None], ...] = (),
    checkout: Checkout | None = None,
) -> Order:
    """An order as the pipeline leaves it; ``lines`` are (charged unit price, catalog price)."""
    shop = shop or ShopFactory()
    placed_at = placed_at or NOW
    subtotal_d, discount_d = Decimal(subtotal), Decimal(discount)
    order = Order.objects.create(
        number=f"W{next(_numbers):08d}",
        checkout=checkout,
        shop=shop,
        status=status,
        status_changed_at=placed_at,
        channel="api",
        fulfilment="pickup",
        payment_method=payment_method,
        currency=shop.currency,
        subtotal=subtotal_d,
        discount=discount_d,
        total=subtotal_d - discount_d,
        placed_at=placed_at,
    )
    for i, (unit_price, list_price) in enumerate(lines):
        OrderLine.objects.create(
            order=order,
            sku=f"SKU-{i}",
            title=f"Item {i}",
            unit_price=Decimal(unit_price),
            quantity=1,
            line_total=Decimal(unit_price),
            list_price=Decimal(list_price) if list_price is not None else None,
        )
    return order


# --- price and discount (warnings_for_new_order) -------------------------------------------------


def test_a_line_charged_just_over_the_deviation_limit_warns_and_one_at_the_limit_does_not(
    django_capture_on_commit_callbacks,
):
    """Default 20%: 120.01 and 79.99 against a 100.00 catalog price warn; 120.00 and 80.00 do not."""
    order = make_order(
        lines=(("120.00", "100.00"), ("120.01", "100.00"), ("80.00", "100.00"), ("79.99", "100.00"), ("5", None))
    )
    with django_capture_on_commit_callbacks(execute=True):
        warnings = warnings_for_new_order(order=order)

    lines = list(order.lines.order_by("pk"))
    assert sorted(w.key for w in warnings) == sorted(
        [f"price_deviation:{order.number}:{lines[1].pk}", f"price_deviation:{order.number}:{lines[3].pk}"]
    )
    assert {w.kind for w in warnings} == {Kind.PRICE_DEVIATION}
    assert all(w.order == order and w.shop == order.shop for w in warnings)
    over = next(w for w in warnings if w.data["line"] == lines[1].pk)
    assert over.data["deviation_pct"] == "20.0" and over.data["unit_price"] == "120.01"
    assert "SKU-1" in over.message and "limit 20%" in over.message


def test_checking_an_order_again_raises_nothing_new(django_capture_on_commit_callbacks):
    """The unique key makes the rule idempotent: a second check returns the same warnings."""
    order = make_order(lines=(("150.00", "100.00"),), subtotal="150.00", discount="60.00")
    with django_capture_on_commit_callbacks(execute=True):
        first = warnings_for_new_order(order=order)
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        second = warnings_for_new_order(order=order)

    assert len(first) == 2
    assert [w.pk for w in second] == [w.pk for w in first]
    assert OrderWarning.objects.count() == 2
    assert second_callbacks == []  # nothing queued: nobody is told twice
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.WARNING).count() == 2
    assert len(mail.outbox) == 2


def test_a_discount_just_over_the_limit_warns_and_one_at_the_limit_does_not():
    """Default 30% of the subtotal: 30.00 off 100.00 is fine, 30.01 off is not."""
    at_limit = make_order(subtotal="100.00", discount="30.00")
    over = make_order(subtotal="100.00", discount="30.01")

    assert warnings_for_new_order(order=at_limit) == []
    [warning] = warnings_for_new_order(order=over)
    assert warning.kind == Kind.DISCOUNT and warning.key == f"discount:{over.number}"
    assert warning.data["discount_pct"] == "30.0" and warning.data["limit_pct"] == "30"


def test_the_thresholds_are_settings(settings):
    """Raising the limits to 50% lets a 40% price gap and a 40% discount through."""
    settings.ORDER_WARNING_PRICE_DEVIATION_PCT = "50"
    settings.ORDER_WARNING_DISCOUNT_PCT = 50
    order = make_order(lines=(("140.00", "100.00"),), subtotal="140.00", discount="56.00")
    assert warnings_for_new_order(order=order) == []

    settings.ORDER_WARNING_PRICE_DEVIATION_PCT = "39.9"
    assert [w.kind for w in warnings_for_new_order(order=order)] == [Kind.PRICE_DEVIATION]


def test_a_new_warning_is_on_the_orders_timeline(django_capture_on_commit_callbacks):
    order = make_order(subtotal="10.00", discount="9.00")
    with django_capture_on_commit_callbacks(execute=True):
        [warning] = warnings_for_new_order(order=order)

    event = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.WARNING)
    assert event.reason == warning.message
    assert event.data == {"warning": warning.key, "kind": Kind.DISCOUNT}
    assert event.actor_kind == OrderEvent.ActorKind.SYSTEM and event.to_status == ""
    assert Order.objects.get(pk=order.pk).status == S.PAID  # a warning never moves the order


# --- raising -----------------------------------------------------------------------------------


def test_warning_raise_is_get_or_create_on_the_key(django_capture_on_commit_callbacks):
    """Platform warnings (no order) too; raising again returns the first one, unchanged."""
    with django_capture_on_commit_callbacks(execute=True):
        first, created = warning_raise(kind=Kind.PAYMENT_FAILURES, key="payment_failures:x", message="Too many")
    again, created_again = warning_raise(kind=Kind.PAYMENT_FAILURES, key="payment_failures:x", message="Other")

    assert created and not created_again
    assert again.pk == first.pk and again.message == "Too many"
    assert first.order is None and first.shop is None
    assert len(mail.outbox) == 1


def test_an_unknown_kind_is_refused():
    with pytest.raises(WarningError, match="Unknown warning kind"):
        warning_raise(kind="gremlins", key="gremlins:1", message="?")
    assert not OrderWarning.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_ten_processes_raising_the_same_warning_at_once_make_one():
    order = make_order(subtotal="10.00", discount="9.00")

    def raise_it(i: int):
        return warning_raise(kind=Kind.DISCOUNT, key=f"discount:{order.number}", message=f"racer {i}", order=order)

    results = race(10, raise_it)
    assert race_errors(results) == []
    outcomes = [r for status, r in results if status == "ok"]
    assert sum(created for _w, created in outcomes) == 1
    assert len({w.pk for w, _created in outcomes}) == 1
    assert OrderWarning.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.WARNING).count() == 1


# --- dispatch time (warnings_scan_overdue) -----------------------------------------------------


@pytest.fixture
def two_shops():
    return ShopFactory(name="Quick Kopi", dispatch_hours=4), ShopFactory(name="Slow Batik", dispatch_hours=48)


def _ago(**kwargs) -> datetime:
    return NOW - timedelta(**kwargs)


def test_orders_past_their_shops_dispatch_time_are_warned_about_once(two_shops, django_capture_on_commit_callbacks):
    """Not accepted within half the shop's dispatch time, not dispatched within all of it, each
    shop with its own time; orders dispatched, unpaid or within time are left alone."""
    quick, slow = two_shops
    quiet = [
        make_order(shop=quick, status=S.PAID, placed_at=_ago(hours=1, minutes=59)),
        make_order(shop=quick, status=S.ACCEPTED, placed_at=_ago(hours=3, minutes=59)),
        make_order(shop=quick, status=S.OUT_FOR_DELIVERY, placed_at=_ago(hours=30)),
        make_order(shop=quick, status=S.READY_FOR_PICKUP, placed_at=_ago(hours=30)),
        make_order(shop=quick, status=S.PENDING_PAYMENT, placed_at=_ago(hours=30)),
        make_order(shop=slow, status=S.CONFIRMED, placed_at=_ago(hours=23, minutes=59)),
        make_order(shop=slow, status=S.PACKED, placed_at=_ago(hours=47, minutes=59)),
    ]
    quick_unaccepted = make_order(shop=quick, status=S.PAID, placed_at=_ago(hours=2, minutes=1))
    quick_undispatched = make_order(shop=quick, status=S.ACCEPTED, placed_at=_ago(hours=4, minutes=1))
    quick_both = make_order(shop=quick, status=S.CONFIRMED, placed_at=_ago(hours=5))
    slow_unaccepted = make_order(shop=slow, status=S.PAID, placed_at=_ago(hours=24, minutes=1))
    slow_undispatched = make_order(shop=slow, status=S.PACKED, placed_at=_ago(hours=48, minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        raised = warnings_scan_overdue(now=NOW)

    got = set(OrderWarning.objects.values_list("kind", "order__number"))
    assert got == {
        (Kind.NOT_ACCEPTED, quick_unaccepted.number),
        (Kind.NOT_DISPATCHED, quick_undispatched.number),
        (Kind.NOT_ACCEPTED, quick_both.number),
        (Kind.NOT_DISPATCHED, quick_both.number),
        (Kind.NOT_ACCEPTED, slow_unaccepted.number),
        (Kind.NOT_DISPATCHED, slow_undispatched.number),
    }
    assert raised == 6
    assert not OrderWarning.objects.filter(order__in=quiet).exists()
    warning = OrderWarning.objects.get(kind=Kind.NOT_ACCEPTED, order=slow_unaccepted)
    assert warning.key == f"not_accepted:{slow_unaccepted.number}" and warning.shop == slow
    assert "Slow Batik" in warning.message and "24.0 hours" in warning.message
    assert warning.data["dispatch_hours"] == 48
    assert OrderEvent.objects.filter(kind=OrderEvent.Kind.WARNING).count() == 6
    assert len(mail.outbox) == 6

    with django_capture_on_commit_callbacks(execute=True):
        assert warnings_scan_overdue(now=NOW) == 0
    assert OrderWarning.objects.count() == 6 and len(mail.outbox) == 6

    # An hour on, the four orders that were just within time are late too; the others stay at one.
    with django_capture_on_commit_callbacks(execute=True):
        assert warnings_scan_overdue(now=NOW + timedelta(hours=1)) == 4
    assert OrderWarning.objects.count() == 10 and len(mail.outbox) == 10
    assert OrderWarning.objects.filter(order=quick_both).count() == 2


def test_the_accept_fraction_is_a_setting(two_shops, settings):
    settings.ORDER_WARNING_ACCEPT_HOURS_FRACTION = "0.25"
    quick, _slow = two_shops
    order = make_order(shop=quick, status=S.PAID, placed_at=_ago(hours=1, minutes=1))
    make_order(shop=quick, status=S.PAID, placed_at=_ago(minutes=59))

    assert warnings_scan_overdue(now=NOW) == 1
    assert OrderWarning.objects.get().order == order


def test_the_scan_takes_the_same_few_queries_for_3_or_30_late_orders(two_shops, django_assert_max_num_queries):
    """One read per rule and bulk writes: no query per order, and already-warned orders are not
    read again."""
    quick, slow = two_shops
    for shop in (quick, slow):
        make_order(shop=shop, status=S.PAID, placed_at=_ago(hours=100))
    make_order(shop=quick, status=S.ACCEPTED, placed_at=_ago(hours=5))
    with django_assert_max_num_queries(8):
        assert warnings_scan_overdue(now=NOW) == 5

    for i in range(30):
        make_order(shop=(quick, slow)[i % 2], status=S.PAID, placed_at=_ago(hours=100 + i))
    with django_assert_max_num_queries(8):
        assert warnings_scan_overdue(now=NOW) == 60

    with django_assert_max_num_queries(4):
        assert warnings_scan_overdue(now=NOW) == 0


def test_the_scan_raises_at_most_a_batch_per_rule_and_the_rest_next_time(two_shops, settings):
    settings.ORDER_WARNING_SCAN_BATCH = 2
    quick, _slow = two_shops
    for hours in (10, 11, 12):
        make_order(shop=quick, status=S.ACCEPTED, placed_at=_ago(hours=hours))
    assert warnings_scan_overdue(now=NOW) == 2
    assert warnings_scan_overdue(now=NOW) == 1
    assert warnings_scan_overdue(now=NOW) == 0


# --- payment failures (warnings_scan_payment_failures) --------------------------------------------


def _outcome(to_status: str, *, at: datetime, payment_method: str = "card", checkout=None, shop=None) -> Order:
    order = make_order(
        status=to_status, payment_method=payment_method, checkout=checkout, shop=shop, placed_at=at - timedelta(1)
    )
    OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.TRANSITION,
        from_status=S.PENDING_PAYMENT,
        to_status=to_status,
        actor_kind=OrderEvent.ActorKind.SYSTEM,
        created_at=at,
    )
    return order


def _outcomes(failed: int, paid: int, *, at: datetime = NOW - timedelta(minutes=5)) -> None:
    shop = ShopFactory()
    for _ in range(failed):
        _outcome(S.PAYMENT_FAILED, at=at, shop=shop)
    for _ in range(paid):
        _outcome(S.PAID, at=at, shop=shop)


def test_a_failure_rate_over_the_limit_raises_one_platform_warning_per_window(django_capture_on_commit_callbacks):
    """3 of 10 card payments failed (30% > 20%): one warning; running again in the same window
    raises nothing; in the next window, if still high, another."""
    _outcomes(failed=3, paid=7)
    with django_capture_on_commit_callbacks(execute=True):
        warning = warnings_scan_payment_failures(now=NOW)

    assert warning is not None and warning.kind == Kind.PAYMENT_FAILURES
    assert warning.order is None and warning.shop is None
    assert warning.key == "payment_failures:2026-03-10T12:00Z"
    assert warning.data["failed"] == 3 and warning.data["succeeded"] == 7
    assert "3 of 10 card payments failed in the last 15 minutes (30.0%, limit 20.0%)" in warning.message
    assert len(mail.outbox) == 1

    assert warnings_scan_payment_failures(now=NOW + timedelta(minutes=5)) is None
    assert OrderWarning.objects.count() == 1

    _outcomes(failed=5, paid=5, at=NOW + timedelta(minutes=10))
    later = warnings_scan_payment_failures(now=NOW + timedelta(minutes=13))
    assert later is not None and later.key == "payment_failures:2026-03-10T12:15Z"


def test_a_rate_at_the_limit_does_not_warn():
    _outcomes(failed=2, paid=8)  # 20%: not more than 20%
    assert warnings_scan_payment_failures(now=NOW) is None
    assert not OrderWarning.objects.exists()


def test_too_few_attempts_do_not_warn_however_many_failed(settings):
    _outcomes(failed=9, paid=0)
    assert warnings_scan_payment_failures(now=NOW) is None

    settings.ORDER_WARNING_PAYMENT_MIN_ATTEMPTS = 9
    assert warnings_scan_payment_failures(now=NOW) is not None


def test_only_card_outcomes_inside_the_window_count():
    """Outcomes older than the window, pay-on-pickup orders and other moves are not counted."""
    shop = ShopFactory()
    for _ in range(8):
        _outcome(S.PAYMENT_FAILED, at=NOW - timedelta(minutes=16), shop=shop)  # before the window
        _outcome(S.PAYMENT_FAILED, at=NOW - timedelta(minutes=1), payment_method="pay_on_pickup", shop=shop)
    _outcome(S.PAYMENT_FAILED, at=NOW - timedelta(minutes=14), shop=shop)
    _outcome(S.PAID, at=NOW - timedelta(minutes=2), shop=shop)
    _outcome(S.CANCELLED, at=NOW - timedelta(minutes=2), shop=shop)

    outcomes = card_payment_outcomes(since=NOW - timedelta(minutes=15), until=NOW)
    assert (outcomes.failed, outcomes.succeeded) == (1, 1)
    assert warnings_scan_payment_failures(now=NOW) is None


def test_a_checkouts_orders_share_one_payment_and_count_once():
    buyer = UserFactory()
    checkout = Checkout.objects.create(
        number="C-SPLIT",
        buyer=buyer,
        idempotency_key="split",
        status=Checkout.Status.EXPIRED,
        payment_method="card",
        currency="SGD",
        total=Decimal("30.00"),
    )
    for _ in range(3):
        _outcome(S.PAYMENT_FAILED, at=NOW - timedelta(minutes=3), checkout=checkout)
    _outcome(S.PAID, at=NOW - timedelta(minutes=3))

    outcomes = card_payment_outcomes(since=NOW - timedelta(minutes=15), until=NOW)
    assert (outcomes.failed, outcomes.succeeded) == (1, 1)


# --- telling people ------------------------------------------------------------------------------


def test_the_email_goes_once_to_the_configured_addresses(django_capture_on_commit_callbacks, settings):
    settings.ORDER_WARNING_EMAILS = ["ops@localbazaar.test", "lead@localbazaar.test"]
    order = make_order(subtotal="10.00", discount="9.00")
    with django_capture_on_commit_callbacks(execute=True):
        [warning] = warnings_for_new_order(order=order)

    [email] = mail.outbox
    assert sorted(email.to) == ["lead@localbazaar.test", "ops@localbazaar.test"]
    assert order.number in email.subject and order.number in email.body and order.shop.name in email.body
    warning.refresh_from_db()
    assert warning.notified_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        assert warning_email_send(warning_id=warning.pk) == "already notified"
        warning_notify.delay(warning_id=warning.pk)
    assert len(mail.outbox) == 1


def test_without_configured_addresses_active_staff_with_an_email_are_told(settings):
    settings.ORDER_WARNING_EMAILS = []
    StaffFactory(email="boss@localbazaar.test")
    StaffFactory(email="gone@localbazaar.test", is_active=False)
    UserFactory(email="buyer@example.com")
    assert warning_recipients() == ["boss@localbazaar.test"]


def test_the_webhook_receives_the_warning_as_json(django_capture_on_commit_callbacks, settings):
    order = make_order(subtotal="10.00", discount="9.00")
    with WebhookReceiver() as receiver:
        settings.ORDER_WARNING_WEBHOOK_URL = receiver.url
        with django_capture_on_commit_callbacks(execute=True):
            [warning] = warnings_for_new_order(order=order)

    [post] = receiver.received
    body = post["json"]["localbazaar"]
    assert body["key"] == warning.key and body["kind"] == "discount"
    assert body["order"] == order.number and body["shop"] == order.shop.slug
    assert body["data"]["discount"] == "9.00"
    assert warning.message in post["json"]["text"]
    assert post["headers"]["Content-Type"] == "application/json"
    assert len(mail.outbox) == 1


def test_a_failing_webhook_is_retried_until_it_answers_and_the_email_goes_once(
    django_capture_on_commit_callbacks, settings, caplog, eager_retries
):
    order = make_order(subtotal="10.00", discount="9.00")
    with WebhookReceiver(statuses=[500, 502, 503]) as receiver:
        settings.ORDER_WARNING_WEBHOOK_URL = receiver.url
        with django_capture_on_commit_callbacks(execute=True):
            warnings_for_new_order(order=order)

    assert len(receiver.received) == 4  # three failures, then 200
    assert len(mail.outbox) == 1
    retries = [r for r in caplog.records if "webhook failed (attempt" in r.getMessage()]
    assert len(retries) == 3 and "HTTP 502" in retries[1].getMessage()


def test_a_webhook_that_never_answers_is_given_up_after_the_last_retry(
    django_capture_on_commit_callbacks, settings, caplog, eager_retries
):
    order = make_order(subtotal="10.00", discount="9.00")
    with WebhookReceiver(statuses=[500] * 20) as receiver:
        settings.ORDER_WARNING_WEBHOOK_URL = receiver.url
        with django_capture_on_commit_callbacks(execute=True):
            [warning] = warnings_for_new_order(order=order)

    assert len(receiver.received) == WARNING_WEBHOOK_MAX_RETRIES + 1
    assert any("failed for good" in r.getMessage() for r in caplog.records)
    warning.refresh_from_db()
    assert warning.notified_at is not None and len(mail.outbox) == 1


def test_a_private_webhook_address_is_refused_outside_tests(
    django_capture_on_commit_callbacks, settings, caplog, eager_retries
):
    """The warnings webhook goes through the SSRF-safe poster: a loopback URL is never posted to."""
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    order = make_order(subtotal="10.00", discount="9.00")
    with WebhookReceiver() as receiver:
        settings.ORDER_WARNING_WEBHOOK_URL = receiver.url
        with django_capture_on_commit_callbacks(execute=True):
            warnings_for_new_order(order=order)
    assert receiver.received == []
    assert any("destination refused" in r.getMessage() for r in caplog.records)


def test_nothing_is_sent_for_a_warning_rolled_back_with_its_transaction(django_capture_on_commit_callbacks):
    from django.db import transaction

    order = make_order(subtotal="10.00", discount="9.00")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                warnings_for_new_order(order=order)
                raise RuntimeError("the intake step failed after the check")
        except RuntimeError:
            pass
    assert callbacks == [] and mail.outbox == []
    assert not OrderWarning.objects.exists()


def test_the_webhook_payload_of_a_platform_warning_has_no_order():
    warning, _created = warning_raise(kind=Kind.PAYMENT_FAILURES, key="payment_failures:p", message="Many failed")
    payload = warning_payload(warning)
    assert payload["localbazaar"]["order"] is None and payload["localbazaar"]["shop"] is None


# --- acknowledging ------------------------------------------------------------------------------


def test_staff_acknowledge_a_warning_once():
    order = make_order(subtotal="10.00", discount="9.00")
    [warning] = warnings_for_new_order(order=order)
    staff = StaffFactory(email="support@localbazaar.test")

    acknowledged = warning_acknowledge(warning=warning, user=staff)
    assert acknowledged.acknowledged_at is not None and acknowledged.acknowledged_by == staff
    first_time = acknowledged.acknowledged_at

    again = warning_acknowledge(warning=warning, user=StaffFactory())
    assert again.acknowledged_at == first_time and again.acknowledged_by == staff
    event = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.WARNING).latest("id")
    assert event.actor == staff and event.data["acknowledged"] is True
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.WARNING).count() == 2


def test_a_non_staff_user_cannot_acknowledge():
    warning, _created = warning_raise(kind=Kind.PAYMENT_FAILURES, key="payment_failures:q", message="Many failed")
    with pytest.raises(WarningError, match="Only platform staff"):
        warning_acknowledge(warning=warning, user=UserFactory())
    warning.refresh_from_db()
    assert warning.acknowledged_at is None


def test_open_warnings_by_kind_counts_only_unacknowledged_ones():
    for i in range(3):
        warning_raise(kind=Kind.DISCOUNT, key=f"discount:open-{i}", message="d")
    warning, _created = warning_raise(kind=Kind.PAYMENT_FAILURES, key="payment_failures:ack", message="p")
    warning_acknowledge(warning=warning, user=StaffFactory())

    counts = warnings_open_by_kind()
    assert counts[Kind.DISCOUNT] == 3 and counts[Kind.PAYMENT_FAILURES] == 0
    assert set(counts) == set(Kind.values)

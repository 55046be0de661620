"""The order engine's Prometheus metrics on /metrics: open warnings and the dead-letter queue read
from the database at scrape time, counters of warnings, placed orders and status changes, and the
beat jobs that run the scans."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry

from apps.accounts.tests.factories import StaffFactory
from apps.orders import metrics
from apps.orders.actors import Actor
from apps.orders.models import Order, OrderIntake, OrderWarning
from apps.orders.services import order_transition, orders_placed_record
from apps.orders.services_warnings import warning_acknowledge, warning_raise
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db

Kind = OrderWarning.Kind


@pytest.fixture(autouse=True)
def _metrics_open(settings):
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.ORDER_WARNING_EMAILS = ["ops@localbazaar.test"]
    settings.ORDER_WARNING_WEBHOOK_URL = ""


def _scrape(client) -> str:
    response = client.get(reverse("core:metrics"), REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return response.content.decode()


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _order(**kwargs) -> Order:
    shop = ShopFactory()
    now = timezone.now()
    defaults = {
        "number": f"M{Order.objects.count() + 1:08d}",
        "shop": shop,
        "status": Order.Status.PENDING_PAYMENT,
        "status_changed_at": now,
        "channel": "pos",
        "fulfilment": "pickup",
        "payment_method": "pay_on_pickup",
        "currency": shop.currency,
        "subtotal": Decimal("10.00"),
        "total": Decimal("10.00"),
        "placed_at": now,
    }
    return Order.objects.create(**{**defaults, **kwargs})


def test_open_warnings_per_kind_are_on_metrics_and_drop_when_acknowledged(client):
    warning_raise(kind=Kind.DISCOUNT, key="discount:m1", message="d1")
    warning_raise(kind=Kind.DISCOUNT, key="discount:m2", message="d2")
    late, _created = warning_raise(kind=Kind.NOT_DISPATCHED, key="not_dispatched:m3", message="late")

    text = _scrape(client)
    assert 'localbazaar_order_warnings_open{kind="discount"} 2.0' in text
    assert 'localbazaar_order_warnings_open{kind="not_dispatched"} 1.0' in text
    assert 'localbazaar_order_warnings_open{kind="payment_failures"} 0.0' in text

    warning_acknowledge(warning=late, user=StaffFactory())
    assert 'localbazaar_order_warnings_open{kind="not_dispatched"} 0.0' in _scrape(client)


def test_the_dead_letter_queue_depth_is_on_metrics(client):
    for i, status in enumerate([OrderIntake.Status.DEAD_LETTER] * 2 + [OrderIntake.Status.DONE]):
        OrderIntake.objects.create(channel="pos", external_ref=f"R-{i}", payload={}, status=status)
    assert "localbazaar_order_dead_letters 2.0" in _scrape(client)


def test_the_gauges_cost_two_queries_per_scrape(client, django_assert_max_num_queries):
    collector = metrics.OrderEngineCollector()
    with django_assert_max_num_queries(2):
        families = {family.name: family for family in collector.collect()}
    assert set(families) == {metrics.WARNINGS_OPEN, metrics.DEAD_LETTERS}


def test_raised_warnings_are_counted_once_committed(django_capture_on_commit_callbacks):
    before = _sample("localbazaar_order_warnings_total", kind="price_deviation")
    with django_capture_on_commit_callbacks(execute=True):
        warning_raise(kind=Kind.PRICE_DEVIATION, key="price_deviation:c1", message="p")
        warning_raise(kind=Kind.PRICE_DEVIATION, key="price_deviation:c1", message="p")  # the same one
    assert _sample("localbazaar_order_warnings_total", kind="price_deviation") == before + 1


def test_placed_orders_and_status_changes_are_counted_by_channel_and_status(client, django_capture_on_commit_callbacks):
    placed_before = _sample("localbazaar_orders_total", channel="kiosk")
    moved_before = _sample("localbazaar_order_transitions_total", to_status="cancelled")
    order = _order(channel="kiosk")
    with django_capture_on_commit_callbacks(execute=True):
        orders_placed_record(orders=[order], actor=Actor.system(), via="kiosk")
        order_transition(order=order, to=Order.Status.CANCELLED, actor=Actor.system(), reason="test")

    assert _sample("localbazaar_orders_total", channel="kiosk") == placed_before + 1
    assert _sample("localbazaar_order_transitions_total", to_status="cancelled") == moved_before + 1
    text = _scrape(client)
    assert 'localbazaar_orders_total{channel="kiosk"}' in text
    assert 'localbazaar_order_transitions_total{to_status="cancelled"}' in text


def test_registering_again_or_reloading_the_module_is_harmless(client):
    """AppConfig.ready running twice, or a second import, never raises "Duplicated timeseries"."""
    metrics.metrics_register()
    reloaded = importlib.reload(metrics)
    reloaded.metrics_register()
    assert reloaded.WARNINGS_RAISED is metrics.WARNINGS_RAISED
    text = _scrape(client)
    assert text.count("# TYPE localbazaar_order_warnings_open gauge") == 1

    other = CollectorRegistry()
    reloaded.metrics_register(other)
    reloaded.metrics_register(other)
    assert [m.name for m in other.collect()] == [metrics.WARNINGS_OPEN, metrics.DEAD_LETTERS]


def test_a_scrape_without_a_database_still_answers(client, monkeypatch):
    from apps.orders import selectors_warnings

    def broken():
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(selectors_warnings, "warnings_open_by_kind", broken)
    text = _scrape(client)
    assert "localbazaar_order_warnings_open{" not in text and "localbazaar_order_dead_letters " not in text
    assert "# TYPE localbazaar_orders_total counter" in text  # the rest of the page is there


def test_beat_runs_both_scans_every_five_minutes():
    schedule = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["orders.warnings_scan_overdue"] == 300.0
    assert schedule["orders.warnings_scan_payment_failures"] == 300.0


def test_the_beat_tasks_call_the_scans(django_capture_on_commit_callbacks):
    from apps.orders.tasks import warnings_scan_overdue_due, warnings_scan_payment_failures_due

    shop = ShopFactory(dispatch_hours=2)
    _order(shop=shop, status=Order.Status.PAID, placed_at=timezone.now() - timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert warnings_scan_overdue_due.delay().get() == 2
        assert warnings_scan_payment_failures_due.delay().get() is None

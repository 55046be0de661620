"""Prometheus metrics of the order engine, served by ``/metrics`` (``apps.core.views.metrics``).

Counters (per process, as Prometheus counters are; each process that serves ``/metrics`` reports
what happened in it):

- ``localbazaar_orders_total{channel}``: orders placed (``order_placed``), after the commit;
- ``localbazaar_order_transitions_total{to_status}``: status changes (``order_status_changed``),
  after the commit;
- ``localbazaar_order_warnings_total{kind}``: early warnings raised, after the commit.

Gauges read from the database at scrape time by :class:`OrderEngineCollector`, so they are right
whichever process (web, worker, beat) changed the data:

- ``localbazaar_order_warnings_open{kind}``: unacknowledged warnings (one GROUP BY query);
- ``localbazaar_order_dead_letters``: incoming orders in the dead-letter queue (one COUNT query).

:func:`metrics_register` adds the collector once per registry, and the counters are looked up
rather than made again if this module is imported a second time, so a reloaded module or a test
that imports it twice never meets prometheus_client's "Duplicated timeseries" error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from django.db import transaction
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

WARNINGS_OPEN = "localbazaar_order_warnings_open"
DEAD_LETTERS = "localbazaar_order_dead_letters"


def _counter(name: str, documentation: str, labels: list[str]) -> Counter:
    try:
        return Counter(name, documentation, labels)
    except ValueError:  # already registered by an earlier import of this module
        # prometheus_client keeps no public lookup by name; the registry's map is the only way back.
        return REGISTRY._names_to_collectors[f"{name}_total"]  # type: ignore[attr-defined]


ORDERS_PLACED = _counter("localbazaar_orders", "Orders placed, by channel.", ["channel"])
ORDER_TRANSITIONS = _counter("localbazaar_order_transitions", "Order status changes, by new status.", ["to_status"])
WARNINGS_RAISED = _counter("localbazaar_order_warnings", "Early warnings raised, by kind.", ["kind"])


def _after_commit(counter: Counter, label: str, amount: int = 1) -> None:
    # A rolled-back order, move or warning never happened: count it only once it is committed.
    transaction.on_commit(lambda: counter.labels(label).inc(amount))


def warnings_raised_count(kinds: Iterable[str]) -> None:
    """Count raised warnings (one per item of ``kinds``) once the transaction commits."""
    for kind in kinds:
        _after_commit(WARNINGS_RAISED, kind)


def order_placed_count(sender, order, **kwargs) -> None:
    """Receiver of ``order_placed``: count the order under its channel."""
    _after_commit(ORDERS_PLACED, order.channel or "unknown")


def order_transition_count(sender, to_status, **kwargs) -> None:
    """Receiver of ``order_status_changed``: count the move under its new status."""
    _after_commit(ORDER_TRANSITIONS, to_status)


class OrderEngineCollector(Collector):
    """The database-backed gauges, computed on every scrape."""

    def describe(self):
        # Names only: registering must not query the database (it runs in AppConfig.ready).
        return [
            GaugeMetricFamily(WARNINGS_OPEN, "Unacknowledged early warnings, by kind.", labels=["kind"]),
            GaugeMetricFamily(DEAD_LETTERS, "Incoming orders in the dead-letter queue."),
        ]

    def collect(self):
        from .selectors_warnings import dead_letter_count, warnings_open_by_kind

        try:
            open_by_kind = warnings_open_by_kind()
            dead_letters = dead_letter_count()
        except Exception:  # a scrape must still answer (database down, or no database at all)
            logger.warning("order metrics: the database could not be read", exc_info=True)
            return
        gauge = GaugeMetricFamily(WARNINGS_OPEN, "Unacknowledged early warnings, by kind.", labels=["kind"])
        for kind, count in sorted(open_by_kind.items()):
            gauge.add_metric([kind], count)
        yield gauge
        yield GaugeMetricFamily(DEAD_LETTERS, "Incoming orders in the dead-letter queue.", value=dead_letters)


_registered: set[int] = set()


def metrics_register(registry: CollectorRegistry = REGISTRY) -> None:
    """Add :class:`OrderEngineCollector` to ``registry`` (once, however often this is called)."""
    if id(registry) in _registered:
        return
    # ValueError: a collector with these names is already there (this module was reloaded).
    with contextlib.suppress(ValueError):
        registry.register(OrderEngineCollector())
    _registered.add(id(registry))

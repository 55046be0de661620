"""Prometheus gauges of loyalty, served by ``/metrics`` and read from the database at scrape time
(so they are right whichever process — web, worker, beat — moved the points):

- ``localbazaar_loyalty_points{bucket}``: points buyers hold, ``available`` and ``pending`` (the
  platform's outstanding liability, worth about a US cent each);
- ``localbazaar_loyalty_accounts{tier}``: accounts per tier.

One aggregate query over the accounts each (their cached sums; ``loyalty_check`` proves them).
"""

from __future__ import annotations

import contextlib
import logging

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

POINTS = "localbazaar_loyalty_points"
ACCOUNTS = "localbazaar_loyalty_accounts"


class LoyaltyCollector(Collector):
    def describe(self):
        # Names only: registering must not query the database (it runs in AppConfig.ready).
        return [
            GaugeMetricFamily(POINTS, "Loyalty points buyers hold, by bucket.", labels=["bucket"]),
            GaugeMetricFamily(ACCOUNTS, "Loyalty accounts, by tier.", labels=["tier"]),
        ]

    def collect(self):
        from .selectors import loyalty_totals

        try:
            totals = loyalty_totals()
        except Exception:  # a scrape must still answer (database down, or no database at all)
            logger.warning("loyalty metrics: the database could not be read", exc_info=True)
            return
        points = GaugeMetricFamily(POINTS, "Loyalty points buyers hold, by bucket.", labels=["bucket"])
        points.add_metric(["available"], totals.available)
        points.add_metric(["pending"], totals.pending)
        yield points
        accounts = GaugeMetricFamily(ACCOUNTS, "Loyalty accounts, by tier.", labels=["tier"])
        for tier, count in sorted(totals.accounts_by_tier.items()):
            accounts.add_metric([tier], count)
        yield accounts


_registered: set[int] = set()


def metrics_register(registry: CollectorRegistry = REGISTRY) -> None:
    """Add :class:`LoyaltyCollector` to ``registry`` once."""
    if id(registry) in _registered:
        return
    with contextlib.suppress(ValueError):  # already there (this module was reloaded)
        registry.register(LoyaltyCollector())
    _registered.add(id(registry))

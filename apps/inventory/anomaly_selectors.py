"""Reads for the anomaly review pages: the shop's queue and one anomaly with its movements.

Every read takes the shop; the getter raises ``Http404`` for another shop's anomaly.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.shops.models import Shop

from .models import StockAnomaly, StockMovement


def anomalies_for_shop(*, shop: Shop, status: str | None = StockAnomaly.Status.OPEN) -> QuerySet[StockAnomaly]:
    """The shop's anomalies with ``status`` (None: all), newest first, with the anchor movement's
    item and person and the reviewer loaded."""
    qs = StockAnomaly.objects.filter(shop=shop).select_related(
        "movement__item__variant__product", "movement__item__location", "movement__actor", "reviewed_by"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def anomaly_counts_for_shop(*, shop: Shop) -> dict[str, int]:
    """How many of the shop's anomalies are in each status (every status present, 0 if none)."""
    counts = dict.fromkeys(StockAnomaly.Status.values, 0)
    for status in StockAnomaly.objects.filter(shop=shop).values_list("status", flat=True):
        counts[status] += 1
    return counts


def anomaly_get_for_shop(*, shop: Shop, anomaly_id: int) -> StockAnomaly:
    """One anomaly of the shop with the movements involved (oldest first); 404 for another shop's."""
    involved = StockMovement.objects.select_related("item__variant__product", "item__location", "actor").order_by(
        "created_at", "pk"
    )
    anomaly = (
        StockAnomaly.objects.filter(shop=shop, pk=anomaly_id)
        .select_related(
            "movement__item__variant__product", "movement__item__location", "movement__actor", "reviewed_by"
        )
        .prefetch_related(Prefetch("movements", queryset=involved))
        .first()
    )
    if anomaly is None:
        raise Http404("No such anomaly.")
    return anomaly

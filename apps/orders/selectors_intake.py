"""Reads for incoming orders (the intake pipeline and its dead-letter queue) and the shop-scoped
order reads integrations use through the API."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from .models import Order, OrderEvent, OrderIntake


def _intakes() -> QuerySet[OrderIntake]:
    return OrderIntake.objects.select_related("shop", "order", "source_file")


def intakes_dead_letter() -> QuerySet[OrderIntake]:
    """Intakes that ran out of attempts, newest first: staff fix and re-push them."""
    return _intakes().filter(status=OrderIntake.Status.DEAD_LETTER).order_by("-updated_at", "-pk")


def intakes_list(
    *, status: str | None = None, shop=None, channel: str | None = None, query: str = ""
) -> QuerySet[OrderIntake]:
    """Incoming orders, newest first; ``query`` matches the external reference (part of it) or the
    number of the order made from it."""
    qs = _intakes()
    if status:
        qs = qs.filter(status=status)
    if shop is not None:
        qs = qs.filter(shop=shop)
    if channel:
        qs = qs.filter(channel=channel)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(external_ref__icontains=query) | Q(order__number__iexact=query))
    return qs.order_by("-created_at", "-pk")


def intake_get(*, pk: int) -> OrderIntake:
    """One intake (any shop: the back office); 404 when there is none."""
    intake = _intakes().filter(pk=pk).first()
    if intake is None:
        raise Http404("No such incoming order.")
    return intake


def intake_get_for_shop(*, shop, pk: int) -> OrderIntake:
    """One intake of ``shop``; 404 for another shop's, as if it did not exist."""
    intake = _intakes().filter(shop=shop, pk=pk).first()
    if intake is None:
        raise Http404("No such incoming order.")
    return intake


# --- orders, for integrations ---------------------------------------------------------------------


def orders_for_shop_api(
    *, shop, status: list[str] | None = None, channel: str = "", since: datetime | None = None
) -> QuerySet[Order]:
    """The shop's orders for the API list, newest first, lines prefetched (a fixed number of
    queries per page); ``since``: placed at or after."""
    qs = Order.objects.filter(shop=shop).prefetch_related("lines")
    if status:
        qs = qs.filter(status__in=status)
    if channel:
        qs = qs.filter(channel=channel)
    if since is not None:
        qs = qs.filter(placed_at__gte=since)
    return qs


def order_get_for_shop_api(*, shop, number: str) -> Order:
    """One order of the shop with its lines and timeline; 404 for another shop's."""
    order = (
        Order.objects.filter(shop=shop, number=number)
        .prefetch_related("lines", Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")))
        .first()
    )
    if order is None:
        raise Http404("No such order.")
    return order

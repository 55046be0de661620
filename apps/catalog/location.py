"""Where the buyer is: a place they picked (postcode or coordinates), kept in their session.

Search and listings rank by distance from this point; with none, distance plays no part. Saved
addresses (accounts, with the checkout work) will feed the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.core.geo import Point

SESSION_KEY = "buyer_location"


@dataclass(frozen=True)
class BuyerLocation:
    point: Point
    label: str


def buyer_location_get(request) -> BuyerLocation | None:
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not data:
        return None
    try:
        return BuyerLocation(Point(Decimal(data["lat"]), Decimal(data["lon"])), data.get("label", ""))
    except (KeyError, ValueError, ArithmeticError):
        return None


def buyer_location_set(request, *, point: Point, label: str) -> BuyerLocation:
    request.session[SESSION_KEY] = {"lat": str(point.latitude), "lon": str(point.longitude), "label": label[:80]}
    return BuyerLocation(point, label)


def buyer_location_clear(request) -> None:
    request.session.pop(SESSION_KEY, None)

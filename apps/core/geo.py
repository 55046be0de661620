"""Geography without a geocoding service: great-circle distance and Singapore postcodes.

Singapore postcodes are six digits; the first two (the sector) name one of 28 postal districts.
``data/sg_postal_districts.csv`` maps each district to a central point, so a postcode alone places
an address to within a few kilometres, which is enough to rank shops by distance.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.db.models import F, FloatField, Value
from django.db.models.functions import ASin, Cast, Cos, Least, Power, Radians, Sin, Sqrt

EARTH_RADIUS_KM = 6371.0088
_DATA = Path(__file__).parent / "data" / "sg_postal_districts.csv"
_SG_POSTCODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Point:
    latitude: Decimal
    longitude: Decimal

    def __post_init__(self) -> None:
        lat, lon = Decimal(self.latitude), Decimal(self.longitude)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"({lat}, {lon}) is not a place on Earth.")
        object.__setattr__(self, "latitude", lat)
        object.__setattr__(self, "longitude", lon)


@dataclass(frozen=True)
class PostalDistrict:
    number: str
    name: str
    point: Point


@cache
def _districts_by_sector() -> dict[str, PostalDistrict]:
    table: dict[str, PostalDistrict] = {}
    with _DATA.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            district = PostalDistrict(
                number=row["district"],
                name=row["name"],
                point=Point(Decimal(row["latitude"]), Decimal(row["longitude"])),
            )
            for sector in row["sectors"].split():
                table[sector] = district
    return table


def sg_postal_district(postcode: str) -> PostalDistrict | None:
    """The district of a Singapore postcode, or None when it is not a known six-digit postcode."""
    code = (postcode or "").strip()
    if not _SG_POSTCODE.match(code):
        return None
    return _districts_by_sector().get(code[:2])


def haversine_km(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, map(float, (a.latitude, a.longitude, b.latitude, b.longitude)))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km_expression(point: Point, *, latitude: str = "latitude", longitude: str = "longitude"):
    """An ORM expression for the great-circle distance in km from ``point`` to the row's coordinates.

    Works on PostgreSQL and on SQLite (Django provides the math functions there).
    """
    lat0 = Value(float(point.latitude), output_field=FloatField())
    lon0 = Value(float(point.longitude), output_field=FloatField())
    # Coordinates are stored as Decimal; the trigonometry runs on floats.
    lat = Cast(F(latitude), FloatField())
    lon = Cast(F(longitude), FloatField())
    h = Power(Sin((Radians(lat) - Radians(lat0)) / 2), 2) + Cos(Radians(lat0)) * Cos(Radians(lat)) * Power(
        Sin((Radians(lon) - Radians(lon0)) / 2), 2
    )
    return Value(2 * EARTH_RADIUS_KM, output_field=FloatField()) * ASin(
        Least(Sqrt(h), Value(1.0, output_field=FloatField()))
    )

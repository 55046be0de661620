from decimal import Decimal

import pytest

from apps.core.geo import Point, haversine_km, sg_postal_district


def test_postcode_gives_its_district_and_point():
    district = sg_postal_district("238839")  # Orchard
    assert district.number == "09"
    assert district.point.latitude == Decimal("1.303600")


@pytest.mark.parametrize("postcode", ["", "12345", "abcdef", "990000", "0123456"])
def test_unknown_or_malformed_postcodes_give_none(postcode):
    assert sg_postal_district(postcode) is None


def test_every_sector_maps_to_one_of_28_districts():
    districts = {sg_postal_district(f"{sector:02d}0000") for sector in range(1, 83)}
    districts.discard(None)
    assert len(districts) == 28


def test_haversine_orchard_to_changi_is_about_17_km():
    orchard = Point(Decimal("1.3036"), Decimal("103.8318"))
    changi = Point(Decimal("1.3644"), Decimal("103.9915"))
    assert 18 < haversine_km(orchard, changi) < 19


def test_points_outside_the_earth_are_refused():
    with pytest.raises(ValueError):
        Point(Decimal("91"), Decimal("0"))

"""Factories for same-day delivery: a zone, slots, couriers and bookings of the factory shop
(Tiong Bahru, Singapore) and addresses inside and outside its zone."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import factory

from apps.delivery.models import Courier, DeliverySlot, DeliveryZone, SlotBooking
from apps.shops.tests.factories import ShopFactory


class DeliveryZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryZone

    shop = factory.SubFactory(ShopFactory)
    active = True
    radius_km = Decimal("5.00")
    postal_districts = factory.LazyFunction(list)
    fee = Decimal("6.00")
    free_above = Decimal("80.00")


class DeliverySlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliverySlot

    shop = factory.SubFactory(ShopFactory)
    weekday = 0
    starts = time(10, 0)
    ends = time(12, 0)
    cutoff = time(9, 0)
    capacity = 10
    active = True


class CourierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Courier

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Rider {n}")
    phone = "+65 8123 4567"
    email = factory.Sequence(lambda n: f"rider{n}@example.com")
    active = True


class SlotBookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlotBooking

    slot = factory.SubFactory(DeliverySlotFactory)
    shop = factory.SelfAttribute("slot.shop")
    date = factory.LazyFunction(lambda: date(2026, 3, 2))
    reference = factory.Sequence(lambda n: f"LB-T{n:06d}")
    status = SlotBooking.Status.CONFIRMED
    fee = Decimal("6.00")
    currency = "SGD"


def address(*, postcode: str = "163079", lat: str | None = "1.285000", lon: str | None = "103.833000") -> dict:
    """An order address snapshot; by default next door to the factory shop (Yong Siak Street)."""
    return {
        "recipient": "Tan Wei Ling",
        "phone": "+65 9123 4567",
        "lines": ["80 Yong Siak Street"],
        "postcode": postcode,
        "city": "Singapore",
        "country": "SG",
        "lat": lat,
        "lon": lon,
    }


# Changi, about 20 km east of the factory shop (district 17).
FAR_ADDRESS = {"postcode": "499999", "lat": "1.357000", "lon": "103.988000"}


def far_address() -> dict:
    return address(**FAR_ADDRESS)


def delivering_shop(**shop_fields):
    """A shop with an active 5 km zone (fee 6.00, free from 80.00)."""
    shop = ShopFactory(**shop_fields)
    DeliveryZoneFactory(shop=shop)
    return shop

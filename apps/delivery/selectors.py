"""Reads for same-day delivery: does a shop deliver to an address, for what fee, in which slots
(still open today, and tomorrow), and the bookings of a slot or a day.

Every time of day and every "today" is the shop's own (``ZoneInfo(shop.time_zone)``): a slot's
cut-off at 09:00 in Bogotá is 09:00 in Bogotá whatever the server's clock says, and a cut-off on a
daylight-saving change day is that wall-clock time on that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from apps.core.geo import Point, haversine_km, sg_postal_district
from apps.core.money import Money
from apps.shops.models import Shop

from .models import Courier, DeliverySlot, DeliveryZone, SlotBooking

# Same-day delivery is booked for today or tomorrow, never further ahead.
BOOKING_DAYS = 2
# Held and confirmed bookings take a place in their slot; released ones do not.
TAKING_PLACE = (SlotBooking.Status.HELD, SlotBooking.Status.CONFIRMED)


@dataclass(frozen=True)
class SlotOption:
    """One slot on one date a buyer can pick at checkout. ``code`` is what the checkout sends back
    (``delivery:<slot_id>:<date>``); ``cutoff_at`` is aware (the shop's time zone)."""

    slot_id: int
    date: date
    starts: time
    ends: time
    cutoff_at: datetime
    capacity_left: int
    fee: Decimal
    code: str
    label: str


def slot_code(*, slot_id: int, day: date) -> str:
    return f"delivery:{slot_id}:{day.isoformat()}"


def shop_zone_info(shop: Shop) -> ZoneInfo:
    return ZoneInfo(shop.time_zone)


def shop_local_now(*, shop: Shop, now: datetime | None = None) -> datetime:
    """``now`` (default: the current time) on the shop's wall clock."""
    return (now or timezone.now()).astimezone(shop_zone_info(shop))


def slot_cutoff_at(*, slot: DeliverySlot, day: date, shop: Shop) -> datetime:
    """The aware moment the slot stops taking orders for ``day`` (its cut-off on that day, in the
    shop's time zone; on a daylight-saving day the wall-clock time of that day)."""
    return datetime.combine(day, slot.cutoff, tzinfo=shop_zone_info(shop))


def slot_window(slot: DeliverySlot) -> str:
    return f"{slot.starts:%H:%M}–{slot.ends:%H:%M}"


# --- the zone -----------------------------------------------------------------------------------


def delivery_zone_get(*, shop: Shop) -> DeliveryZone | None:
    """The shop's delivery zone (on or off), or None when it never set one."""
    return DeliveryZone.objects.filter(shop=shop).first()


def delivery_zone_active(*, shop: Shop) -> DeliveryZone | None:
    """The shop's zone when same-day delivery is switched on, else None (the shop does not deliver)."""
    return DeliveryZone.objects.filter(shop=shop, active=True).first()


@cache
def sg_postal_district_numbers() -> frozenset[str]:
    """Every Singapore postal district number ("01" … "28"), read through ``apps.core.geo`` (its
    table maps each two-digit sector to a district)."""
    numbers = set()
    for sector in range(100):
        district = sg_postal_district(f"{sector:02d}0000")
        if district is not None:
            numbers.add(district.number)
    return frozenset(numbers)


def _address_point(address: dict) -> Point | None:
    """The address's own coordinates; without them, the centre of its postcode's district (a
    Singapore postcode places an address to within a few kilometres)."""
    lat, lon = address.get("lat"), address.get("lon")
    if lat not in (None, "") and lon not in (None, ""):
        try:
            return Point(Decimal(str(lat)), Decimal(str(lon)))
        except (InvalidOperation, ValueError):
            return None
    district = sg_postal_district(str(address.get("postcode") or ""))
    return district.point if district else None


def zone_covers_address(zone: DeliveryZone, shop: Shop, address: dict) -> bool:
    if zone.postal_districts:
        district = sg_postal_district(str(address.get("postcode") or ""))
        if district is not None and district.number in zone.postal_districts:
            return True
    point = _address_point(address or {})
    if point is None:
        return False
    return haversine_km(Point(shop.latitude, shop.longitude), point) <= float(zone.radius_km)


def delivery_zone_covers(*, shop: Shop, address: dict) -> bool:
    """True when the shop delivers the same day to ``address`` (an order's address snapshot): its
    zone is on, and the address is within ``radius_km`` of the shop (straight line) or, when the
    zone lists postal districts, its postcode lies in one of them."""
    zone = delivery_zone_active(shop=shop)
    return zone is not None and zone_covers_address(zone, shop, address or {})


def zone_fee(zone: DeliveryZone, shop: Shop, subtotal: Decimal) -> Decimal:
    if zone.free_above is not None and Decimal(subtotal) >= zone.free_above:
        return Money(Decimal("0"), shop.currency).amount
    return Money(zone.fee, shop.currency).amount


def delivery_fee_for(*, shop: Shop, subtotal: Decimal) -> Decimal:
    """The shop's flat delivery fee, or 0 when ``subtotal`` reaches its free-delivery threshold (or
    the shop has no zone at all)."""
    zone = delivery_zone_get(shop=shop)
    if zone is None:
        return Money(Decimal("0"), shop.currency).amount
    return zone_fee(zone, shop, subtotal)


# --- slots and what is left in them ----------------------------------------------------------------


def slot_taken(*, slot: DeliverySlot, day: date) -> int:
    """How many orders hold or have a place in ``slot`` on ``day``."""
    return SlotBooking.objects.filter(slot=slot, date=day, status__in=TAKING_PLACE).count()


def _taken_by_slot_day(slot_ids: list[int], days: list[date]) -> dict[tuple[int, date], int]:
    rows = (
        SlotBooking.objects.filter(slot_id__in=slot_ids, date__in=days, status__in=TAKING_PLACE)
        .values("slot_id", "date")
        .annotate(n=Count("id"))
    )
    return {(row["slot_id"], row["date"]): row["n"] for row in rows}


def _day_label(day: date, today: date) -> str:
    if day == today:
        return _("Today")
    if day == today + timedelta(days=1):
        return _("Tomorrow")
    return date_format(day, "D j M")


def delivery_slot_options(
    *, shop: Shop, address: dict | None, subtotal: Decimal, now: datetime | None = None, days: int = BOOKING_DAYS
) -> list[SlotOption]:
    """The slots a buyer may pick, earliest first: today's whose cut-off has not passed, then the
    following days' (``days`` = 2: today and tomorrow), leaving out full and switched-off slots.
    Empty when the shop has no active zone or ``address`` (when given) is outside it. Three queries."""
    zone = delivery_zone_active(shop=shop)
    if zone is None or (address is not None and not zone_covers_address(zone, shop, address)):
        return []
    local_now = shop_local_now(shop=shop, now=now)
    today = local_now.date()
    dates = [today + timedelta(days=i) for i in range(max(0, days))]
    weekdays = {d.weekday() for d in dates}
    slots = list(DeliverySlot.objects.filter(shop=shop, active=True, weekday__in=weekdays).order_by("starts"))
    if not slots:
        return []
    taken = _taken_by_slot_day([s.pk for s in slots], dates)
    fee = zone_fee(zone, shop, subtotal)
    options = []
    for day in dates:
        for slot in slots:
            if slot.weekday != day.weekday():
                continue
            cutoff_at = slot_cutoff_at(slot=slot, day=day, shop=shop)
            left = slot.capacity - taken.get((slot.pk, day), 0)
            if local_now >= cutoff_at or left <= 0:
                continue
            options.append(
                SlotOption(
                    slot_id=slot.pk,
                    date=day,
                    starts=slot.starts,
                    ends=slot.ends,
                    cutoff_at=cutoff_at,
                    capacity_left=left,
                    fee=fee,
                    code=slot_code(slot_id=slot.pk, day=day),
                    label=_("%(day)s %(window)s") % {"day": _day_label(day, today), "window": slot_window(slot)},
                )
            )
    return options


# --- bookings ---------------------------------------------------------------------------------------


def slot_booking_get(*, reference: str) -> SlotBooking | None:
    """The booking of an order (by its number), whatever its status, or None."""
    return SlotBooking.objects.select_related("slot", "shop").filter(reference=reference).first()


def slot_bookings_for_day(*, shop: Shop, date: date) -> QuerySet[SlotBooking]:
    """The shop's held and confirmed bookings on ``date``, by slot then booking time."""
    return (
        SlotBooking.objects.filter(shop=shop, date=date, status__in=TAKING_PLACE)
        .select_related("slot")
        .order_by("slot__starts", "created_at", "pk")
    )


# --- the seller's settings pages ---------------------------------------------------------------------


def delivery_slots_for_shop(*, shop: Shop) -> QuerySet[DeliverySlot]:
    """The shop's slots by weekday and start, each with ``booking_count`` (all bookings ever made,
    which keep a slot from being deleted)."""
    return (
        DeliverySlot.objects.filter(shop=shop)
        .annotate(booking_count=Count("bookings", distinct=True), run_count=Count("runs", distinct=True))
        .order_by("weekday", "starts")
    )


def delivery_slot_get_for_shop(*, shop: Shop, slot_id: int) -> DeliverySlot:
    """One of the shop's slots; 404 for another shop's (or no) slot."""
    slot = DeliverySlot.objects.filter(shop=shop, pk=slot_id).first()
    if slot is None:
        raise Http404("No such delivery slot in this shop.")
    return slot


def couriers_for_shop(*, shop: Shop) -> QuerySet[Courier]:
    return Courier.objects.filter(shop=shop).order_by("-active", "name", "pk")


def courier_get_for_shop(*, shop: Shop, courier_id: int) -> Courier:
    """One of the shop's couriers; 404 for another shop's (or no) courier."""
    courier = Courier.objects.filter(shop=shop, pk=courier_id).first()
    if courier is None:
        raise Http404("No such courier in this shop.")
    return courier


def slot_bookings_upcoming_count(*, shop: Shop, now: datetime | None = None) -> dict[int, int]:
    """Held and confirmed bookings from today on, per slot id (the settings page shows them)."""
    today = shop_local_now(shop=shop, now=now).date()
    rows = (
        SlotBooking.objects.filter(shop=shop, date__gte=today)
        .filter(Q(status__in=TAKING_PLACE))
        .values("slot_id")
        .annotate(n=Count("id"))
    )
    return {row["slot_id"]: row["n"] for row in rows}

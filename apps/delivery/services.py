"""Writes for same-day delivery: booking an order into a slot (safe under concurrency, idempotent per
order), confirming, releasing and expiring bookings, and the seller's zone, slots and couriers.

A slot never takes more orders than its capacity: ``slot_book`` locks the slot's row
(``select_for_update``) and counts its held and confirmed bookings for the date while holding the
lock, so concurrent bookings of one slot queue behind each other and the last place goes to one.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.shops.models import Shop

from . import errors
from .errors import DeliveryError
from .models import Courier, DeliverySlot, DeliveryZone, SlotBooking
from .selectors import (
    BOOKING_DAYS,
    TAKING_PLACE,
    delivery_zone_active,
    sg_postal_district_numbers,
    shop_local_now,
    slot_cutoff_at,
    slot_taken,
    slot_window,
    zone_covers_address,
    zone_fee,
)
from .signals import slot_booking_released

_CODE = re.compile(r"^delivery:(?P<slot>\d{1,12}):(?P<date>\d{4}-\d{2}-\d{2})$")
SLOT_CAPACITY_MAX = 500
EXPIRED_REASON = "hold expired"


def _validation_message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _parse_code(code: str) -> tuple[int, date]:
    match = _CODE.match((code or "").strip())
    day = None
    if match:
        try:
            day = date.fromisoformat(match["date"])
        except ValueError:
            day = None
    if match is None or day is None:
        raise DeliveryError(
            _("%(code)r is not a delivery slot; pick one of the slots offered for this shop.") % {"code": code},
            code=errors.BAD_SLOT_CODE,
        )
    return int(match["slot"]), day


def _point_part(address: dict, key: str) -> Decimal | None:
    value = address.get(key)
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.000001"))
    except ArithmeticError:
        return None


@transaction.atomic
def slot_book(
    *,
    shop: Shop,
    code: str,
    reference: str,
    address: dict,
    subtotal: Decimal,
    weight_grams: int = 0,
    items: int = 0,
    hold_until: datetime | None = None,
    confirmed: bool = False,
    now: datetime | None = None,
) -> SlotBooking:
    """Book order ``reference`` into the slot and date named by ``code`` (``delivery:<slot>:<date>``),
    held until ``hold_until`` (or confirmed at once with ``confirmed=True``).

    Refused with a :class:`DeliveryError` when the shop does not deliver, the slot is not one of the
    shop's active slots, the date is not today or tomorrow (shop time) or not the slot's weekday, the
    slot's cut-off has passed, the address is outside the zone, or the slot is full. Booking the
    same order again returns its booking (confirming it when asked); a released booking is taken
    up again under the same rules.
    """
    slot_id, day = _parse_code(code)
    # The lock that makes capacity safe: every booking of this slot waits here for the one before.
    slot = DeliverySlot.objects.select_for_update().filter(pk=slot_id, shop=shop).first()
    if slot is None:
        raise DeliveryError(
            _("That delivery slot is not one of %(shop)s's slots; pick one of the slots offered.")
            % {"shop": shop.name},
            code=errors.UNKNOWN_SLOT,
        )
    window = slot_window(slot)
    booking = SlotBooking.objects.select_for_update().filter(reference=reference).first()
    if booking is not None and booking.status in TAKING_PLACE:
        # The same order booked again (a retried checkout): its booking, whatever the clock says now.
        if (booking.slot_id, booking.date) != (slot.pk, day):
            raise DeliveryError(
                _(
                    "Order %(reference)s already has a delivery slot (%(date)s %(window)s); "
                    "release it before booking another."
                )
                % {"reference": reference, "date": booking.date.isoformat(), "window": slot_window(booking.slot)},
                code=errors.ALREADY_BOOKED,
            )
        if confirmed and booking.status == SlotBooking.Status.HELD:
            booking.status = SlotBooking.Status.CONFIRMED
            booking.hold_until = None
            booking.save(update_fields=["status", "hold_until", "updated_at"])
        return booking
    zone = delivery_zone_active(shop=shop)
    if zone is None:
        raise DeliveryError(
            _("%(shop)s does not deliver the same day; choose pickup or another shop.") % {"shop": shop.name},
            code=errors.NO_DELIVERY,
        )
    if not slot.active:
        raise DeliveryError(
            _("The %(window)s slot is not taking orders; choose another slot.") % {"window": window},
            code=errors.SLOT_OFF,
        )
    local_now = shop_local_now(shop=shop, now=now)
    today = local_now.date()
    if not (today <= day < today + timedelta(days=BOOKING_DAYS)):
        raise DeliveryError(
            _(
                "Same-day delivery is booked for today or tomorrow only, not %(date)s; choose a slot on one of those days."
            )
            % {"date": day.isoformat()},
            code=errors.BAD_DATE,
        )
    if day.weekday() != slot.weekday:
        raise DeliveryError(
            _("The %(window)s slot does not run on %(date)s; choose one of the slots offered for that day.")
            % {"window": window, "date": day.isoformat()},
            code=errors.BAD_DATE,
        )
    cutoff_at = slot_cutoff_at(slot=slot, day=day, shop=shop)
    if local_now >= cutoff_at:
        raise DeliveryError(
            _("The %(window)s slot closed for orders at %(cutoff)s; choose a later one.")
            % {"window": window, "cutoff": f"{slot.cutoff:%H:%M}"},
            code=errors.SLOT_CLOSED,
        )
    if not zone_covers_address(zone, shop, address or {}):
        raise DeliveryError(
            _("%(shop)s does not deliver to %(place)s; choose pickup or another address.")
            % {"shop": shop.name, "place": (address or {}).get("postcode") or _("this address")},
            code=errors.OUTSIDE_ZONE,
        )

    if slot_taken(slot=slot, day=day) >= slot.capacity:
        raise DeliveryError(
            _("The %(window)s slot on %(date)s is full; choose another slot or pickup.")
            % {"window": window, "date": day.isoformat()},
            code=errors.SLOT_FULL,
        )
    booking = booking or SlotBooking(reference=reference)
    booking.slot = slot
    booking.shop = shop
    booking.date = day
    booking.status = SlotBooking.Status.CONFIRMED if confirmed else SlotBooking.Status.HELD
    booking.fee = zone_fee(zone, shop, subtotal)
    booking.currency = shop.currency
    booking.address = address or {}
    booking.latitude = _point_part(booking.address, "lat")
    booking.longitude = _point_part(booking.address, "lon")
    booking.weight_grams = max(0, int(weight_grams))
    booking.items = max(0, int(items))
    booking.hold_until = None if confirmed else hold_until
    booking.released_reason = ""
    booking.full_clean(exclude=["slot", "shop"], validate_unique=booking.pk is None)
    booking.save()
    return booking


@transaction.atomic
def slot_booking_confirm(*, reference: str) -> SlotBooking | None:
    """Confirm an order's held place (the order is paid or confirmed). None when the order has no
    booking; a confirmed booking is returned as it is, and so is a released one (its place is gone:
    the caller sees ``status == "released"``)."""
    booking = SlotBooking.objects.select_for_update().filter(reference=reference).first()
    if booking is None or booking.status != SlotBooking.Status.HELD:
        return booking
    booking.status = SlotBooking.Status.CONFIRMED
    booking.hold_until = None
    booking.save(update_fields=["status", "hold_until", "updated_at"])
    return booking


def _release(booking: SlotBooking, reason: str) -> None:
    booking.status = SlotBooking.Status.RELEASED
    booking.released_reason = (reason or "")[:200]
    booking.hold_until = None
    booking.save(update_fields=["status", "released_reason", "hold_until", "updated_at"])
    slot_booking_released.send(sender=SlotBooking, booking=booking, reference=booking.reference, reason=reason)


@transaction.atomic
def slot_booking_release(*, reference: str, reason: str) -> SlotBooking | None:
    """Give an order's place in its slot back (payment failed, order cancelled, hold expired) and
    send ``slot_booking_released``. None when the order has no booking; releasing twice is a no-op."""
    booking = SlotBooking.objects.select_for_update().filter(reference=reference).first()
    if booking is None or booking.status == SlotBooking.Status.RELEASED:
        return booking
    _release(booking, reason)
    return booking


@transaction.atomic
def slot_bookings_expire(*, now: datetime | None = None) -> int:
    """Release every held booking whose hold has run out (beat, every minute); returns how many.
    Rows another run is releasing are skipped, so two runs at once never release one twice."""
    now = now or timezone.now()
    due = list(
        SlotBooking.objects.select_for_update(skip_locked=True)
        .filter(status=SlotBooking.Status.HELD, hold_until__isnull=False, hold_until__lt=now)
        .order_by("pk")
    )
    for booking in due:
        _release(booking, EXPIRED_REASON)
    return len(due)


# --- the seller's settings ---------------------------------------------------------------------------


def _clean_districts(postal_districts: list[str]) -> list[str]:
    known = sg_postal_district_numbers()
    cleaned, unknown = [], []
    for raw in postal_districts:
        value = str(raw).strip()
        if not value:
            continue
        if value.isdigit() and len(value) == 1:
            value = f"0{value}"
        if value not in known:
            unknown.append(str(raw).strip())
        elif value not in cleaned:
            cleaned.append(value)
    if unknown:
        raise DeliveryError(
            _("%(districts)s: not Singapore postal districts; use two-digit districts from 01 to 28, e.g. 01, 15.")
            % {"districts": ", ".join(unknown)},
            code=errors.INVALID_SETTINGS,
        )
    return sorted(cleaned)


@transaction.atomic
def delivery_zone_set(
    *,
    shop: Shop,
    active: bool,
    radius_km: Decimal,
    postal_districts: list[str],
    fee: Decimal,
    free_above: Decimal | None,
) -> DeliveryZone:
    """Create or change the shop's same-day delivery zone and fee."""
    zone = DeliveryZone.objects.select_for_update().filter(shop=shop).first() or DeliveryZone(shop=shop)
    zone.active = active
    zone.radius_km = radius_km
    zone.postal_districts = _clean_districts(postal_districts)
    zone.fee = fee
    zone.free_above = free_above
    try:
        zone.full_clean()
    except ValidationError as exc:
        raise DeliveryError(_validation_message(exc), code=errors.INVALID_SETTINGS) from exc
    zone.save()
    return zone


def _check_slot(
    *, shop: Shop, slot_pk: int | None, weekday: int, starts: time, ends: time, cutoff: time, capacity: int
):
    if ends <= starts:
        raise DeliveryError(_("A slot must end after it starts."), code=errors.INVALID_SETTINGS)
    if cutoff > starts:
        raise DeliveryError(
            _("The order-by time must be at or before the slot starts (%(starts)s).") % {"starts": f"{starts:%H:%M}"},
            code=errors.INVALID_SETTINGS,
        )
    if not 1 <= capacity <= SLOT_CAPACITY_MAX:
        raise DeliveryError(
            _("A slot takes between 1 and %(max)s orders.") % {"max": SLOT_CAPACITY_MAX},
            code=errors.INVALID_SETTINGS,
        )
    overlapping = (
        DeliverySlot.objects.filter(shop=shop, weekday=weekday, starts__lt=ends, ends__gt=starts)
        .exclude(pk=slot_pk)
        .order_by("starts")
        .first()
    )
    if overlapping is not None:
        raise DeliveryError(
            _("This slot overlaps the %(window)s slot on %(day)s; change the times so slots do not overlap.")
            % {"window": slot_window(overlapping), "day": overlapping.get_weekday_display()},
            code=errors.INVALID_SETTINGS,
        )


def _save_slot(slot: DeliverySlot) -> DeliverySlot:
    try:
        slot.full_clean()
    except ValidationError as exc:
        raise DeliveryError(_validation_message(exc), code=errors.INVALID_SETTINGS) from exc
    slot.save()
    return slot


@transaction.atomic
def delivery_slot_create(
    *, shop: Shop, weekday: int, starts: time, ends: time, cutoff: time, capacity: int, active: bool = True
) -> DeliverySlot:
    """Add a delivery slot on a weekday: it ends after it starts, its cut-off is at or before its
    start, it takes 1 to 500 orders, and it overlaps no other slot of that weekday."""
    # Lock the shop so two slots added at once cannot both pass the overlap check.
    Shop.objects.select_for_update().filter(pk=shop.pk).first()
    _check_slot(shop=shop, slot_pk=None, weekday=weekday, starts=starts, ends=ends, cutoff=cutoff, capacity=capacity)
    return _save_slot(
        DeliverySlot(
            shop=shop, weekday=weekday, starts=starts, ends=ends, cutoff=cutoff, capacity=capacity, active=active
        )
    )


@transaction.atomic
def delivery_slot_update(
    *, slot: DeliverySlot, weekday: int, starts: time, ends: time, cutoff: time, capacity: int, active: bool
) -> DeliverySlot:
    """Change a slot under the same rules as adding one. Bookings already made keep their place."""
    Shop.objects.select_for_update().filter(pk=slot.shop_id).first()
    _check_slot(
        shop=slot.shop, slot_pk=slot.pk, weekday=weekday, starts=starts, ends=ends, cutoff=cutoff, capacity=capacity
    )
    slot.weekday, slot.starts, slot.ends, slot.cutoff = weekday, starts, ends, cutoff
    slot.capacity, slot.active = capacity, active
    return _save_slot(slot)


@transaction.atomic
def delivery_slot_delete(*, slot: DeliverySlot) -> None:
    """Remove a slot nobody ever booked; a slot with bookings (or runs) can only be switched off."""
    slot = DeliverySlot.objects.select_for_update().get(pk=slot.pk)
    if slot.bookings.exists() or slot.runs.exists():
        raise DeliveryError(
            _("The %(window)s slot has bookings, so it cannot be deleted; switch it off instead.")
            % {"window": slot_window(slot)},
            code=errors.SLOT_IN_USE,
        )
    slot.delete()


def _save_courier(courier: Courier) -> Courier:
    try:
        courier.full_clean()
    except ValidationError as exc:
        raise DeliveryError(_validation_message(exc), code=errors.INVALID_SETTINGS) from exc
    courier.save()
    return courier


@transaction.atomic
def courier_create(*, shop: Shop, name: str, phone: str, email: str = "", active: bool = True) -> Courier:
    """Add a courier who can carry the shop's delivery runs."""
    return _save_courier(
        Courier(shop=shop, name=name.strip(), phone=phone.strip(), email=(email or "").strip(), active=active)
    )


@transaction.atomic
def courier_update(*, courier: Courier, name: str, phone: str, email: str = "", active: bool = True) -> Courier:
    """Change a courier's details, or switch them off (runs already carried keep their courier)."""
    courier.name, courier.phone, courier.email, courier.active = (
        name.strip(),
        phone.strip(),
        (email or "").strip(),
        active,
    )
    return _save_courier(courier)

"""Inventory writes: locations, stock changes and checkout reservations. One transaction each.

Every change to a :class:`StockItem` appends a :class:`StockMovement` in the same transaction, so
an item's ``on_hand`` is always the sum of its movements' ``quantity`` and its ``reserved`` the sum
of their ``reserved_delta`` (``manage.py inventory_check`` verifies it).

Locking, so that concurrent checkouts never oversell and never deadlock:

- stock items are locked with ``SELECT … FOR NO KEY UPDATE`` in one query ordered by primary key,
  before their levels are read, and every service that locks several items does it that way;
- services that change existing reservations lock those reservation rows first (also by primary
  key) and the stock items second. The one step that goes the other way (a checkout releasing
  other checkouts' expired holds on items it already locked) skips locked rows instead of waiting.

``stock_reserve``, ``reservation_commit``, ``reservation_release`` and ``stock_sell`` (an order sold
at once, without a hold) are the only way other apps (orders) change stock; sellers' doors use the
rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.catalog.models import Variant
from apps.shops.models import Shop

from .alerts import low_stock_evaluate
from .errors import (
    OutOfStock,
    ReservationConflict,
    ReservationExpired,
    ReservationNotFound,
    Shortage,
    StockError,
)
from .models import Reservation, StockItem, StockLocation, StockMovement

if TYPE_CHECKING:
    from apps.accounts.models import User

Kind = StockMovement.Kind

# No single change moves more units than this (a guard against typos like 1000000 for 100).
MAX_UNITS_PER_CHANGE = 1_000_000
DEFAULT_LOCATION_NAME = "Main store"
REASON_MAX_LENGTH = StockMovement._meta.get_field("reason").max_length
REFERENCE_MAX_LENGTH = Reservation._meta.get_field("reference").max_length
# Fields that would cost a query each to validate in Python; the database checks them anyway.
_FOREIGN_KEYS = ("shop", "item", "variant", "actor", "reservation", "location")


@dataclass(frozen=True)
class LineRequest:
    """One basket line to reserve: ``quantity`` units of the variant ``variant_id``."""

    variant_id: int
    quantity: int


# --- input checks ------------------------------------------------------------------------------


def _units(value: object, *, what: str = "quantity") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StockError(
            f"The {what} must be a whole number of units, at least 1 (got {value!r}).", code="invalid-quantity"
        )
    if value > MAX_UNITS_PER_CHANGE:
        raise StockError(
            f"The {what} {value:,} is more than {MAX_UNITS_PER_CHANGE:,} units in one change: check the number, "
            "or split it into several changes.",
            code="invalid-quantity",
        )
    return value


def _text(value: str | None, *, what: str, max_length: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise StockError(f"Give a {what} (for example “stock count” or “damaged in transit”).", code="reason-required")
    if len(text) > max_length:
        raise StockError(f"The {what} is too long: keep it under {max_length} characters.")
    return text


def _reference(value: str | None) -> str:
    reference = (value or "").strip()
    if not reference:
        raise StockError("A reservation needs a checkout reference.", code="reference-required")
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise StockError(f"The checkout reference is too long: keep it under {REFERENCE_MAX_LENGTH} characters.")
    return reference


def _ttl(ttl: timedelta | None) -> timedelta:
    if ttl is None:
        return timedelta(seconds=settings.INVENTORY_RESERVATION_TTL_SECONDS)
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
        raise StockError("A reservation must last a positive amount of time.")
    return ttl


def _merged_lines(lines: Iterable[LineRequest]) -> dict[int, int]:
    """Quantities by variant in the order first seen; a variant on two lines is reserved once."""
    wanted: dict[int, int] = {}
    for line in lines:
        if isinstance(line.variant_id, bool) or not isinstance(line.variant_id, int):
            raise StockError(f"Unknown item {line.variant_id!r}.")
        wanted[line.variant_id] = wanted.get(line.variant_id, 0) + _units(line.quantity)
    if not wanted:
        raise StockError("There is nothing to reserve: the basket is empty.")
    for variant_id, quantity in wanted.items():
        _units(quantity, what=f"quantity of item {variant_id}")
    return wanted


def _check_same_shop(*, variant: Variant, location: StockLocation) -> None:
    if location.shop_id != variant.shop_id:
        raise StockError(f"{location} is a location of another shop: choose one of your own locations.")


# --- locking and recording ---------------------------------------------------------------------


def _locked(items: QuerySet[StockItem]) -> list[StockItem]:
    """Lock the items (only their rows, not their locations) in primary-key order and read them."""
    return list(items.select_for_update(no_key=True, of=("self",)).select_related("location").order_by("pk"))


def _item_ensure(*, variant: Variant, location: StockLocation) -> None:
    """Make the (empty) stock item of ``variant`` at ``location`` if there is none yet."""
    if StockItem.objects.filter(variant=variant, location=location).exists():
        return
    item = StockItem(shop_id=variant.shop_id, variant=variant, location=location)
    item.full_clean(exclude=_FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        pass  # a concurrent request made it; it is read (and locked) next


def _item_locked(*, variant: Variant, location: StockLocation, create: bool) -> StockItem | None:
    if create:
        _item_ensure(variant=variant, location=location)
    items = _locked(StockItem.objects.filter(variant=variant, location=location))
    return items[0] if items else None


def _change(
    item: StockItem,
    *,
    kind: str,
    quantity: int = 0,
    reserved_delta: int = 0,
    actor: User | None = None,
    reason: str = "",
    reference: str = "",
    reservation: Reservation | None = None,
) -> StockMovement:
    """Apply a change to the (locked) item in memory and return its movement, unsaved."""
    item.on_hand += quantity
    item.reserved += reserved_delta
    return StockMovement(
        shop_id=item.shop_id,
        item=item,
        kind=kind,
        quantity=quantity,
        reserved_delta=reserved_delta,
        on_hand_after=item.on_hand,
        reserved_after=item.reserved,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason,
        reference=reference,
        reservation=reservation,
    )


def _record(movements: list[StockMovement]) -> None:
    """Write the movements and their items' new levels (the items are locked by this transaction),
    and raise a low-stock alert for each item that just fell below its threshold."""
    for movement in movements:
        movement.full_clean(exclude=_FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
    StockMovement.objects.bulk_create(movements)
    now = timezone.now()
    changed = list({movement.item.pk: movement.item for movement in movements}.values())
    for item in changed:
        item.updated_at = now
    low_stock_evaluate(changed, now=now)
    _levels_write(changed, now=now)


def _levels_write(items: list[StockItem], *, now: datetime) -> None:
    """Save the items' levels in one statement. On PostgreSQL an ``UPDATE … FROM (VALUES …)``: for
    the one to few rows of a checkout it costs a fraction of ``bulk_update``'s CASE per field and
    row in Python, which shortens how long hot rows stay locked (bench/inventory.py)."""
    if connection.vendor != "postgresql":
        StockItem.objects.bulk_update(items, ["on_hand", "reserved", "low_stock_alerted_at", "updated_at"])
        return
    table = connection.ops.quote_name(StockItem._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::integer, %s::integer, %s::timestamptz)"] * len(items))
    params: list = []
    for item in items:
        params += [item.pk, item.on_hand, item.reserved, item.low_stock_alerted_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS i SET on_hand = v.on_hand, reserved = v.reserved, "  # noqa: S608  (no user input)
            f"low_stock_alerted_at = v.alerted, updated_at = %s FROM (VALUES {rows}) AS v(id, on_hand, reserved, alerted) "
            "WHERE i.id = v.id",
            [now, *params],
        )


def _not_enough(item: StockItem, *, wanted: int, doing: str) -> StockError:
    available = item.on_hand - item.reserved
    held = f" ({item.reserved} more are held for checkouts in progress)" if item.reserved else ""
    return StockError(
        f"Cannot {doing} {wanted} of {item.variant} at {item.location}: only {max(available, 0)} "
        f"available{held}. Lower the quantity.",
        code="not-enough-stock",
    )


# --- locations ---------------------------------------------------------------------------------


@transaction.atomic
def stock_location_create(
    *, shop: Shop, name: str, kind: str = StockLocation.Kind.STORE, is_default: bool = False
) -> StockLocation:
    """Add a location to the shop. The shop's first location becomes its default."""
    name = _text(name, what="location name", max_length=80)
    if not name:
        raise StockError("Give the location a name, for example “Main store” or “Jurong warehouse”.")
    if StockLocation.objects.filter(shop=shop, name__iexact=name).exists():
        raise StockError(f"Your shop already has a location called “{name}”: choose another name.")
    first = not StockLocation.objects.filter(shop=shop).exists()
    if is_default and not first:
        StockLocation.objects.filter(shop=shop, is_default=True).update(is_default=False, updated_at=timezone.now())
    location = StockLocation(shop=shop, name=name, kind=kind, is_default=is_default or first)
    location.full_clean(exclude=_FOREIGN_KEYS, validate_constraints=False)
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError as exc:
        raise StockError("Another change to your locations happened at the same time: try again.") from exc
    return location


@transaction.atomic
def stock_location_update(
    *, location: StockLocation, name: str | None = None, kind: str | None = None
) -> StockLocation:
    """Rename a location or change its kind."""
    if name is not None:
        name = _text(name, what="location name", max_length=80)
        if not name:
            raise StockError("Give the location a name.")
        clash = StockLocation.objects.filter(shop_id=location.shop_id, name__iexact=name).exclude(pk=location.pk)
        if clash.exists():
            raise StockError(f"Your shop already has a location called “{name}”: choose another name.")
        location.name = name
    if kind is not None:
        location.kind = kind
    location.full_clean(exclude=_FOREIGN_KEYS, validate_constraints=False)
    location.save(update_fields=["name", "kind", "updated_at"])
    return location


@transaction.atomic
def stock_location_make_default(*, location: StockLocation) -> StockLocation:
    """Make ``location`` the one its shop receives into and sells from first."""
    list(StockLocation.objects.select_for_update(no_key=True).filter(shop_id=location.shop_id).order_by("pk"))
    now = timezone.now()
    StockLocation.objects.filter(shop_id=location.shop_id, is_default=True).exclude(pk=location.pk).update(
        is_default=False, updated_at=now
    )
    StockLocation.objects.filter(pk=location.pk).update(is_default=True, updated_at=now)
    location.is_default = True
    return location


@transaction.atomic
def stock_location_default(*, shop: Shop) -> StockLocation:
    """The shop's default location, made (“Main store”) the first time a shop needs one."""
    location = StockLocation.objects.filter(shop=shop, is_default=True).first()
    if location is not None:
        return location
    try:
        with transaction.atomic():
            location, _created = StockLocation.objects.get_or_create(
                shop=shop, name=DEFAULT_LOCATION_NAME, defaults={"kind": StockLocation.Kind.STORE, "is_default": True}
            )
    except IntegrityError:
        location = None  # another request made the default at the same moment
    if location is None:
        return StockLocation.objects.get(shop=shop, is_default=True)
    if not location.is_default:
        return stock_location_make_default(location=location)
    return location


def _location_for(*, variant: Variant, location: StockLocation | None) -> StockLocation:
    if location is None:
        return stock_location_default(shop=variant.shop)
    _check_same_shop(variant=variant, location=location)
    return location


# --- stock changes made by the shop ------------------------------------------------------------


def _stock_increase(
    *,
    kind: str,
    variant: Variant,
    quantity: int,
    location: StockLocation | None,
    actor: User | None,
    reason: str,
    reference: str,
) -> StockMovement:
    quantity = _units(quantity)
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH)
    reference = _text(reference, what="reference", max_length=REFERENCE_MAX_LENGTH)
    location = _location_for(variant=variant, location=location)
    item = _item_locked(variant=variant, location=location, create=True)
    movement = _change(item, kind=kind, quantity=quantity, actor=actor, reason=reason, reference=reference)
    _record([movement])
    return movement


@transaction.atomic
def stock_receive(
    *,
    variant: Variant,
    quantity: int,
    location: StockLocation | None = None,
    actor: User | None = None,
    reason: str = "",
    reference: str = "",
) -> StockMovement:
    """Add ``quantity`` delivered units at ``location`` (default: the shop's default location)."""
    return _stock_increase(
        kind=Kind.RECEIPT,
        variant=variant,
        quantity=quantity,
        location=location,
        actor=actor,
        reason=reason,
        reference=reference,
    )


@transaction.atomic
def stock_return(
    *,
    variant: Variant,
    quantity: int,
    location: StockLocation | None = None,
    actor: User | None = None,
    reason: str = "",
    reference: str = "",
) -> StockMovement:
    """Put ``quantity`` returned units back on the shelf (``reference``: the order they came from)."""
    return _stock_increase(
        kind=Kind.RETURN,
        variant=variant,
        quantity=quantity,
        location=location,
        actor=actor,
        reason=reason,
        reference=reference,
    )


@transaction.atomic
def stock_adjust(
    *,
    variant: Variant,
    reason: str,
    counted: int | None = None,
    delta: int | None = None,
    location: StockLocation | None = None,
    actor: User | None = None,
    reference: str = "",
) -> StockMovement | None:
    """Correct the on-hand quantity, either to what was ``counted`` or by ``delta`` units (+/−).

    A reason is required. Returns the adjustment, or None when the count matches the books. On hand
    never goes below what is reserved for checkouts in progress.
    """
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH, required=True)
    reference = _text(reference, what="reference", max_length=REFERENCE_MAX_LENGTH)
    if (counted is None) == (delta is None):
        raise StockError("Give either the counted quantity or the change in units, not both.")
    if counted is not None:
        if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
            raise StockError(f"The counted quantity must be a whole number, 0 or more (got {counted!r}).")
        if counted > MAX_UNITS_PER_CHANGE:
            _units(counted, what="counted quantity")
    else:
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise StockError(f"The change must be a whole number of units other than 0 (got {delta!r}).")
        _units(abs(delta), what="change")
    location = _location_for(variant=variant, location=location)
    item = _item_locked(variant=variant, location=location, create=bool(counted) or (delta or 0) > 0)
    if item is None:
        if counted == 0:
            return None
        raise StockError(f"There is no stock of {variant} at {location} to take away.", code="not-enough-stock")
    change = counted - item.on_hand if counted is not None else delta
    if change == 0:
        return None
    if item.on_hand + change < item.reserved:
        if item.reserved:
            message = (
                f"On hand of {item.variant} at {item.location} cannot go below {item.reserved}: that many units "
                "are held for checkouts in progress. Wait for them to finish, then count again."
            )
        else:
            message = f"Cannot take away {-change} of {item.variant} at {item.location}: only {item.on_hand} on hand."
        raise StockError(message, code="not-enough-stock")
    movement = _change(item, kind=Kind.ADJUSTMENT, quantity=change, actor=actor, reason=reason, reference=reference)
    _record([movement])
    return movement


@transaction.atomic
def stock_shrinkage(
    *,
    variant: Variant,
    quantity: int,
    reason: str,
    location: StockLocation | None = None,
    actor: User | None = None,
    reference: str = "",
) -> StockMovement:
    """Write off ``quantity`` lost, stolen or damaged units (a reason is required). Units held for
    checkouts cannot be written off: release those checkouts first."""
    quantity = _units(quantity)
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH, required=True)
    reference = _text(reference, what="reference", max_length=REFERENCE_MAX_LENGTH)
    location = _location_for(variant=variant, location=location)
    item = _item_locked(variant=variant, location=location, create=False)
    if item is None:
        raise StockError(f"There is no stock of {variant} at {location} to write off.", code="not-enough-stock")
    if item.on_hand - item.reserved < quantity:
        raise _not_enough(item, wanted=quantity, doing="write off")
    movement = _change(item, kind=Kind.SHRINKAGE, quantity=-quantity, actor=actor, reason=reason, reference=reference)
    _record([movement])
    return movement


@transaction.atomic
def stock_transfer(
    *,
    variant: Variant,
    source: StockLocation,
    destination: StockLocation,
    quantity: int,
    actor: User | None = None,
    reason: str = "",
    reference: str = "",
) -> tuple[StockMovement, StockMovement]:
    """Move ``quantity`` available units between two locations of the same shop: both sides or
    neither. Returns the (transfer out, transfer in) movements."""
    quantity = _units(quantity)
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH)
    reference = _text(reference, what="reference", max_length=REFERENCE_MAX_LENGTH)
    _check_same_shop(variant=variant, location=source)
    _check_same_shop(variant=variant, location=destination)
    if source.pk == destination.pk:
        raise StockError("Choose two different locations to move stock between.")
    _item_ensure(variant=variant, location=destination)
    items = _locked(StockItem.objects.filter(variant=variant, location__in=[source, destination]))
    from_item = next((i for i in items if i.location_id == source.pk), None)
    to_item = next(i for i in items if i.location_id == destination.pk)
    if from_item is None:
        raise StockError(f"There is no stock of {variant} at {source} to move.", code="not-enough-stock")
    if from_item.on_hand - from_item.reserved < quantity:
        raise _not_enough(from_item, wanted=quantity, doing="move")
    reason = reason or f"{source} → {destination}"
    out = _change(
        from_item, kind=Kind.TRANSFER_OUT, quantity=-quantity, actor=actor, reason=reason, reference=reference
    )
    into = _change(to_item, kind=Kind.TRANSFER_IN, quantity=quantity, actor=actor, reason=reason, reference=reference)
    _record([out, into])
    return out, into


@transaction.atomic
def stock_item_threshold_set(*, item: StockItem, low_stock_threshold: int) -> StockItem:
    """Set below how many available units the item counts as low on stock (0: never)."""
    if isinstance(low_stock_threshold, bool) or not isinstance(low_stock_threshold, int) or low_stock_threshold < 0:
        raise StockError(f"The low-stock threshold must be a whole number, 0 or more (got {low_stock_threshold!r}).")
    if low_stock_threshold > MAX_UNITS_PER_CHANGE:
        raise StockError(f"The low-stock threshold cannot be more than {MAX_UNITS_PER_CHANGE:,} units.")
    locked = _locked(StockItem.objects.filter(pk=item.pk).select_related("variant__product", "location", "shop"))[0]
    locked.low_stock_threshold = low_stock_threshold
    locked.updated_at = timezone.now()
    low_stock_evaluate([locked], now=locked.updated_at)  # a threshold raised above the stock alerts now
    locked.save(update_fields=["low_stock_threshold", "low_stock_alerted_at", "updated_at"])
    return locked


# --- reservations (the orders app's door) ------------------------------------------------------


def _allocate(
    items: list[StockItem], wanted: dict[int, int]
) -> tuple[list[tuple[int, StockItem, int]], list[tuple[int, int, int]]]:
    """Split each wanted quantity over the variant's items, default location first, then by id.

    Returns the plan ``(variant_id, item, units)`` and the shortages ``(variant_id, wanted, left)``.
    """
    plan: list[tuple[int, StockItem, int]] = []
    shortages: list[tuple[int, int, int]] = []
    for variant_id, quantity in wanted.items():
        candidates = sorted(
            (i for i in items if i.variant_id == variant_id), key=lambda i: (not i.location.is_default, i.pk)
        )
        left = sum(max(i.on_hand - i.reserved, 0) for i in candidates)
        if left < quantity:
            shortages.append((variant_id, quantity, left))
            continue
        remaining = quantity
        for item in candidates:
            take = min(item.on_hand - item.reserved, remaining)
            if take > 0:
                plan.append((variant_id, item, take))
                remaining -= take
            if remaining == 0:
                break
    return plan, shortages


def _close(reservations: list[Reservation], *, status: str, reason: str, now: datetime) -> None:
    for reservation in reservations:
        reservation.status = status
        reservation.closed_at = now
        reservation.close_reason = reason[:REASON_MAX_LENGTH]
        reservation.updated_at = now
    # Every row gets the same values: one plain UPDATE (bulk_update's CASE per row costs more).
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        status=status, closed_at=now, close_reason=reason[:REASON_MAX_LENGTH], updated_at=now
    )


def _release_expired_holds(
    items: list[StockItem], *, now: datetime, exclude: list[Reservation], movements: list[StockMovement]
) -> bool:
    """Release other checkouts' expired (not yet swept) holds on ``items``, which this transaction
    has locked. Holds another transaction is ending right now are skipped, not waited for: this
    step locks reservations after stock items, the reverse of the usual order."""
    stale = list(
        Reservation.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(item__in=[i.pk for i in items], status=Reservation.Status.ACTIVE, expires_at__lte=now)
        .exclude(pk__in=[r.pk for r in exclude])
        .order_by("pk")
    )
    by_pk = {i.pk: i for i in items}
    for reservation in stale:
        movements.append(
            _change(
                by_pk[reservation.item_id],
                kind=Kind.RELEASE,
                reserved_delta=-reservation.quantity,
                reason="reservation expired",
                reference=reservation.reference,
                reservation=reservation,
            )
        )
    if stale:
        _close(stale, status=Reservation.Status.EXPIRED, reason="expired", now=now)
    return bool(stale)


def _shortages_named(*, shop: Shop, shortages: list[tuple[int, int, int]]) -> list[Shortage]:
    variants = Variant.objects.select_related("product").filter(shop=shop).in_bulk([v for v, _w, _l in shortages])
    unknown = [str(v) for v, _w, _l in shortages if v not in variants]
    if unknown:
        raise StockError(
            f"{shop} does not sell item {', '.join(unknown)}: remove it from the basket.", code="unknown-item"
        )
    return [Shortage(variant_id=v, name=str(variants[v]), requested=w, available=left) for v, w, left in shortages]


@transaction.atomic
def stock_reserve(
    *, shop: Shop, reference: str, lines: list[LineRequest], ttl: timedelta | None = None
) -> list[Reservation]:
    """Hold stock of ``shop`` for the checkout ``reference`` until ``ttl`` from now (default
    ``INVENTORY_RESERVATION_TTL_SECONDS``); all lines or none.

    Each line is served from the shop's default location first, then its other locations. When any
    line cannot be served, raises :class:`OutOfStock` naming every short variant and what is left,
    and nothing is reserved. Calling it again for the same shop and reference replaces the
    checkout's active reservations (a changed basket, or a retry) in the same transaction; a
    checkout already committed raises :class:`ReservationConflict`.
    """
    reference = _reference(reference)
    wanted = _merged_lines(lines)
    ttl = _ttl(ttl)
    now = timezone.now()
    held = list(
        Reservation.objects.select_for_update(no_key=True)
        .filter(shop=shop, reference=reference, status__in=[Reservation.Status.ACTIVE, Reservation.Status.COMMITTED])
        .order_by("pk")
    )
    if any(r.status == Reservation.Status.COMMITTED for r in held):
        raise ReservationConflict(
            f"The checkout {reference} is already completed: start a new checkout to buy more.",
        )
    items = _locked(StockItem.objects.filter(Q(shop=shop, variant_id__in=wanted) | Q(pk__in={r.item_id for r in held})))
    by_pk = {i.pk: i for i in items}
    movements: list[StockMovement] = []
    for reservation in held:  # the basket changed (or the call is retried): give the old hold back first
        movements.append(
            _change(
                by_pk[reservation.item_id],
                kind=Kind.RELEASE,
                reserved_delta=-reservation.quantity,
                reason="replaced by a new reservation",
                reference=reference,
                reservation=reservation,
            )
        )
    plan, shortages = _allocate(items, wanted)
    if shortages and _release_expired_holds(items, now=now, exclude=held, movements=movements):
        plan, shortages = _allocate(items, wanted)
    if shortages:
        raise OutOfStock(_shortages_named(shop=shop, shortages=shortages))
    if held:
        _close(held, status=Reservation.Status.RELEASED, reason="replaced by a new reservation", now=now)
    reservations = [
        Reservation(
            shop=shop, reference=reference, variant_id=variant_id, item=item, quantity=units, expires_at=now + ttl
        )
        for variant_id, item, units in plan
    ]
    for reservation in reservations:
        reservation.full_clean(exclude=_FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
    Reservation.objects.bulk_create(reservations)
    for reservation in reservations:
        movements.append(
            _change(
                reservation.item,
                kind=Kind.RESERVATION,
                reserved_delta=reservation.quantity,
                reason="checkout",
                reference=reference,
                reservation=reservation,
            )
        )
    _record(movements)
    return reservations


@transaction.atomic
def stock_sell(
    *, shop: Shop, reference: str, lines: list[LineRequest], actor: User | None = None
) -> list[StockMovement]:
    """Sell the lines at once, without holding them first (an order paid or confirmed when placed,
    such as pay on pickup): the same locking, allocation and :class:`OutOfStock` as
    ``stock_reserve``, one "sale" movement per item; all lines or none."""
    reference = _reference(reference)
    wanted = _merged_lines(lines)
    items = _locked(StockItem.objects.filter(shop=shop, variant_id__in=wanted))
    movements: list[StockMovement] = []
    plan, shortages = _allocate(items, wanted)
    if shortages and _release_expired_holds(items, now=timezone.now(), exclude=[], movements=movements):
        plan, shortages = _allocate(items, wanted)
    if shortages:
        raise OutOfStock(_shortages_named(shop=shop, shortages=shortages))
    for _variant_id, item, units in plan:
        movements.append(
            _change(item, kind=Kind.SALE, quantity=-units, actor=actor, reason="order confirmed", reference=reference)
        )
    _record(movements)
    return [m for m in movements if m.kind == Kind.SALE]


def _expired(reference: str) -> ReservationExpired:
    return ReservationExpired(
        f"The hold on the items of checkout {reference} ran out before the order was confirmed, and they went "
        "back on sale: check the basket and check out again."
    )


def _active_locked(reference: str) -> list[Reservation]:
    return list(
        Reservation.objects.select_for_update(no_key=True)
        .filter(reference=reference, status=Reservation.Status.ACTIVE)
        .order_by("pk")
    )


@transaction.atomic
def reservation_commit(*, reference: str) -> list[Reservation]:
    """Turn the checkout's reservations into sales: on hand and reserved both drop, with a "sale"
    movement carrying the reference. Safe to retry: a committed checkout returns its reservations
    again without selling twice.

    Raises :class:`ReservationExpired` when the hold ran out before the order was confirmed (its
    expiry has passed, whether or not the sweep has released it yet: a checkout that needs longer
    calls ``stock_reserve`` again to renew it), and :class:`ReservationNotFound` when there never
    was one. Nothing is sold then.
    """
    reference = _reference(reference)
    active = _active_locked(reference)
    if not active:
        done = list(Reservation.objects.filter(reference=reference).order_by("pk"))
        committed = [r for r in done if r.status == Reservation.Status.COMMITTED]
        if committed:
            return committed
        if done:
            raise _expired(reference)
        raise ReservationNotFound(f"No stock is reserved for checkout {reference}: check out again.")
    now = timezone.now()
    if any(r.expires_at <= now for r in active):
        raise _expired(reference)
    items = {i.pk: i for i in _locked(StockItem.objects.filter(pk__in={r.item_id for r in active}))}
    movements = [
        _change(
            items[r.item_id],
            kind=Kind.SALE,
            quantity=-r.quantity,
            reserved_delta=-r.quantity,
            reason="order confirmed",
            reference=reference,
            reservation=r,
        )
        for r in active
    ]
    _close(active, status=Reservation.Status.COMMITTED, reason="sold", now=now)
    _record(movements)
    return list(Reservation.objects.filter(reference=reference, status=Reservation.Status.COMMITTED).order_by("pk"))


def _release(active: list[Reservation], *, status: str, reason: str, now: datetime) -> None:
    items = {i.pk: i for i in _locked(StockItem.objects.filter(pk__in={r.item_id for r in active}))}
    movements = [
        _change(
            items[r.item_id],
            kind=Kind.RELEASE,
            reserved_delta=-r.quantity,
            reason=reason,
            reference=r.reference,
            reservation=r,
        )
        for r in active
    ]
    _close(active, status=status, reason=reason, now=now)
    _record(movements)


@transaction.atomic
def reservation_release(*, reference: str, reason: str) -> list[Reservation]:
    """Give the checkout's held units back to sale (checkout cancelled or abandoned). Safe to
    retry: returns the reservations released by this call, none when nothing was active. Sold
    units are not touched (a cancelled paid order comes back with ``stock_return``)."""
    reference = _reference(reference)
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH, required=True)
    active = _active_locked(reference)
    if active:
        _release(active, status=Reservation.Status.RELEASED, reason=reason, now=timezone.now())
    return active


@transaction.atomic
def _reservations_expire_batch(*, now: datetime, batch_size: int) -> int:
    due = list(
        Reservation.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(status=Reservation.Status.ACTIVE, expires_at__lte=now)
        .order_by("pk")[:batch_size]
    )
    if due:
        _release(due, status=Reservation.Status.EXPIRED, reason="reservation expired", now=now)
    return len(due)


def reservations_expire(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Release every active reservation whose expiry has passed; returns how many.

    One transaction per batch of ``batch_size``, so a large backlog never holds many locks for
    long; holds being committed or released at the same moment are skipped (they are ending anyway).
    """
    now = now or timezone.now()
    total = 0
    while True:
        count = _reservations_expire_batch(now=now, batch_size=batch_size)
        total += count
        if count < batch_size:
            return total

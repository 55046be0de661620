"""The ``delivery`` benchmark's Django side (not a benchmark itself: its name starts with ``_``).

``bench/delivery.py`` runs this file as a script with the site's environment (production settings,
the benchmark's own database, made afresh for every run):

``prepare``
    Two sets of shops around Singapore (open, SGD, ``Asia/Singapore``), written with ``bulk_create``:

    - **runs**: ``BENCH_DELIVERY_SHOPS`` (2,000) shops, each with a delivery zone (5 km), two couriers
      and one slot on the weekday of the *run date* (the shop's local date today), and
      ``BENCH_DELIVERY_STOPS`` (40) confirmed bookings of that slot and date at random points of the
      zone (uniform over its disc), each with an address snapshot, parcel weight and items;
    - **booking**: ``BENCH_DELIVERY_BOOK_SHOPS`` (200) shops with a zone and one slot on tomorrow's
      weekday (tomorrow's cut-off is always ahead, whatever the time of the run):
      ``BENCH_DELIVERY_HOT_SLOTS`` (8) *hot* slots of ``BENCH_DELIVERY_HOT_CAPACITY`` (10) orders that
      fill up within seconds, the rest taking ``BENCH_DELIVERY_COLD_CAPACITY`` (500, the most a seller may set), more than the
      clients can book.

    Prints ``DATASET {json}``.
``runs``
    Times ``delivery_run_build(slot=, date=)`` (``apps/delivery/services_runs.py``) for every run
    slot, one after the other in this process, then ``delivery_runs_build_due(now=)`` at a moment
    past the cut-off (every run exists: the idempotent sweep the beat task makes each minute). Reads
    back every run with its stops and measures its route from the shop through the stops in their
    order (great-circle km, open path: the courier's way out) against the same stops in a random
    order from the same start, and against a plain nearest-neighbour order computed here. Prints
    ``RUNS {json}``.
``book CLIENTS WARMUP DURATION``
    ``CLIENTS`` processes (forked after ``django.setup()``, one PostgreSQL connection each) call
    ``slot_book`` (``apps/delivery/services.py``) for ``WARMUP + DURATION`` seconds, each booking
    followed by ``slot_booking_confirm`` (the order was paid); a share ``BENCH_DELIVERY_HOT_SHARE``
    (0.25) of the attempts go to the hot slots, the rest to a random cold one. Afterwards the
    database is checked: no (slot, date) holds more held + confirmed bookings than the slot's
    capacity, and it holds exactly the bookings the clients were told they got. Prints
    ``BOOK {json}``.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import traceback
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SEED = 20261207
TIME_ZONE = "Asia/Singapore"
ZONE_RADIUS_KM = Decimal("5.00")
EARTH_KM_PER_DEG_LAT = 111.32
# The run slot: booked until 09:00, delivered 10:00-12:00 (the shop's local time).
RUN_CUTOFF, RUN_STARTS, RUN_ENDS = dtime(9, 0), dtime(10, 0), dtime(12, 0)
# The booking slots (tomorrow): until 13:00, 14:00-16:00.
BOOK_CUTOFF, BOOK_STARTS, BOOK_ENDS = dtime(13, 0), dtime(14, 0), dtime(16, 0)
HOLD = timedelta(minutes=15)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _local_today() -> date:
    return datetime.now(ZoneInfo(TIME_ZONE)).date()


def _run_date() -> date:
    return _local_today()


def _book_date() -> date:
    return _local_today() + timedelta(days=1)


def _point_in_zone(rng: random.Random, lat: float, lon: float, radius_km: float) -> tuple[Decimal, Decimal]:
    """A point uniformly distributed over the disc of RADIUS_KM around (LAT, LON)."""
    r = radius_km * math.sqrt(rng.random())
    theta = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(theta) / EARTH_KM_PER_DEG_LAT
    dlon = r * math.sin(theta) / (EARTH_KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    q = Decimal("0.000001")
    return Decimal(lat + dlat).quantize(q), Decimal(lon + dlon).quantize(q)


def _address(n: int, lat: Decimal, lon: Decimal) -> dict:
    return {
        "recipient": f"Buyer {n}",
        "email": f"buyer{n}@delivery-bench.test",
        "phone": f"+65 8{n % 10_000_000:07d}",
        "lines": [f"{n % 900 + 1} Bench Avenue", f"#0{n % 9 + 1}-{n % 97 + 1:02d}"],
        "postcode": f"{(n % 800) + 100000:06d}",
        "city": "Singapore",
        "country": "SG",
        "lat": str(lat),
        "lon": str(lon),
    }


def _shops(rng: random.Random, prefix: str, count: int):
    from apps.shops.models import Shop

    return Shop.objects.bulk_create(
        Shop(
            name=f"Delivery Bench {prefix} {n}",
            slug=f"delivery-bench-{prefix}-{n}",
            email=f"{prefix}{n}@delivery-bench.test",
            phone="+65 6000 0000",
            address_line1=f"{n} Bench Road",
            postcode=f"{100000 + n % 800:06d}",
            latitude=Decimal(rng.uniform(1.29, 1.42)).quantize(Decimal("0.000001")),
            longitude=Decimal(rng.uniform(103.70, 103.95)).quantize(Decimal("0.000001")),
            currency="SGD",
            time_zone=TIME_ZONE,
            delivery_radius_km=ZONE_RADIUS_KM,
            offers_pickup=True,
            status=Shop.Status.ACTIVE,
        )
        for n in range(1, count + 1)
    )


def prepare() -> dict:
    from django.db import connection, transaction

    from apps.delivery.models import Courier, DeliverySlot, DeliveryZone, SlotBooking

    rng = random.Random(SEED)
    started = time.monotonic()
    run_shops_n = _env_int("BENCH_DELIVERY_SHOPS", 2000)
    stops = _env_int("BENCH_DELIVERY_STOPS", 40)
    book_shops_n = _env_int("BENCH_DELIVERY_BOOK_SHOPS", 200)
    hot = _env_int("BENCH_DELIVERY_HOT_SLOTS", 8)
    hot_capacity = _env_int("BENCH_DELIVERY_HOT_CAPACITY", 10)
    cold_capacity = _env_int("BENCH_DELIVERY_COLD_CAPACITY", 500)
    if not 0 < hot < book_shops_n:
        raise SystemExit("BENCH_DELIVERY_HOT_SLOTS must be between 1 and BENCH_DELIVERY_BOOK_SHOPS - 1")
    run_date, book_date = _run_date(), _book_date()
    with transaction.atomic():
        run_shops = _shops(rng, "run", run_shops_n)
        book_shops = _shops(rng, "book", book_shops_n)
        DeliveryZone.objects.bulk_create(
            DeliveryZone(
                shop=shop, active=True, radius_km=ZONE_RADIUS_KM, fee=Decimal("5.00"), free_above=Decimal("80")
            )
            for shop in [*run_shops, *book_shops]
        )
        Courier.objects.bulk_create(
            Courier(
                shop=shop,
                name=f"Courier {k} of {shop.slug}",
                phone=f"+65 9{shop.pk:04d}{k:03d}",
                email=f"courier{k}.{shop.pk}@delivery-bench.test",
            )
            for shop in run_shops
            for k in (1, 2)
        )
        run_slots = DeliverySlot.objects.bulk_create(
            DeliverySlot(
                shop=shop,
                weekday=run_date.weekday(),
                starts=RUN_STARTS,
                ends=RUN_ENDS,
                cutoff=RUN_CUTOFF,
                capacity=max(stops, 1),
                active=True,
            )
            for shop in run_shops
        )
        DeliverySlot.objects.bulk_create(
            DeliverySlot(
                shop=shop,
                weekday=book_date.weekday(),
                starts=BOOK_STARTS,
                ends=BOOK_ENDS,
                cutoff=BOOK_CUTOFF,
                capacity=hot_capacity if i < hot else cold_capacity,
                active=True,
            )
            for i, shop in enumerate(book_shops)
        )
        bookings = []
        n = 0
        for slot in run_slots:
            shop = slot.shop
            for _k in range(stops):
                n += 1
                lat, lon = _point_in_zone(rng, float(shop.latitude), float(shop.longitude), float(ZONE_RADIUS_KM))
                bookings.append(
                    SlotBooking(
                        slot=slot,
                        shop=shop,
                        date=run_date,
                        reference=f"DB-{n:07d}",
                        status=SlotBooking.Status.CONFIRMED,
                        fee=Decimal("5.00"),
                        currency="SGD",
                        address=_address(n, lat, lon),
                        latitude=lat,
                        longitude=lon,
                        weight_grams=rng.randint(200, 8000),
                        items=rng.randint(1, 6),
                    )
                )
        SlotBooking.objects.bulk_create(bookings, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    build_s = time.monotonic() - started
    _progress(
        f"{run_shops_n:,} run shops with {stops} confirmed bookings each ({len(bookings):,}) for {run_date}, "
        f"{book_shops_n} booking shops ({hot} hot slots of {hot_capacity}, the rest of {cold_capacity}) for "
        f"{book_date} ({build_s:.0f} s)"
    )
    return {
        "run_shops": run_shops_n,
        "stops_per_run": stops,
        "run_bookings": len(bookings),
        "book_shops": book_shops_n,
        "hot_slots": hot,
        "hot_capacity": hot_capacity,
        "cold_capacity": cold_capacity,
        "run_date": run_date.isoformat(),
        "book_date": book_date.isoformat(),
        "build_s": round(build_s, 1),
    }


# --- runs ------------------------------------------------------------------------------------------
def _path_km(start: tuple[float, float], points: list[tuple[float, float]]) -> float:
    from apps.core.geo import EARTH_RADIUS_KM

    total, (lat1, lon1) = 0.0, start
    for lat2, lon2 in points:
        p1, p2 = math.radians(lat1), math.radians(lat2)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
        total += 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
        lat1, lon1 = lat2, lon2
    return total


def _nearest_neighbour(start: tuple[float, float], points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The bench's own reference: always go to the closest stop not yet visited (great-circle km)."""
    left, here, out = list(points), start, []
    while left:
        best = min(left, key=lambda p: _path_km(here, [p]))
        left.remove(best)
        out.append(best)
        here = best
    return out


def runs() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.delivery.models import DeliveryRun, DeliverySlot, RunStop, SlotBooking
    from apps.delivery.routing import route_order
    from apps.delivery.services_runs import delivery_run_build, delivery_runs_build_due

    run_date = _run_date()
    # A moment just past the slots' cut-off (09:00 shop time) on the run date: the run is due.
    due_now = datetime.combine(run_date, RUN_CUTOFF, tzinfo=ZoneInfo(TIME_ZONE)) + timedelta(minutes=1)
    slots = list(
        DeliverySlot.objects.filter(shop__slug__startswith="delivery-bench-run-", weekday=run_date.weekday())
        .select_related("shop")
        .order_by("pk")
    )
    expected_stops = SlotBooking.objects.filter(slot__in=slots, date=run_date, status="confirmed").count()
    _progress(f"building {len(slots):,} runs ({expected_stops:,} stops) for {run_date}, one after the other")
    per_run_ms, queries = [], []
    started = time.monotonic()
    last_print = started
    for i, slot in enumerate(slots):
        t0 = time.monotonic()
        if i < 20:
            with CaptureQueriesContext(connection) as captured:
                run = delivery_run_build(slot=slot, date=run_date, now=due_now)
            queries.append(len(captured.captured_queries))
        else:
            run = delivery_run_build(slot=slot, date=run_date, now=due_now)
        per_run_ms.append((time.monotonic() - t0) * 1000)
        if run is None:
            raise RuntimeError(f"delivery_run_build returned None for slot {slot.pk}, which has confirmed bookings")
        if time.monotonic() - last_print > 10:
            last_print = time.monotonic()
            _progress(f"  {i + 1:,}/{len(slots):,} runs built ({last_print - started:.0f} s)")
    build_s = time.monotonic() - started
    _progress(f"built {len(slots):,} runs in {build_s:.1f} s = {len(slots) / build_s:.1f} runs/s")

    # The beat task's sweep at the same moment: every run exists, nothing new may appear.
    t0 = time.monotonic()
    due_built = delivery_runs_build_due(now=due_now)
    due_s = time.monotonic() - t0

    runs_db = DeliveryRun.objects.filter(slot__in=slots, date=run_date).select_related("shop")
    run_count = runs_db.count()
    stops_by_run: dict[int, list[tuple[int, float, float]]] = {}
    for run_id, seq, lat, lon in RunStop.objects.filter(run__in=runs_db).values_list(
        "run_id", "sequence", "booking__latitude", "booking__longitude"
    ):
        stops_by_run.setdefault(run_id, []).append((seq, float(lat), float(lon)))
    rng = random.Random(SEED + 1)
    ratios, nn_ratios, built_km, random_km, nn_km, stored_km = [], [], [], [], [], []
    route_ms = []  # route_order alone (no database), on the first 200 runs' stops
    bad_sequences, with_courier = 0, 0
    for run in runs_db:
        stops = sorted(stops_by_run.get(run.pk, []))
        sequences = [seq for seq, _lat, _lon in stops]
        if not sequences or sequences != list(range(sequences[0], sequences[0] + len(sequences))):
            bad_sequences += 1
        points = [(lat, lon) for _seq, lat, lon in stops]
        start = (float(run.shop.latitude), float(run.shop.longitude))
        built = _path_km(start, points)
        shuffled_lengths = []
        for _k in range(3):
            shuffled = points[:]
            rng.shuffle(shuffled)
            shuffled_lengths.append(_path_km(start, shuffled))
        rand = sum(shuffled_lengths) / len(shuffled_lengths)
        nn = _path_km(start, _nearest_neighbour(start, points))
        if len(route_ms) < 200:
            t0 = time.perf_counter()
            route_order(start=start, points=points)
            route_ms.append((time.perf_counter() - t0) * 1000)
        built_km.append(built)
        random_km.append(rand)
        nn_km.append(nn)
        stored_km.append(float(run.route_km))
        if rand > 0:
            ratios.append(built / rand)
            nn_ratios.append(nn / rand)
        with_courier += run.courier_id is not None
    stops_total = sum(len(v) for v in stops_by_run.values())
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    out = {
        "runs": len(slots),
        "runs_built": run_count,
        "stops_built": stops_total,
        "stops_expected": expected_stops,
        "runs_with_courier": with_courier,
        "runs_bad_sequence": bad_sequences,
        "runs_build_s": round(build_s, 2),
        "runs_per_s": round(len(slots) / build_s, 1) if build_s else 0.0,
        "stops_per_s": round(stops_total / build_s, 1) if build_s else 0.0,
        "run_build_p50_ms": round(_percentile(per_run_ms, 0.5), 1),
        "run_build_p99_ms": round(_percentile(per_run_ms, 0.99), 1),
        "run_build_queries": int(_percentile(queries, 0.5)),
        "route_order_p50_ms": round(_percentile(route_ms, 0.5), 2),
        "route_order_p99_ms": round(_percentile(route_ms, 0.99), 2),
        "runs_build_due_rerun_s": round(due_s, 2),
        "runs_build_due_rerun_built": int(due_built or 0),
        "route_length_over_random": round(mean(ratios), 4),
        "route_length_nn_over_random": round(mean(nn_ratios), 4),
        "route_length_over_nn": round(mean(built_km) / mean(nn_km), 4) if nn_km and mean(nn_km) else 0.0,
        "route_km_mean": round(mean(built_km), 2),
        "route_km_random_mean": round(mean(random_km), 2),
        "route_km_nn_mean": round(mean(nn_km), 2),
        "route_km_stored_mean": round(mean(stored_km), 2),
    }
    return out


# --- book ------------------------------------------------------------------------------------------
def _error_name(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if code:
        return str(code)
    cause = exc.__cause__ or exc
    return type(cause).__name__


def _book_client(idx, targets, hot_share, run_tag, ready, go, start_box, warmup, duration, results) -> None:
    """One checkout client: its own connection; slot_book then slot_booking_confirm until the end."""
    try:
        from django.db import connection
        from django.utils import timezone

        from apps.delivery.errors import DeliveryError
        from apps.delivery.services import slot_book, slot_booking_confirm
        from apps.shops.models import Shop

        rng = random.Random(f"book-{idx}-{run_tag}")
        shops = Shop.objects.in_bulk([t["shop_id"] for t in targets["hot"] + targets["cold"]])
        connection.ensure_connection()
        ready.put(os.getpid())
        go.wait()
        measure_from = start_box.value + warmup
        until = measure_from + duration
        book_ms, confirm_ms = [], []
        counts: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        n = 0
        while time.monotonic() < until:
            target = rng.choice(targets["hot"] if rng.random() < hot_share else targets["cold"])
            n += 1
            reference = f"BK-{run_tag}-{idx}-{n}"
            lat, lon = _point_in_zone(rng, target["lat"], target["lon"], target["radius_km"] * 0.9)
            t0 = time.monotonic()
            try:
                slot_book(
                    shop=shops[target["shop_id"]],
                    code=target["code"],
                    reference=reference,
                    address=_address(idx * 1_000_000 + n, lat, lon),
                    subtotal=Decimal(rng.randint(1500, 12000)) / 100,
                    weight_grams=rng.randint(200, 8000),
                    items=rng.randint(1, 6),
                    hold_until=timezone.now() + HOLD,
                )
            except DeliveryError as exc:
                t1 = time.monotonic()
                counts["attempts_all"] += 1
                if measure_from <= t1 < until:
                    counts["attempts"] += 1
                    refused[_error_name(exc)] += 1
                    book_ms.append((t1 - t0) * 1000)
                refused[f"all:{_error_name(exc)}"] += 1
                continue
            except Exception as exc:
                errors[_error_name(exc)] += 1
                continue
            t1 = time.monotonic()
            counts["booked_all"] += 1
            counts["attempts_all"] += 1
            if measure_from <= t1 < until:
                counts["booked"] += 1
                counts["attempts"] += 1
                counts["hot_booked" if target["hot"] else "cold_booked"] += 1
                book_ms.append((t1 - t0) * 1000)
            try:
                confirmed = slot_booking_confirm(reference=reference)
                if confirmed is None:
                    errors["confirm_found_nothing"] += 1
            except Exception as exc:
                errors[f"confirm:{_error_name(exc)}"] += 1
                continue
            t2 = time.monotonic()
            if measure_from <= t2 < until:
                confirm_ms.append((t2 - t1) * 1000)
        results.put(
            {
                "counts": dict(counts),
                "refused": dict(refused),
                "errors": dict(errors),
                "book_ms": book_ms,
                "confirm_ms": confirm_ms,
            }
        )
    except BaseException:
        results.put({"crash": traceback.format_exc()})
        raise


def book(clients: str, warmup: str, duration: str) -> dict:
    from _clients import run_clients
    from django.db.models import Count, F, Q

    from apps.delivery.models import DeliverySlot, SlotBooking

    clients_n, warmup_s, duration_s = int(clients), float(warmup), float(duration)
    hot_share = _env_float("BENCH_DELIVERY_HOT_SHARE", 0.25)
    book_date = _book_date()
    slots = list(
        DeliverySlot.objects.filter(shop__slug__startswith="delivery-bench-book-")
        .select_related("shop", "shop__delivery_zone")
        .order_by("pk")
    )
    hot_capacity = min(s.capacity for s in slots)
    targets: dict[str, list] = {"hot": [], "cold": []}
    for slot in slots:
        is_hot = slot.capacity == hot_capacity
        targets["hot" if is_hot else "cold"].append(
            {
                "shop_id": slot.shop_id,
                "code": f"delivery:{slot.pk}:{book_date.isoformat()}",
                "lat": float(slot.shop.latitude),
                "lon": float(slot.shop.longitude),
                "radius_km": float(slot.shop.delivery_zone.radius_km),
                "hot": is_hot,
            }
        )
    run_tag = f"{int(time.time())}"
    outs = run_clients(
        _book_client,
        lambda i: (i, targets, hot_share, run_tag),
        clients=clients_n,
        warmup=warmup_s,
        duration=duration_s,
        what="booking",
        announce=lambda: _progress(
            f"{clients_n} clients book {len(targets['hot'])} hot slots ({hot_share:.0%} of attempts) and "
            f"{len(targets['cold'])} cold ones for {book_date}: {warmup_s:g} s warm-up + {duration_s:g} s"
        ),
    )
    counts, refused, errors, book_ms, confirm_ms = Counter(), Counter(), Counter(), [], []
    for out in outs:
        counts.update(out["counts"])
        refused.update(out["refused"])
        errors.update(out["errors"])
        book_ms += out["book_ms"]
        confirm_ms += out["confirm_ms"]

    live = Q(bookings__status__in=["held", "confirmed"], bookings__date=book_date)
    loads = (
        DeliverySlot.objects.filter(pk__in=[s.pk for s in slots])
        .annotate(booked=Count("bookings", filter=live))
        .values_list("pk", "capacity", "booked")
    )
    full_hot = sum(1 for _pk, capacity, booked in loads if capacity == hot_capacity and booked >= capacity)
    db = SlotBooking.objects.filter(slot__in=slots, date=book_date)
    by_status = dict(db.values_list("status").annotate(n=Count("id")).order_by())
    # Every (slot, date) of the database, not only this phase's: none may hold more than its capacity.
    over_capacity = (
        SlotBooking.objects.filter(status__in=["held", "confirmed"])
        .values("slot_id", "date", "slot__capacity")
        .annotate(n=Count("id"))
        .filter(n__gt=F("slot__capacity"))
        .count()
    )
    window_refused = {k: v for k, v in refused.items() if not k.startswith("all:")}
    full_codes = [k for k in window_refused if "full" in k.lower() or "capacity" in k.lower()]
    return {
        "slot_bookings_per_s": round(counts["booked"] / duration_s, 1),
        "slot_book_calls_per_s": round(counts["attempts"] / duration_s, 1),
        "slot_book_p50_ms": round(_percentile(book_ms, 0.5), 1),
        "slot_book_p99_ms": round(_percentile(book_ms, 0.99), 1),
        "slot_confirm_p50_ms": round(_percentile(confirm_ms, 0.5), 1),
        "slot_confirm_p99_ms": round(_percentile(confirm_ms, 0.99), 1),
        "slot_bookings": counts["booked"],
        "slot_bookings_hot": counts["hot_booked"],
        "slot_bookings_cold": counts["cold_booked"],
        "refused_full": sum(window_refused[k] for k in full_codes),
        "refused_other": sum(v for k, v in window_refused.items() if k not in full_codes),
        "refused_by_code": window_refused,
        "booking_errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "hot_slots_full": full_hot,
        "capacity_exceeded": over_capacity,
        "db_bookings": by_status.get("held", 0) + by_status.get("confirmed", 0),
        "db_bookings_held": by_status.get("held", 0),
        "client_bookings": counts["booked_all"],
    }


def main() -> None:
    sys.path.insert(0, str(PROJECT_DIR))
    os.chdir(PROJECT_DIR)
    import django

    django.setup()
    command, *args = sys.argv[1:]
    if command == "prepare":
        print("DATASET " + json.dumps(prepare(*args)), flush=True)
    elif command == "runs":
        print("RUNS " + json.dumps(runs(*args)), flush=True)
    elif command == "book":
        print("BOOK " + json.dumps(book(*args)), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()

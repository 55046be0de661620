"""Same-day delivery: building 2,000 delivery runs of 40 stops (time, and route length against a
random order), and slot booking from 32 concurrent clients (throughput, and capacity never exceeded).

1. The database ``localbazaar_delivery_bench`` is made afresh (dropped if there) and migrated with the
   production settings; Redis db 11 (the site's cache and Celery broker) is emptied. No Celery worker
   runs: the emails the services queue are counted (``emails_queued``), then dropped with the db.
2. ``_delivery_dataset.py prepare``: ``BENCH_DELIVERY_SHOPS`` (2,000) shops around Singapore, each with
   a zone, two couriers, one slot today and ``BENCH_DELIVERY_STOPS`` (40) confirmed bookings at random
   points of its zone (``bulk_create``); and ``BENCH_DELIVERY_BOOK_SHOPS`` (200) shops with one slot
   tomorrow each, a few of them small (*hot*: they fill up), the others larger than the run can book.
3. ``_delivery_dataset.py runs``: ``delivery_run_build`` for every slot, one after the other →
   ``runs_build_s``, ``runs_per_s``; then each built route (shop → stops in their order, great-circle
   km) over the same stops in a random order → ``route_length_over_random`` (mean of the per-run
   ratios; lower is better), and a plain nearest-neighbour order over random →
   ``route_length_nn_over_random``.
4. ``_delivery_dataset.py book``: ``BENCH_DELIVERY_CLIENTS`` (32) processes call ``slot_book`` (then
   ``slot_booking_confirm``) for ``BENCH_WARMUP`` + ``BENCH_DURATION`` seconds → ``slot_bookings_per_s``,
   p50/p99, refusals as full; then the database: ``capacity_exceeded`` must be 0 and the bookings it
   holds must be the ones the clients were given.
"""

from __future__ import annotations

import json
import os
import time

from _common import env_float, env_int, migrated_site, queued_messages, reset_redis, run_django_script

DATABASE_URL = os.environ.get(
    "BENCH_DELIVERY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_delivery_bench"
)
REDIS_URL = os.environ.get("BENCH_DELIVERY_REDIS_URL", "redis://127.0.0.1:6379/11")
DATASET_SCRIPT = "_delivery_dataset.py"


def site_env() -> dict[str, str]:
    from web import job_site_env

    return job_site_env(database_url=DATABASE_URL, redis_url=REDIS_URL, name="delivery")


def run() -> dict[str, float]:

    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    clients = env_int("BENCH_DELIVERY_CLIENTS", 32)
    started = time.monotonic()

    env = site_env()
    migrated_site(DATABASE_URL, REDIS_URL, env)
    dataset = run_django_script(DATASET_SCRIPT, ["prepare"], env, "DATASET", "data set", timeout=1800)

    print(
        f"Runs: {dataset['run_shops']:,} slots of {dataset['stops_per_run']} confirmed bookings each, built "
        f"one after the other",
        flush=True,
    )
    queued_before = queued_messages(REDIS_URL)
    try:
        runs = run_django_script(DATASET_SCRIPT, ["runs"], env, "RUNS", "runs", timeout=3600)
        emails_queued = queued_messages(REDIS_URL) - queued_before
    finally:
        # No worker sends them: ~80,000 email messages (~2 KB each) would sit in Redis until the next run.
        reset_redis(REDIS_URL)
    print(
        f"  runs: {runs['runs_built']:,} built in {runs['runs_build_s']:.1f} s = {runs['runs_per_s']:.1f} runs/s "
        f"(p50 {runs['run_build_p50_ms']:.0f} ms, p99 {runs['run_build_p99_ms']:.0f} ms, "
        f"{runs['run_build_queries']} queries a run); route {runs['route_km_mean']:.1f} km against "
        f"{runs['route_km_random_mean']:.1f} km in a random order (ratio {runs['route_length_over_random']:.3f}; "
        f"nearest neighbour alone {runs['route_length_nn_over_random']:.3f}); {emails_queued:,} messages queued",
        flush=True,
    )

    print(f"Booking: {clients} client processes, {warmup:g} s warm-up + {duration:g} s", flush=True)
    booking = run_django_script(
        DATASET_SCRIPT, ["book", str(clients), str(warmup), str(duration)], env, "BOOK", "booking", timeout=1800
    )
    refused_by_code = booking.pop("refused_by_code")
    errors_by_kind = booking.pop("errors_by_kind")
    print(
        f"  booking: {booking['slot_bookings_per_s']:.1f} bookings/s (p50 {booking['slot_book_p50_ms']:.0f} ms, "
        f"p99 {booking['slot_book_p99_ms']:.0f} ms); refused {json.dumps(refused_by_code)}; errors "
        f"{json.dumps(errors_by_kind)}; {booking['hot_slots_full']} of {dataset['hot_slots']} hot slots full; "
        f"capacity exceeded: {booking['capacity_exceeded']}",
        flush=True,
    )

    figures: dict[str, float] = {}
    figures.update({k: v for k, v in runs.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    figures["emails_queued"] = emails_queued
    figures.update({k: v for k, v in booking.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    figures["clients"] = clients
    figures["duration_s"] = duration
    figures["run_shops"] = dataset["run_shops"]
    figures["stops_per_run"] = dataset["stops_per_run"]
    figures["hot_slots"] = dataset["hot_slots"]
    figures["hot_capacity"] = dataset["hot_capacity"]
    figures["dataset_build_s"] = dataset["build_s"]
    figures["total_run_s"] = round(time.monotonic() - started, 1)

    problems = []
    if runs["runs_built"] != runs["runs"] or runs["stops_built"] != runs["stops_expected"]:
        problems.append(
            f"{runs['runs_built']} runs with {runs['stops_built']} stops built; expected {runs['runs']} runs "
            f"with {runs['stops_expected']} stops"
        )
    if runs["runs_bad_sequence"]:
        problems.append(f"{runs['runs_bad_sequence']} runs whose stops are not numbered consecutively")
    if runs["runs_build_due_rerun_built"]:
        problems.append(f"the sweep after the build made {runs['runs_build_due_rerun_built']} more runs")
    if booking["capacity_exceeded"]:
        problems.append(f"{booking['capacity_exceeded']} (slot, date) hold more bookings than the slot's capacity")
    if booking["db_bookings"] != booking["client_bookings"]:
        problems.append(
            f"the database holds {booking['db_bookings']} bookings, the clients were given {booking['client_bookings']}"
        )
    if booking["booking_errors"]:
        problems.append(f"{booking['booking_errors']} booking calls failed with something else than a refusal")
    if problems:
        print("CORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems), flush=True)
    return figures

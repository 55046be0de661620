"""Order ingestion: a batch file of 10,000 orders over 100 shops end to end, and API order creation
from 32 concurrent clients, with two Celery workers on Redis and PostgreSQL.

1. The database ``localbazaar_orders_bench`` is made afresh (dropped if there), migrated with the
   production settings; Redis db 12 (the site's cache and broker) is emptied.
2. ``_orders_dataset.py prepare``: 100 shops with 2,000 stocked variants, an API key per shop, and the
   batch file (JSON, the documented format) of ``BENCH_ORDERS_FILE_ORDERS`` (10,000) orders.
3. Two Celery workers (``-c 1`` each: two processes for the two cores), started before anything is
   queued.
4. **Ingest**: the file is uploaded (stored, then parsed by a worker, each order submitted as an
   incoming order and run through the pipeline: validate → price check → reserve stock → payment →
   confirm → documents → email). The clock runs from the upload until every incoming order of the
   file is final (done, rejected or dead letter): ``ingest_orders_per_s`` = orders done / that time.
5. **API**: gunicorn serves the site; 32 client processes (no Django in them) ``POST /api/v1/orders``
   with their shops' API keys and an ``Idempotency-Key``, for ``BENCH_DURATION`` seconds after a
   warm-up, while the two workers process what they accept. ``api_orders_per_s`` = orders accepted
   (202) per second in the measured window; ``api_end_to_end_per_s`` = every accepted order over the
   time from the first request until the last one is confirmed.
6. ``_orders_dataset.py verify``: incoming orders all done, one order per external reference, units
   ordered = units the ledger sold, one invoice per order, ``inventory_check`` clean.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from _common import (
    LOOPBACK,
    PROJECT_DIR,
    RESULTS_DIR,
    Gunicorn,
    env_float,
    env_int,
    fresh_database,
    reset_redis,
    run_checked,
    run_django_script,
    stop_process_group,
    tail,
)

DATABASE_URL = os.environ.get(
    "BENCH_ORDERS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_orders_bench"
)
REDIS_URL = os.environ.get("BENCH_ORDERS_REDIS_URL", "redis://127.0.0.1:6379/12")
TARGET_ORDERS_PER_S = 500 * 20 / 60  # 20 x the old system's peak of 500 orders a minute
FINAL = ("done", "rejected", "dead_letter")
DATASET_SCRIPT = "_orders_dataset.py"


def site_env() -> dict[str, str]:
    from web import site_env as web_site_env

    env = web_site_env()
    env.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "MEDIA_ROOT": str(Path(tempfile.gettempdir()) / "localbazaar-orders-bench-media"),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


class CeleryWorkers:
    """N Celery worker processes (``-c 1`` each), each in its own process group."""

    def __init__(self, env: dict[str, str], count: int):
        self.env, self.count, self.procs = env, count, []

    def __enter__(self) -> CeleryWorkers:
        RESULTS_DIR.mkdir(exist_ok=True)
        for i in range(1, self.count + 1):
            log = (RESULTS_DIR / f"celery-orders-{i}.log").open("w")
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "localbazaar",
                        "worker",
                        "-c",
                        "1",
                        "-n",
                        f"bench{i}@%h",
                        "-l",
                        "WARNING",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                    ],
                    cwd=PROJECT_DIR,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        time.sleep(3)
        for i, proc in enumerate(self.procs, start=1):
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker {i} exited:\n{tail(RESULTS_DIR / f'celery-orders-{i}.log')}")
        print(f"  started {self.count} Celery workers (-c 1 each)", flush=True)
        return self

    def __exit__(self, *exc_info) -> None:
        for i, proc in enumerate(self.procs, start=1):
            stop_process_group(proc, f"celery worker {i}")


def intake_counts(where: str = "", params: tuple = ()) -> Counter:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT status, count(*) FROM orders_orderintake {where} GROUP BY status",  # noqa: S608  (fixed text)
            params,
        ).fetchall()
    return Counter(dict(rows))


def file_status(file_id: int) -> tuple[str, int]:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        return conn.execute("SELECT status, total FROM orders_orderfile WHERE id = %s", (file_id,)).fetchone()


def wait_final(where: str, params: tuple, expected: int, what: str, timeout: float) -> tuple[float, Counter]:
    """Poll until EXPECTED incoming orders matching WHERE are final; returns (when, counts)."""
    deadline = time.monotonic() + timeout
    last_print = 0.0
    while True:
        counts = intake_counts(where, params)
        final = sum(counts[s] for s in FINAL)
        now = time.monotonic()
        if final >= expected:
            return time.time(), counts
        if now - last_print > 5:
            print(f"    {what}: {final:,}/{expected:,} final {dict(counts)}", flush=True)
            last_print = now
        if now > deadline:
            raise RuntimeError(f"{what}: only {final:,} of {expected:,} final after {timeout:.0f} s: {dict(counts)}")
        time.sleep(0.25)


# --- API clients (forked processes, no Django) -------------------------------------------------------
def _api_client(idx, shops, port, ready, go, start_box, warmup, duration, results) -> None:
    import traceback

    try:
        rng = random.Random(f"api-{idx}-{time.time()}")
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        ready.put(os.getpid())
        go.wait()
        measure_from = start_box.value + warmup
        until = measure_from + duration
        counts, errors, ms = Counter(), Counter(), []
        n = 0
        while time.monotonic() < until:
            shop = shops[n % len(shops)]
            n += 1
            ref = f"API-{idx}-{n}-{uuid.uuid4().hex[:8]}"
            lines = [
                {"sku": sku, "quantity": rng.randint(1, 3), "unit_price": price}
                for sku, price in rng.sample(shop["skus"], rng.randint(1, 3))
            ]
            body = json.dumps(
                {
                    "channel": rng.choice(["pos", "kiosk", "phone"]),
                    "external_ref": ref,
                    "currency": "SGD",
                    "customer": {"name": "Walk-in", "email": f"{ref.lower()}@customers.orders-bench.test"},
                    "fulfilment": "pickup",
                    "payment": rng.choice(["paid", "pay_on_pickup"]),
                    "lines": lines,
                }
            )
            headers = {
                "Authorization": f"Api-Key {shop['key']}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
                "Host": f"{LOOPBACK}:{port}",
            }
            t0 = time.monotonic()
            try:
                conn.request("POST", "/api/v1/orders", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors[f"socket:{type(exc).__name__}"] += 1
                continue
            t1 = time.monotonic()
            if status != 202:
                errors[str(status)] += 1
                continue
            counts["accepted"] += 1
            if measure_from <= t1 < until:
                counts["window"] += 1
                ms.append((t1 - t0) * 1000)
        results.put({"counts": dict(counts), "errors": dict(errors), "ms": ms})
    except BaseException:
        results.put({"crash": traceback.format_exc()})
        raise


def api_phase(port: int, shops: list, clients: int, warmup: float, duration: float) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready, results, go, start_box = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    slices = [shops[i::clients] or shops for i in range(clients)]
    procs = [
        ctx.Process(
            target=_api_client,
            args=(i, slices[i], port, ready, go, start_box, warmup, duration, results),
            daemon=True,
        )
        for i in range(clients)
    ]
    outs = []
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=60)
        started_wall = time.time()
        start_box.value = time.monotonic() + 0.1
        go.set()
        outs = [results.get(timeout=warmup + duration + 120) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    crashes = [o["crash"] for o in outs if "crash" in o]
    if crashes:
        raise RuntimeError(f"{len(crashes)} API client(s) crashed; the first:\n{crashes[0]}")
    counts, errors, ms = Counter(), Counter(), []
    for out in outs:
        counts.update(out["counts"])
        errors.update(out["errors"])
        ms += out["ms"]
    ms.sort()

    def pct(share: float) -> float:
        return ms[min(len(ms) - 1, int(share * len(ms)))] if ms else 0.0

    return {
        "accepted": counts["accepted"],
        "per_s": counts["window"] / duration,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "errors": dict(errors),
        "started_wall": started_wall,
    }


def run() -> dict[str, float]:
    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    clients = env_int("BENCH_ORDERS_CLIENTS", 32)
    celery_workers = env_int("BENCH_ORDERS_CELERY_WORKERS", 2)
    gunicorn_workers = env_int("BENCH_ORDERS_GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1)
    started = time.monotonic()

    print("Preparing (production settings, PostgreSQL, Redis):", flush=True)
    fresh_database(DATABASE_URL)
    reset_redis(REDIS_URL)
    env = site_env()
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    run_checked([*manage, "migrate", "--noinput"], env, "migrate")
    run_checked([*manage, "collectstatic", "--noinput"], env, "collectstatic")
    RESULTS_DIR.mkdir(exist_ok=True)
    batch_path = RESULTS_DIR / "orders-batch.json"
    dataset = run_django_script(DATASET_SCRIPT, ["prepare", str(batch_path)], env, "DATASET", "data set")
    expected = dataset["file_orders"]

    figures: dict[str, float] = {}
    with ExitStack() as stack:
        stack.enter_context(CeleryWorkers(env, celery_workers))
        print(f"Ingest: a file of {expected:,} orders over {len(dataset['shops'])} shops", flush=True)
        ingest = run_django_script(DATASET_SCRIPT, ["ingest", str(batch_path)], env, "INGEST", "upload")
        done_at, counts = wait_final(
            "WHERE source_file_id = %s", (ingest["file_id"],), expected, "ingest", timeout=3600
        )
        status, total = file_status(ingest["file_id"])
        ingest_s = done_at - ingest["received_at"]
        figures["ingest_orders"] = expected
        figures["ingest_s"] = round(ingest_s, 2)
        figures["ingest_orders_per_s"] = round(counts["done"] / ingest_s, 1)
        figures["ingest_done"] = counts["done"]
        figures["ingest_rejected"] = counts["rejected"]
        figures["ingest_dead_letter"] = counts["dead_letter"]
        print(
            f"  ingest: {counts['done']:,} orders done in {ingest_s:.1f} s = {figures['ingest_orders_per_s']:.1f} "
            f"orders/s (file {status}, {total:,} orders read); rejected {counts['rejected']}, dead letter "
            f"{counts['dead_letter']}",
            flush=True,
        )

        site = stack.enter_context(
            Gunicorn(
                name="orders",
                app="localbazaar.wsgi:application",
                env=env,
                workers=gunicorn_workers,
                threads=1,
                worker_class="sync",
            )
        )
        site.wait_ready("/healthz/live")
        print(
            f"API: {clients} clients POST /api/v1/orders for {warmup:g} s warm-up + {duration:g} s; gunicorn "
            f"{gunicorn_workers} sync workers; {celery_workers} Celery workers processing meanwhile",
            flush=True,
        )
        before = intake_counts("WHERE source_file_id IS NULL")
        api = api_phase(site.port, dataset["shops"], clients, warmup, duration)
        accepted = api["accepted"]
        api_done_at, api_counts = wait_final(
            "WHERE source_file_id IS NULL", (), sum(before.values()) + accepted, "API orders", timeout=3600
        )
        end_to_end_s = api_done_at - api["started_wall"]
        figures["api_orders_per_s"] = round(api["per_s"], 1)
        figures["api_p50_ms"] = round(api["p50_ms"], 1)
        figures["api_p99_ms"] = round(api["p99_ms"], 1)
        figures["api_accepted"] = accepted
        figures["api_errors"] = sum(api["errors"].values())
        figures["api_end_to_end_per_s"] = round(api_counts["done"] / end_to_end_s, 1)
        figures["api_done"] = api_counts["done"]
        print(
            f"  API: {api['per_s']:.1f} orders accepted/s (p50 {api['p50_ms']:.0f} ms, p99 {api['p99_ms']:.0f} ms); "
            f"{accepted:,} accepted, all {api_counts['done']:,} confirmed {end_to_end_s:.1f} s after the first "
            f"request = {figures['api_end_to_end_per_s']:.1f} orders/s end to end; errors {api['errors']}",
            flush=True,
        )
        if any(k.startswith("5") for k in api["errors"]):
            print(f"  WARNING: 5xx answers; {site.log_path} ends with:\n{tail(site.log_path)}", flush=True)

    verified = run_django_script(DATASET_SCRIPT, ["verify"], env, "VERIFY", "verify")
    figures["db_orders"] = verified["orders"]
    figures["db_duplicate_orders"] = verified["duplicate_orders"]
    figures["db_units_ordered"] = verified["units_ordered"]
    figures["db_units_sold_ledger"] = verified["units_sold_ledger"]
    figures["db_invoices"] = verified["invoices"]
    figures["inventory_check_failed"] = verified["inventory_check_failed"]
    figures["target_orders_per_s"] = round(TARGET_ORDERS_PER_S, 1)
    figures["ingest_over_target"] = round(figures["ingest_orders_per_s"] / TARGET_ORDERS_PER_S, 3)
    figures["api_over_target"] = round(figures["api_orders_per_s"] / TARGET_ORDERS_PER_S, 3)
    figures["celery_workers"] = celery_workers
    figures["clients"] = clients
    figures["total_run_s"] = round(time.monotonic() - started, 1)
    print(f"  database: {json.dumps({k: v for k, v in verified.items() if k != 'inventory_check_output'})}")
    problems = []
    if verified["duplicate_orders"]:
        problems.append(f"{verified['duplicate_orders']} external references with more than one order")
    if verified["units_ordered"] != verified["units_sold_ledger"]:
        problems.append(f"units ordered {verified['units_ordered']} != sold {verified['units_sold_ledger']}")
    if verified["inventory_check_failed"]:
        problems.append("inventory_check found drift: " + verified["inventory_check_output"])
    if figures["ingest_rejected"] or figures["ingest_dead_letter"]:
        problems.append("orders of the file were rejected or dead-lettered")
    if problems:
        print("CORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems), flush=True)
    return figures

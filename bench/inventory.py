"""Inventory: checkout reservations per second under contention, and the ledger check over 1 M movements.

``run()`` (in the bench runner) creates the PostgreSQL database ``localbazaar_inventory_bench`` if it
is missing, migrates it with the production settings, then runs this file as a script with the same
environment (so Django never loads in the runner; the script and its clients form one process group,
stopped as a whole on any error or interruption). The script:

1. builds the data set once, or resets it to its baseline (``_inventory_dataset.py``): 10,005 stock
   items and exactly 1,000,000 movements that add up to the items' levels;
2. times ``manage.py inventory_check`` on that baseline (exactly 1,000,000 movements);
3. times 150 checkouts from one client with no contention (the cost of one checkout);
4. **hot**: N client processes (default 32; ``fork`` after ``django.setup()``, one PostgreSQL
   connection each) run checkouts for a warm-up and then a measured duration: ``stock_reserve`` of
   a 1–3 line basket (1–3 units a line), then ``reservation_commit`` (20 %) or
   ``reservation_release`` (80 %). Every basket draws from the same 5 variants of one shop, so the
   row locks on their 5 stock items serialize the clients;
5. **spread**: the same with baskets from one of 200 shops, among 10,000 variants (50 a shop);
6. ``manage.py inventory_check`` again, timed, over the baseline plus every movement the checkouts
   appended: it must find no drift, and no client may have hit a deadlock.

A reservation counts when ``stock_reserve`` returned inside the measured window; latencies are per
call. CPU use of the clients, of their PostgreSQL backends and of everything else on the machine is
read from /proc over the window, to show which side is the bottleneck (and how noisy the run was).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
DATABASE_URL = os.environ.get(
    "BENCH_INVENTORY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_inventory_bench"
)
RESULT_PREFIX = "RESULT "
QUANTITIES = (1, 1, 1, 2, 3)  # units per basket line
TTL = timedelta(minutes=15)


# --- in the bench runner -----------------------------------------------------------------------
def run() -> dict[str, float]:
    from _common import run_checked
    from web import ensure_database, site_env

    print("Preparing the inventory database (production settings, PostgreSQL):", flush=True)
    ensure_database(DATABASE_URL)
    env = site_env()
    env["DATABASE_URL"] = DATABASE_URL
    run_checked([sys.executable, str(PROJECT_DIR / "manage.py"), "migrate", "--noinput"], env, "migrate")

    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its clients too: stopped as a group below, error or not
    )
    figures = None
    try:
        for line in proc.stdout:
            if line.startswith(RESULT_PREFIX):
                figures = json.loads(line.removeprefix(RESULT_PREFIX))
            else:
                print(line, end="", flush=True)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if proc.returncode != 0 or figures is None:
        raise RuntimeError(f"the inventory benchmark failed (exit {proc.returncode}): see its output above")
    return figures


# --- in the benchmark process (Django set up) ---------------------------------------------------
def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _error_name(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return type(cause).__name__


def _client(idx, phase, baskets, commit_share, run_tag, ready, go, start_box, warmup, duration, results) -> None:
    """One checkout client: its own connection, a loop of reserve → commit/release until the end."""
    import traceback

    try:
        from django.db import connection

        from apps.inventory.errors import OutOfStock
        from apps.inventory.services import LineRequest, reservation_commit, reservation_release, stock_reserve
        from apps.shops.models import Shop

        rng = random.Random(f"{phase}-{idx}")
        shops = Shop.objects.in_bulk(list(baskets))
        shop_ids = sorted(baskets)
        connection.ensure_connection()
        ready.put((os.getpid(), connection.connection.info.backend_pid))
        go.wait()
        measure_from = start_box.value + warmup
        until = measure_from + duration
        reserve_ms, finish_ms = [], []
        errors: Counter[str] = Counter()
        counts = Counter()
        n = 0
        while time.monotonic() < until:
            shop_id = rng.choice(shop_ids)
            variants = baskets[shop_id]
            picked = rng.sample(variants, min(len(variants), rng.randint(1, 3)))
            lines = [LineRequest(v, rng.choice(QUANTITIES)) for v in picked]
            n += 1
            reference = f"bench-{phase}-{run_tag}-{idx}-{n}"
            t0 = time.monotonic()
            try:
                stock_reserve(shop=shops[shop_id], reference=reference, lines=lines, ttl=TTL)
            except OutOfStock:
                if time.monotonic() >= measure_from:
                    counts["out_of_stock"] += 1
                continue
            except Exception as exc:
                if time.monotonic() >= measure_from:
                    errors[_error_name(exc)] += 1
                continue
            t1 = time.monotonic()
            commit = rng.random() < commit_share
            try:
                if commit:
                    reservation_commit(reference=reference)
                else:
                    reservation_release(reference=reference, reason="checkout abandoned")
                failed = None
            except Exception as exc:
                failed = _error_name(exc)
            t2 = time.monotonic()
            if measure_from <= t1 < until:
                counts["reserved"] += 1
                counts["lines"] += len(lines)
                reserve_ms.append((t1 - t0) * 1000)
            if measure_from <= t2 < until:
                if failed:
                    errors[failed] += 1
                else:
                    counts["committed" if commit else "released"] += 1
                    finish_ms.append((t2 - t1) * 1000)
        results.put({"counts": dict(counts), "errors": dict(errors), "reserve_ms": reserve_ms, "finish_ms": finish_ms})
    except BaseException:
        results.put({"crash": traceback.format_exc()})
        raise


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by the processes PIDS (from /proc)."""
    total = 0
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # gone, or PostgreSQL on another machine
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _cpu_sample(client_pids: list[int], backend_pids: list[int]) -> dict[str, float]:
    busy, stolen = _machine_busy_seconds()
    return {
        "clients": _cpu_seconds(client_pids),
        "backends": _cpu_seconds(backend_pids),
        "busy": busy,
        "stolen": stolen,
        "at": time.monotonic(),
    }


def _load_phase(phase: str, baskets: dict[int, list[int]], clients: int, warmup: float, duration: float) -> dict:
    import multiprocessing as mp

    from django.db import connections

    commit_share = _env_float("BENCH_INVENTORY_COMMIT_SHARE", 0.2)
    variants = sum(len(v) for v in baskets.values())
    print(
        f"Phase {phase}: {clients} client processes, baskets of 1-3 lines from {variants:,} variants of "
        f"{len(baskets)} shop(s), {commit_share:.0%} committed; {warmup:g} s warm-up + {duration:g} s measured",
        flush=True,
    )
    ctx = mp.get_context("fork")
    connections.close_all()  # the clients open their own
    ready, results, go, start_box = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    run_tag = f"{int(time.time()):x}"
    args = (phase, baskets, commit_share, run_tag, ready, go, start_box, warmup, duration, results)
    procs = [ctx.Process(target=_client, args=(i, *args), daemon=True) for i in range(clients)]
    try:
        for proc in procs:
            proc.start()
        pids = [ready.get(timeout=120) for _ in procs]
        client_pids = [p for p, _backend in pids]
        backend_pids = [b for _p, b in pids]
        start = time.monotonic() + 0.1
        start_box.value = start
        go.set()
        time.sleep(max(0.0, start + warmup - time.monotonic()))
        cpu0 = _cpu_sample(client_pids, backend_pids)
        time.sleep(max(0.0, start + warmup + duration - time.monotonic()))
        cpu1 = _cpu_sample(client_pids, backend_pids)
        outs = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    crashes = [o["crash"] for o in outs if "crash" in o]
    if crashes:
        raise RuntimeError(f"{len(crashes)} client(s) crashed; the first:\n{crashes[0]}")

    counts, errors = Counter(), Counter()
    reserve_ms, finish_ms = [], []
    for out in outs:
        counts.update(out["counts"])
        errors.update(out["errors"])
        reserve_ms += out["reserve_ms"]
        finish_ms += out["finish_ms"]
    cores = {key: (cpu1[key] - cpu0[key]) / (cpu1["at"] - cpu0["at"]) for key in cpu0 if key != "at"}
    result = {
        "per_s": counts["reserved"] / duration,
        "p50_ms": _percentile(reserve_ms, 0.50),
        "p99_ms": _percentile(reserve_ms, 0.99),
        "finish_p50_ms": _percentile(finish_ms, 0.50),
        "finish_p99_ms": _percentile(finish_ms, 0.99),
        "reserved": counts["reserved"],
        "lines_per_s": counts["lines"] / duration,
        "committed": counts["committed"],
        "released": counts["released"],
        "out_of_stock": counts["out_of_stock"],
        "errors": sum(errors.values()),
        "deadlocks": errors.get("DeadlockDetected", 0),
        "client_cpu_cores": cores["clients"],
        "db_cpu_cores": cores["backends"],
        # Everything else that ran meanwhile: other PostgreSQL processes (WAL writer, other
        # databases' sessions), other programs on the machine. Large values mean a noisy run.
        "other_cpu_cores": max(0.0, cores["busy"] - cores["clients"] - cores["backends"]),
        "stolen_cpu_cores": cores["stolen"],
    }
    print(
        f"  {result['per_s']:8.1f} reservations/s ({result['lines_per_s']:.1f} lines/s)   "
        f"reserve p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms   "
        f"commit/release p50 {result['finish_p50_ms']:.1f} ms, p99 {result['finish_p99_ms']:.1f} ms",
        flush=True,
    )
    print(
        f"  {result['reserved']:,} reserved, {result['committed']:,} committed, {result['released']:,} released, "
        f"{result['out_of_stock']} out of stock, {result['errors']} errors {dict(errors) or ''}; "
        f"CPU (cores of {os.cpu_count()}): clients {result['client_cpu_cores']:.2f}, their PostgreSQL backends "
        f"{result['db_cpu_cores']:.2f}, anything else {result['other_cpu_cores']:.2f}, stolen by the host "
        f"{result['stolen_cpu_cores']:.2f}",
        flush=True,
    )
    if result["deadlocks"]:
        print(f"  WARNING: {result['deadlocks']} deadlock(s) in phase {phase}", flush=True)
    return result


def _single_client(baskets: dict[int, list[int]], cycles: int) -> dict:
    """The cost of one checkout with no contention: CYCLES spread reserve → release in this process."""
    from apps.inventory.services import LineRequest, reservation_release, stock_reserve
    from apps.shops.models import Shop

    rng = random.Random("single")
    shops = Shop.objects.in_bulk(list(baskets))
    shop_ids = sorted(baskets)
    reserve_ms, cycle_ms = [], []
    cpu = 0.0
    for n in range(cycles + 20):  # the first 20 warm up (connection, query compilation)
        shop_id = rng.choice(shop_ids)
        picked = rng.sample(baskets[shop_id], rng.randint(1, 3))
        lines = [LineRequest(v, rng.choice(QUANTITIES)) for v in picked]
        reference = f"bench-single-{int(time.time()):x}-{n}"
        c0, t0 = time.process_time(), time.monotonic()
        stock_reserve(shop=shops[shop_id], reference=reference, lines=lines, ttl=TTL)
        t1 = time.monotonic()
        reservation_release(reference=reference, reason="checkout abandoned")
        t2, c2 = time.monotonic(), time.process_time()
        if n >= 20:
            reserve_ms.append((t1 - t0) * 1000)
            cycle_ms.append((t2 - t0) * 1000)
            cpu += c2 - c0
    result = {
        "reserve_p50_ms": _percentile(reserve_ms, 0.5),
        "cycle_p50_ms": _percentile(cycle_ms, 0.5),
        "cycle_cpu_ms": cpu / cycles * 1000,
    }
    print(
        f"Single client, no contention ({cycles} spread checkouts): reserve p50 {result['reserve_p50_ms']:.1f} ms, "
        f"reserve + release p50 {result['cycle_p50_ms']:.1f} ms, of which {result['cycle_cpu_ms']:.1f} ms CPU in "
        "this Python process",
        flush=True,
    )
    return result


def _ledger_check() -> dict:
    """``manage.py inventory_check``, timed; drifted items are the lines it writes to stderr."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    from apps.inventory.models import StockItem, StockMovement

    movements, items = StockMovement.objects.count(), StockItem.objects.count()
    out, err = StringIO(), StringIO()
    started = time.monotonic()
    try:
        call_command("inventory_check", stdout=out, stderr=err)
        failure = ""
    except CommandError as exc:
        failure = str(exc)
    elapsed = time.monotonic() - started
    drift = sum(1 for line in err.getvalue().splitlines() if line.startswith("stock item "))
    last = (failure or out.getvalue().strip().splitlines()[-1]).strip()
    print(f"  inventory_check: {elapsed:.2f} s over {items:,} items / {movements:,} movements: {last}", flush=True)
    if failure:
        print(f"  WARNING: the ledger drifted:\n{err.getvalue()[:3000]}", flush=True)
    return {"seconds": elapsed, "movements": movements, "items": items, "drift": drift}


def main() -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    sys.path.insert(0, str(BENCH_DIR))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    import django

    django.setup()
    import _inventory_dataset as dataset

    clients = _env_int("BENCH_INVENTORY_CLIENTS", 32)
    duration = max(1.0, _env_float("BENCH_DURATION", 10))
    warmup = max(0.0, _env_float("BENCH_WARMUP", 2))
    started = time.monotonic()
    build_s = dataset.ensure()
    catalog = dataset.catalog()

    print("Ledger check on the baseline (before any checkout of this run):", flush=True)
    baseline = _ledger_check()
    single = _single_client(catalog["spread"], _env_int("BENCH_INVENTORY_SINGLE_CYCLES", 150))
    hot = _load_phase("hot", catalog["hot"], clients, warmup, duration)
    spread = _load_phase("spread", catalog["spread"], clients, warmup, duration)
    print("Ledger check after both phases:", flush=True)
    check = _ledger_check()

    figures: dict[str, float] = {
        "reserve_hot_per_s": round(hot["per_s"], 1),
        "reserve_spread_per_s": round(spread["per_s"], 1),
        "inventory_check_1m_s": round(check["seconds"], 2),
    }
    for name, phase in (("hot", hot), ("spread", spread)):
        figures[f"reserve_{name}_p50_ms"] = round(phase["p50_ms"], 2)
        figures[f"reserve_{name}_p99_ms"] = round(phase["p99_ms"], 2)
        figures[f"finish_{name}_p50_ms"] = round(phase["finish_p50_ms"], 2)
        figures[f"finish_{name}_p99_ms"] = round(phase["finish_p99_ms"], 2)
        figures[f"reserve_{name}_lines_per_s"] = round(phase["lines_per_s"], 1)
        figures[f"reserve_{name}_count"] = phase["reserved"]
        figures[f"{name}_errors"] = phase["errors"]
        figures[f"{name}_out_of_stock"] = phase["out_of_stock"]
        figures[f"{name}_client_cpu_cores"] = round(phase["client_cpu_cores"], 2)
        figures[f"{name}_db_cpu_cores"] = round(phase["db_cpu_cores"], 2)
        figures[f"{name}_other_cpu_cores"] = round(phase["other_cpu_cores"], 2)
        figures[f"{name}_stolen_cpu_cores"] = round(phase["stolen_cpu_cores"], 2)
    figures["single_reserve_p50_ms"] = round(single["reserve_p50_ms"], 2)
    figures["single_cycle_p50_ms"] = round(single["cycle_p50_ms"], 2)
    figures["single_cycle_cpu_ms"] = round(single["cycle_cpu_ms"], 2)
    figures["deadlocks"] = hot["deadlocks"] + spread["deadlocks"]
    figures["movements"] = check["movements"]
    figures["stock_items"] = check["items"]
    figures["drift_items"] = check["drift"]
    figures["inventory_check_baseline_s"] = round(baseline["seconds"], 2)
    figures["baseline_movements"] = baseline["movements"]
    figures["baseline_drift_items"] = baseline["drift"]
    figures["clients"] = clients
    figures["duration_s"] = duration
    figures["dataset_build_s"] = round(build_s, 1)
    print(f"Done in {time.monotonic() - started:.0f} s (data set build: {build_s:.0f} s; 0 = reused).", flush=True)
    if figures["deadlocks"] or figures["drift_items"]:
        print("WARNING: deadlocks or ledger drift: see above.", flush=True)
    print(RESULT_PREFIX + json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

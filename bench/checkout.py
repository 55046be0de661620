"""Checkout throughput: carts placed (pay on pickup) and 1-Click orders per second, against bare Django.

One run, 32 concurrent clients (``BENCH_CHECKOUT_CLIENTS``) on PostgreSQL:

1. The database ``localbazaar_checkout_bench`` (created if missing; dropped and made again when it
   holds another version of the data set), migrated with the production settings; static files
   collected. Redis db 13 (the site's cache and Celery broker) is emptied: the email tasks the
   orders queue are counted after the run (no worker runs).
2. localstripe on 127.0.0.1 (``_checkout_localstripe.py``: the test fixture's way, plus an index of
   its store, see there); the site gets ``STRIPE_SECRET_KEY``/``STRIPE_PUBLISHABLE_KEY``/
   ``STRIPE_API_BASE`` pointing at it.
3. ``_checkout_dataset.py prepare``: the data set (built once: 200 shops, 2,000 variants with
   1,000,000 units each, 2,048 buyers with a verified email, an address, a saved card and 1-Click
   on), reset to its baseline, each buyer's customer and card made at localstripe, one signed-in
   session per buyer written server-side.
4. Two gunicorns with the same worker configuration: the site and ``_hello_app`` (the yardstick).
5. Load phases, each a warm-up then a measured window, the clients being processes (forked; no
   Django in them) that each own 64 buyers and use them in turn, with their session cookie and a
   CSRF cookie + form token:
   - **checkout**: ``POST /cart/add/`` of 1 or 2 items (half the baskets; the second item from the
     same shop or another, half each), ``GET /checkout/`` (idempotency key, expected total, address),
     ``POST /checkout/`` with pay on pickup → 302 to the confirmation;
   - **1-Click**: ``GET`` the product page (the 1-Click nonce), ``POST /one-click/buy/`` → the card
     is charged at localstripe off-session → 302 to the confirmation;
   - **localstripe alone**: the same clients create and confirm PaymentIntents for the buyers'
     customers and cards directly at localstripe: what the fake Stripe can serve at best;
   - **hello**: wrk against ``_hello_app``, as ``bench/web.py`` does.
   The CPU used by the clients, the site's gunicorn, PostgreSQL, localstripe and everything else is
   read from /proc over each window.
6. ``_checkout_dataset.py verify``: the database must hold what the clients were told (placed
   checkouts, one order per shop of each basket, units sold = units ordered, no reservation left),
   ``inventory_check`` must pass; then a single-process profile of every step (queries per request,
   time, where the CPU goes).

Servers stop at the end, error or not.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from _common import (
    BENCH_DIR,
    LOOPBACK,
    PROJECT_DIR,
    RESULTS_DIR,
    Gunicorn,
    env_float,
    env_int,
    free_port,
    require_wrk,
    run_checked,
    run_django_script,
    stop_process_group,
    tail,
    wrk,
)

DATABASE_URL = os.environ.get(
    "BENCH_CHECKOUT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_checkout_bench"
)
REDIS_URL = os.environ.get("BENCH_CHECKOUT_REDIS_URL", "redis://127.0.0.1:6379/13")
STRIPE_SECRET_KEY = "sk_test_12345"  # noqa: S105  (localstripe's test key, as in the payments tests)
STRIPE_PUBLISHABLE_KEY = "pk_test_12345"
TARGET_ORDERS_PER_S = 500 * 20 / 60  # 20 x the old system's peak of 500 orders a minute
CHECKOUT_DONE = re.compile(r"/checkout/(C[A-Z0-9]+)/$")
CHECKOUT_PAY = re.compile(r"/checkout/(C[A-Z0-9]+)/pay/$")
CSRF_CHARS = string.ascii_letters + string.digits


# --- the database, localstripe ---------------------------------------------------------------------
def ensure_database(url: str, version: str) -> None:
    """Create the benchmark's database; drop it first when it holds another version of the data set
    (or a build that did not finish, which leaves no version)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        conn = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL does not answer at {admin_url}: {exc}") from exc
    with conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if row is not None and row[0] != version:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            print(f"  database {name}: dropped (data set {row[0]!r}, not {version!r})", flush=True)
            row = None
        if row is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"  database {name}: created", flush=True)
        else:
            print(f"  database {name}: exists ({version})", flush=True)


def reset_redis(url: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        client.flushdb()  # the benchmark's own Redis database: cache and queued tasks of earlier runs
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis does not answer at {url}: {exc}") from exc


class LocalStripe:
    """localstripe on a free port of 127.0.0.1, for a ``with`` block (its own process group)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = RESULTS_DIR / "localstripe-checkout.log"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> LocalStripe:
        RESULTS_DIR.mkdir(exist_ok=True)
        self.port = free_port()
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(BENCH_DIR / "_checkout_localstripe.py"), str(self.port)],
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"localstripe did not start:\n{tail(self.log_path)}") from None
                time.sleep(0.1)
        print(f"  started localstripe (pid {self.process.pid}) on {self.url}", flush=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        stop_process_group(self.process, "localstripe")


# --- CPU accounting (from /proc) -----------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_of(pid: int) -> float | None:
    fields = _stat_fields(pid)
    if not fields:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _children(parent: int) -> list[int]:
    out = []
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields and int(fields[1]) == parent:
            out.append(pid)
    return out


def _postgres_pids(database: str) -> list[int]:
    """PostgreSQL's processes that work for DATABASE: its client backends, and the server's shared
    ones (postmaster, WAL writer, checkpointer…). Backends of other databases are left out (they
    count as "other": tests or benchmarks someone else runs on the machine)."""
    out = []
    for pid in _all_pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                continue
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        client_backend = re.match(r"postgres: \S+ \S+ \S+\(\d+\)", title)
        if not client_backend or f" {database} " in title:
            out.append(pid)
    return out


def _machine_busy_seconds() -> tuple[float, float]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


class CpuMeter:
    """CPU seconds of named groups of processes (found again at each sample: workers and database
    backends come and go) and of the whole machine, between two samples."""

    def __init__(self, groups: dict[str, object]):
        self.groups = groups  # name -> a list of pids, or a function returning one

    def sample(self) -> dict:
        busy, stolen = _machine_busy_seconds()
        out: dict = {"busy": busy, "stolen": stolen, "at": time.monotonic()}
        for name, pids in self.groups.items():
            found = pids() if callable(pids) else pids
            out[name] = {pid: cpu for pid in found if (cpu := _cpu_of(pid)) is not None}
        return out

    @staticmethod
    def cores(before: dict, after: dict) -> dict[str, float]:
        span = after["at"] - before["at"]
        cores = {key: (after[key] - before[key]) / span for key in ("busy", "stolen")}
        for name, was in before.items():
            if not isinstance(was, dict):
                continue
            now = after[name]
            # A process gone meanwhile counts nothing; one started meanwhile counts all it used.
            used = sum(now.get(pid, cpu) - cpu for pid, cpu in was.items())
            used += sum(cpu for pid, cpu in now.items() if pid not in was)
            cores[name] = used / span
        named = sum(v for k, v in cores.items() if k not in ("busy", "stolen"))
        cores["other"] = max(0.0, cores["busy"] - named)
        return cores


# --- the clients (forked processes, no Django) ------------------------------------------------------
class Browser:
    """One buyer-agnostic HTTP client: a connection to 127.0.0.1:PORT (gunicorn's sync workers close
    it after each answer; http.client opens it again) and this client's CSRF secret."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        self.csrf = "".join(random.SystemRandom().choice(CSRF_CHARS) for _ in range(32))

    def request(self, method: str, path: str, session: str, form: dict | None = None):
        headers = {"Cookie": f"sessionid={session}; csrftoken={self.csrf}", "Host": f"{LOOPBACK}:{self.port}"}
        body = None
        if form is not None:
            body = urlencode({"csrfmiddlewaretoken": self.csrf, **form})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return f"socket:{type(exc).__name__}", "", b""
        if response.will_close:
            self.conn.close()
        return response.status, response.getheader("Location", ""), data


def _form_value(page: str, name: str) -> str | None:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    return found.group(1) if found else None


class Tally:
    """What one client saw: flows completed (all, and inside the measured window), latencies of the
    flows and steps that ended inside the window, and every error by step and status."""

    def __init__(self, measure_from: float, until: float):
        self.measure_from, self.until = measure_from, until
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.ms: dict[str, list[float]] = defaultdict(list)

    def inside(self, at: float) -> bool:
        return self.measure_from <= at < self.until

    def step(self, name: str, started: float, ended: float) -> None:
        if self.inside(ended):
            self.ms[name].append((ended - started) * 1000)

    def error(self, step: str, status) -> None:
        self.errors[f"{step} {status}"] += 1

    def result(self) -> dict:
        return {"counts": dict(self.counts), "errors": dict(self.errors), "ms": dict(self.ms)}


def _checkout_flow(browser: Browser, tally: Tally, rng: random.Random, buyer: list, by_shop, variants) -> None:
    session = buyer[1]
    first = rng.choice(variants)
    basket = [first]
    if rng.random() < 0.5:  # a second item: from the same shop or from another one
        pool = by_shop[first[1]] if rng.random() < 0.5 else by_shop[rng.choice(variants)[1]]
        basket.append(rng.choice([v for v in pool if v[0] != first[0]] or pool))
    t_flow = time.monotonic()
    for variant in basket:
        t0 = time.monotonic()
        status, location, _ = browser.request(
            "POST", "/cart/add/", session, {"variant": variant[0], "quantity": rng.choice((1, 1, 2))}
        )
        t1 = time.monotonic()
        if status != 302 or not location.endswith("/cart/"):
            tally.error("cart_add", status)
            return
        tally.step("cart_add", t0, t1)
    t0 = time.monotonic()
    status, _, body = browser.request("GET", "/checkout/", session)
    t1 = time.monotonic()
    page = body.decode(errors="replace")
    form = {
        "idempotency_key": _form_value(page, "idempotency_key"),
        "expected_total": _form_value(page, "expected_total"),
        "address": (re.search(r'name="address" value="(\d+)"', page) or [None, None])[1],
        "payment_method": "pay_on_pickup",
    }
    if status != 200:
        tally.error("checkout_get", status)
        return
    if None in form.values() or 'value="pay_on_pickup"' not in page:
        tally.error("checkout_get", "200-without-form")
        return
    tally.step("checkout_get", t0, t1)
    t0 = time.monotonic()
    status, location, _ = browser.request("POST", "/checkout/", session, form)
    t1 = time.monotonic()
    if status != 302 or not CHECKOUT_DONE.search(location):
        tally.error("checkout_post", status if status != 302 else f"302-to-{location[:40]}")
        return
    tally.step("checkout_post", t0, t1)
    shops = len({v[1] for v in basket})
    tally.counts["done"] += 1
    tally.counts["orders"] += shops
    tally.counts["units_requests"] += len(basket)
    if tally.inside(t1):
        tally.counts["window_done"] += 1
        tally.counts["window_orders"] += shops
        tally.ms["flow"].append((t1 - t_flow) * 1000)


def _one_click_flow(browser: Browser, tally: Tally, rng: random.Random, buyer: list, by_shop, variants) -> None:
    session = buyer[1]
    variant = rng.choice(variants)
    t_flow = t0 = time.monotonic()
    status, _, body = browser.request("GET", variant[2], session)
    t1 = time.monotonic()
    if status != 200:
        tally.error("product_page", status)
        return
    nonce = _form_value(body.decode(errors="replace"), "nonce")
    if nonce is None:
        tally.error("product_page", "200-without-1-click")
        return
    tally.step("product_page", t0, t1)
    t0 = time.monotonic()
    status, location, _ = browser.request(
        "POST", "/one-click/buy/", session, {"variant": variant[0], "quantity": 1, "nonce": nonce}
    )
    t1 = time.monotonic()
    if status == 302 and CHECKOUT_PAY.search(location):
        tally.error("one_click_post", "302-to-pay-page (card not charged)")
        return
    if status != 302 or not CHECKOUT_DONE.search(location):
        tally.error("one_click_post", status if status != 302 else f"302-to-{location[:40]}")
        return
    tally.step("one_click_post", t0, t1)
    tally.counts["done"] += 1
    tally.counts["orders"] += 1
    if tally.inside(t1):
        tally.counts["window_done"] += 1
        tally.counts["window_orders"] += 1
        tally.ms["flow"].append((t1 - t_flow) * 1000)


def _stripe_flow(conn_box: list, tally: Tally, rng: random.Random, buyer: list, port: int) -> None:
    """What 1-Click asks of Stripe, straight to localstripe: create + confirm a PaymentIntent off-session."""
    form = urlencode(
        {
            "amount": rng.randint(300, 9000),
            "currency": "sgd",
            "payment_method_types[0]": "card",
            "customer": buyer[2],
            "payment_method": buyer[3],
            "off_session": "true",
            "confirm": "true",
            "metadata[reference]": f"bench-{rng.getrandbits(48):x}",
        }
    )
    headers = {
        "Authorization": f"Bearer {STRIPE_SECRET_KEY}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Stripe-Version": "2024-06-20",
    }
    t0 = time.monotonic()
    try:
        conn = conn_box[0]
        conn.request("POST", "/v1/payment_intents", body=form, headers=headers)
        response = conn.getresponse()
        body = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        conn_box[0].close()
        conn_box[0] = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        tally.error("payment_intent", f"socket:{type(exc).__name__}")
        return
    t1 = time.monotonic()
    if status != 200 or b'"succeeded"' not in body:
        tally.error("payment_intent", status)
        return
    tally.counts["done"] += 1
    if tally.inside(t1):
        tally.counts["window_done"] += 1
        tally.ms["flow"].append((t1 - t0) * 1000)


def _client(kind, idx, buyers, variants, port, ready, go, start_box, warmup, duration, results) -> None:
    import traceback

    try:
        rng = random.Random(f"{kind}-{idx}-{time.time()}")
        by_shop = defaultdict(list)
        for variant in variants:
            by_shop[variant[1]].append(variant)
        browser = Browser(port)
        conn_box = [http.client.HTTPConnection(LOOPBACK, port, timeout=60)]
        ready.put(os.getpid())
        go.wait()
        measure_from = start_box.value + warmup
        until = measure_from + duration
        tally = Tally(measure_from, until)
        n = 0
        while time.monotonic() < until:
            buyer = buyers[n % len(buyers)]
            n += 1
            if kind == "checkout":
                _checkout_flow(browser, tally, rng, buyer, by_shop, variants)
            elif kind == "one_click":
                _one_click_flow(browser, tally, rng, buyer, by_shop, variants)
            else:
                _stripe_flow(conn_box, tally, rng, buyer, port)
        results.put(tally.result())
    except BaseException:
        results.put({"crash": traceback.format_exc()})
        raise


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load_phase(
    kind: str, port: int, buyers: list, variants: list, clients: int, warmup: float, duration: float, groups: dict
) -> dict:
    """CLIENTS processes run KIND flows for WARMUP + DURATION seconds; figures of the measured window."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready, results, go, start_box = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    slices = [buyers[i::clients] for i in range(clients)]
    procs = [
        ctx.Process(
            target=_client,
            args=(kind, i, slices[i], variants, port, ready, go, start_box, warmup, duration, results),
            daemon=True,
        )
        for i in range(clients)
    ]
    outs = []
    try:
        for proc in procs:
            proc.start()
        client_pids = [ready.get(timeout=60) for _ in procs]
        meter = CpuMeter({"clients": client_pids, **groups})
        start = time.monotonic() + 0.1
        start_box.value = start
        go.set()
        time.sleep(max(0.0, start + warmup - time.monotonic()))
        cpu0 = meter.sample()
        time.sleep(max(0.0, start + warmup + duration - time.monotonic()))
        cpu1 = meter.sample()
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
        raise RuntimeError(f"{len(crashes)} {kind} client(s) crashed; the first:\n{crashes[0]}")
    counts, errors, ms = Counter(), Counter(), defaultdict(list)
    for out in outs:
        counts.update(out["counts"])
        errors.update(out["errors"])
        for step, values in out["ms"].items():
            ms[step] += values
    return {
        "per_s": counts["window_done"] / duration,
        "orders_per_s": counts["window_orders"] / duration,
        "counts": dict(counts),
        "errors": dict(errors),
        "latency": {
            step: {"p50": _percentile(v, 0.5), "p90": _percentile(v, 0.9), "p99": _percentile(v, 0.99), "n": len(v)}
            for step, v in ms.items()
        },
        "cores": CpuMeter.cores(cpu0, cpu1),
    }


# --- the run -------------------------------------------------------------------------------------------
def site_env(localstripe_url: str = "") -> dict[str, str]:
    from web import site_env as web_site_env

    env = web_site_env()
    env.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
            "STRIPE_API_BASE": localstripe_url,
            "STRIPE_MAX_NETWORK_RETRIES": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
    )
    return env


def _print_phase(name: str, phase: dict, unit: str) -> None:
    cores = phase["cores"]
    flow = phase["latency"].get("flow", {})
    print(
        f"  {name:10} {phase['per_s']:8.1f} {unit}/s  ({phase['orders_per_s']:.1f} orders/s)   "
        f"flow p50 {flow.get('p50', 0):.0f} ms, p99 {flow.get('p99', 0):.0f} ms",
        flush=True,
    )
    for step, lat in phase["latency"].items():
        if step != "flow":
            print(f"      {step:15} p50 {lat['p50']:7.1f} ms   p90 {lat['p90']:7.1f} ms   p99 {lat['p99']:7.1f} ms")
    named = ", ".join(f"{k} {v:.2f}" for k, v in cores.items() if k not in ("busy",))
    print(f"      CPU (cores of {os.cpu_count()}): {named}; machine busy {cores['busy']:.2f}", flush=True)
    if phase["errors"]:
        print(f"      ERRORS by step and status: {phase['errors']}", flush=True)


def run() -> dict[str, float]:
    from _checkout_dataset import DATASET_VERSION
    from web import hello_env

    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    clients = env_int("BENCH_CHECKOUT_CLIENTS", 32)
    workers = env_int("BENCH_CHECKOUT_WORKERS", 2 * (os.cpu_count() or 1) + 1)
    threads = env_int("BENCH_CHECKOUT_THREADS", 1)
    connections = env_int("BENCH_CONNECTIONS", 32)
    wrk_threads = env_int("BENCH_WRK_THREADS", 2)
    worker_class = "gthread" if threads > 1 else "sync"
    require_wrk()
    started = time.monotonic()

    print("Preparing (production settings, PostgreSQL, Redis, localstripe):", flush=True)
    ensure_database(DATABASE_URL, DATASET_VERSION)
    reset_redis(REDIS_URL)
    env = site_env()
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    run_checked([*manage, "migrate", "--noinput"], env, "migrate")
    run_checked([*manage, "collectstatic", "--noinput"], env, "collectstatic")

    figures: dict[str, float] = {}
    with ExitStack() as stack:
        stripe = stack.enter_context(LocalStripe(env))
        env = site_env(stripe.url)
        dataset = run_django_script("_checkout_dataset.py", ["prepare"], env, "DATASET", "data set")
        buyers, variants = dataset["buyers"], dataset["variants"]
        config = {"workers": workers, "threads": threads, "worker_class": worker_class}
        site = stack.enter_context(Gunicorn(name="checkout", app="localbazaar.wsgi:application", env=env, **config))
        hello = stack.enter_context(
            Gunicorn(
                name="hello",
                app="_hello_app:application",
                env=hello_env(),
                extra_args=["--pythonpath", str(BENCH_DIR)],
                **config,
            )
        )
        site.wait_ready("/healthz/live")
        hello.wait_ready("/")
        status, _, _ = Browser(site.port).request("GET", variants[0][2], buyers[0][1])
        if status != 200:
            raise RuntimeError(
                f"GET {variants[0][2]} answered {status}; the site's log ends with:\n{tail(site.log_path)}"
            )

        database = urlsplit(DATABASE_URL).path.lstrip("/")
        groups = {
            "gunicorn": lambda: [site.process.pid, *_children(site.process.pid)],
            "postgres": lambda: _postgres_pids(database),
            "localstripe": [stripe.process.pid],
        }
        print(
            f"Load: {clients} client processes ({len(buyers):,} buyers, {len(buyers) // clients} each), "
            f"{warmup:g} s warm-up + {duration:g} s measured per phase; gunicorn {workers} {worker_class} "
            f"worker(s) x {threads} thread(s)",
            flush=True,
        )
        phases = {}
        for kind, port, unit in (
            ("checkout", site.port, "checkouts"),
            ("one_click", site.port, "1-Click"),
            ("stripe", stripe.port, "intents"),
        ):
            phases[kind] = load_phase(kind, port, buyers, variants, clients, warmup, duration, groups)
            _print_phase(kind, phases[kind], unit)
            if any(str(k).split(" ", 1)[1].startswith("5") for k in phases[kind]["errors"]):
                print(f"  WARNING: 5xx answers; {site.log_path} ends with:\n{tail(site.log_path)}", flush=True)
        if warmup > 0:
            wrk(hello.port, "/", warmup, connections, wrk_threads)
        hello_result = wrk(hello.port, "/", duration, connections, wrk_threads)
        print(
            f"  hello      {hello_result['rps']:8.1f} req/s   p50 {hello_result['p50_ms']:.2f} ms   "
            f"p99 {hello_result['p99_ms']:.2f} ms",
            flush=True,
        )

        print("Checks after the load:", flush=True)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as args_file:
            json.dump({"profile_buyer": dataset["profile_buyer"], "variants": variants}, args_file)
        try:
            verified = run_django_script("_checkout_dataset.py", ["verify", args_file.name], env, "VERIFY", "verify")
        finally:
            os.unlink(args_file.name)

    figures.update(_figures(phases, hello_result, verified, dataset))
    figures.update(
        {
            "clients": clients,
            "buyers": len(buyers),
            "variants": len(variants),
            "workers": workers,
            "threads": threads,
            "duration_s": max(1, round(duration)),
            "dataset_build_s": dataset["build_s"],
            "total_run_s": round(time.monotonic() - started, 1),
        }
    )
    _print_summary(figures, phases, verified)
    problems = _problems(figures)
    if problems:
        print("CORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems), flush=True)
    return figures


def _status_errors(errors: dict, first: str) -> int:
    return sum(n for key, n in errors.items() if str(key).split(" ", 1)[1].startswith(first))


def _figures(phases: dict, hello: dict, verified: dict, dataset: dict) -> dict[str, float]:
    f: dict[str, float] = {}
    checkout, one_click, stripe = phases["checkout"], phases["one_click"], phases["stripe"]
    f["checkout_per_s"] = round(checkout["per_s"], 2)
    f["checkout_orders_per_s"] = round(checkout["orders_per_s"], 2)
    f["one_click_per_s"] = round(one_click["per_s"], 2)
    f["hello_rps"] = round(hello["rps"], 1)
    f["localstripe_intents_per_s"] = round(stripe["per_s"], 1)
    f["target_orders_per_s"] = round(TARGET_ORDERS_PER_S, 1)
    f["checkout_orders_over_target"] = round(checkout["orders_per_s"] / TARGET_ORDERS_PER_S, 4)
    f["one_click_over_target"] = round(one_click["per_s"] / TARGET_ORDERS_PER_S, 4)
    for prefix, phase, steps in (
        ("checkout", checkout, ("cart_add", "checkout_get", "checkout_post")),
        ("one_click", one_click, ("product_page", "one_click_post")),
        ("localstripe_intent", stripe, ()),
    ):
        lat = phase["latency"]
        f[f"{prefix}_p50_ms"] = round(lat.get("flow", {}).get("p50", 0), 1)
        f[f"{prefix}_p99_ms"] = round(lat.get("flow", {}).get("p99", 0), 1)
        for step in steps:
            f[f"{step}_p50_ms"] = round(lat.get(step, {}).get("p50", 0), 1)
            f[f"{step}_p99_ms"] = round(lat.get(step, {}).get("p99", 0), 1)
    f["hello_p50_ms"] = round(hello["p50_ms"], 2)
    f["hello_p99_ms"] = round(hello["p99_ms"], 2)
    for prefix, phase in (("checkout", checkout), ("one_click", one_click), ("localstripe_intent", stripe)):
        errors = phase["errors"]
        f[f"{prefix}_errors_5xx"] = _status_errors(errors, "5")
        f[f"{prefix}_errors_4xx"] = _status_errors(errors, "4")
        f[f"{prefix}_errors_other"] = sum(errors.values()) - f[f"{prefix}_errors_5xx"] - f[f"{prefix}_errors_4xx"]
    f["hello_http_errors"] = hello["status_errors"]
    f["hello_socket_errors"] = hello["socket_errors"]
    # CPU: cores used over each window, and CPU milliseconds per completed flow.
    for prefix, phase in (("checkout", checkout), ("one_click", one_click), ("localstripe_intent", stripe)):
        done_per_s = max(phase["per_s"], 1e-9)
        for group in ("gunicorn", "postgres", "localstripe", "clients", "other"):
            cores = phase["cores"][group]
            f[f"{prefix}_{group}_cores"] = round(cores, 2)
            if group in ("gunicorn", "postgres", "localstripe"):
                f[f"{prefix}_{group}_cpu_ms_each"] = round(cores * 1000 / done_per_s, 2)
        f[f"{prefix}_stolen_cores"] = round(phase["cores"]["stolen"], 2)
    # What the clients were told, against what the database holds.
    f["checkouts_done"] = checkout["counts"].get("done", 0)
    f["checkout_orders_done"] = checkout["counts"].get("orders", 0)
    f["one_click_done"] = one_click["counts"].get("done", 0)
    for key, value in verified.items():
        if key.startswith("db_") or key in (
            "drift_items",
            "inventory_check_failed",
            "inventory_check_s",
            "emails_queued",
        ):
            f[key] = value
    prof = verified.get("profile")
    if prof:
        for step, data in prof["steps"].items():
            f[f"queries_{step}"] = data["queries"]
            f[f"single_{step}_ms"] = round(data["ms"], 2)
            f[f"single_{step}_cpu_ms"] = round(data["cpu_ms"], 2)
        f["single_checkout_ms"] = round(prof["checkout_wall_ms"], 1)
        f["single_one_click_ms"] = round(prof["one_click_wall_ms"], 1)
        for flow in ("checkout", "one_click"):
            areas = dict(prof[f"{flow}_areas"])
            total = sum(areas.values()) or 1.0
            for key, area in (("orm", "Django ORM"), ("psycopg", "psycopg"), ("stripe", "stripe client")):
                share = sum(ms for name, ms in areas.items() if name.startswith(area)) / total
                f[f"single_{flow}_{key}_share"] = round(share, 3)
    return f


def _problems(f: dict) -> list[str]:
    out = []
    for prefix in ("checkout", "one_click", "localstripe_intent"):
        if f[f"{prefix}_errors_5xx"]:
            out.append(f"{prefix}: {f[f'{prefix}_errors_5xx']} answers with a 5xx status")
        if f[f"{prefix}_errors_4xx"] + f[f"{prefix}_errors_other"]:
            out.append(f"{prefix}: {f[f'{prefix}_errors_4xx'] + f[f'{prefix}_errors_other']} other failed flows")
    if f.get("db_checkouts_web_placed") != f["checkouts_done"]:
        out.append(
            f"placed web checkouts in the database {f.get('db_checkouts_web_placed')} != {f['checkouts_done']} done"
        )
    if f.get("db_orders_web_confirmed") != f["checkout_orders_done"]:
        out.append(f"web orders in the database {f.get('db_orders_web_confirmed')} != {f['checkout_orders_done']}")
    if f.get("db_checkouts_one_click_placed") != f["one_click_done"]:
        out.append(f"placed 1-Click checkouts {f.get('db_checkouts_one_click_placed')} != {f['one_click_done']} done")
    if f.get("db_units_ordered") != f.get("db_units_sold_ledger"):
        out.append(
            f"units ordered {f.get('db_units_ordered')} != units the ledger sold {f.get('db_units_sold_ledger')}"
        )
    if f.get("drift_items") or f.get("inventory_check_failed"):
        out.append(f"inventory_check: {f.get('drift_items')} drifted items")
    if f.get("db_reserved_units_left") or f.get("db_negative_on_hand_items"):
        out.append("stock left reserved, or on hand below zero")
    return out


def _print_summary(f: dict, phases: dict, verified: dict) -> None:
    target = TARGET_ORDERS_PER_S
    print("\nSummary:", flush=True)
    print(
        f"  checkouts (cart -> placed, pay on pickup): {f['checkout_per_s']:.1f}/s = {f['checkout_orders_per_s']:.1f} "
        f"orders/s ({f['checkout_orders_over_target']:.0%} of the {target:.0f}/s aim)"
    )
    print(f"  1-Click orders: {f['one_click_per_s']:.1f}/s ({f['one_click_over_target']:.0%} of the aim)")
    print(f"  localstripe alone: {f['localstripe_intents_per_s']:.1f} PaymentIntents (create + confirm)/s")
    print(f"  hello (bare Django): {f['hello_rps']:.0f} req/s")
    print(
        f"  CPU per checkout: gunicorn {f['checkout_gunicorn_cpu_ms_each']:.1f} ms, PostgreSQL "
        f"{f['checkout_postgres_cpu_ms_each']:.1f} ms; per 1-Click: gunicorn {f['one_click_gunicorn_cpu_ms_each']:.1f} ms, "
        f"PostgreSQL {f['one_click_postgres_cpu_ms_each']:.1f} ms, localstripe {f['one_click_localstripe_cpu_ms_each']:.1f} ms"
    )
    print(
        f"  database: {f.get('db_checkouts_web_placed')} web checkouts placed ({f.get('db_orders_web_confirmed')} orders), "
        f"{f.get('db_checkouts_one_click_placed')} 1-Click placed, {f.get('db_units_ordered')} units ordered = "
        f"{f.get('db_units_sold_ledger')} sold in the ledger; drift {f.get('drift_items')}; emails queued "
        f"{f.get('emails_queued')}"
    )
    prof = verified.get("profile")
    if not prof:
        return
    print("  One process, no contention (median per request):")
    for step, data in prof["steps"].items():
        print(
            f"      {step:15} {data['queries']:5.0f} queries  {data['ms']:7.1f} ms wall  {data['cpu_ms']:7.1f} ms CPU"
        )
    for flow in ("checkout", "one_click"):
        areas = prof[f"{flow}_areas"]
        total = sum(ms for _area, ms in areas) or 1.0
        print(
            f"  Where one {flow.replace('_', '-')} flow's time goes ({prof[f'{flow}_wall_ms']:.1f} ms wall without "
            "the profiler; share of the self time under cProfile, by area):"
        )
        for area, ms in areas[:8]:
            print(f"      {ms / total:6.1%}  {area}")
        print("    slowest LocalBazaar functions (cumulative ms per flow under cProfile, which about doubles them):")
        for seconds, calls, name in prof[f"{flow}_top_apps"][:10]:
            print(f"      {seconds * 1000 / prof['rounds']:7.2f} ms  {calls:6d} calls  {name}")
    if verified.get("queries_file"):
        print(f"  SQL of one request of each step: {verified['queries_file']}")

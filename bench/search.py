"""Search throughput: 200 realistic queries over 100,000 products, against bare Django.

One run builds (once; later runs reuse it) the PostgreSQL database ``localbazaar_search_bench``
with 2,000 shops spread over Singapore and 100,000 products (``_search_dataset.py``), migrates it
and collects the static files, then starts two gunicorns with the same worker configuration on
127.0.0.1 — the project (``localbazaar.settings.production``) and ``_hello_app`` — and drives with
wrk, each after a short warm-up:

- ``search``: 200 query URLs (single words, two words, typos; half of them from buyers who set a
  location, i.e. with a session cookie), cycled by ``_wrk_urls.py``'s Lua script;
- ``product_page``: one product page;
- ``category``: a category listing (``catalog:category``) when the site has one, else a shop page
  (then the keys are ``shop_page_*``);
- ``hello``: bare Django, the yardstick.

Both servers are stopped at the end, error or not.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from urllib.parse import urlencode

from _common import (
    BENCH_DIR,
    LOOPBACK,
    PROJECT_DIR,
    Gunicorn,
    env_float,
    env_int,
    require_wrk,
    run_checked,
    tail,
    wrk,
)
from _search_dataset import queries
from _wrk_urls import wrk_urls
from web import check_endpoint, check_redis, ensure_database, hello_env, site_env

DATABASE_URL = os.environ.get(
    "BENCH_SEARCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_search_bench"
)
# Buyers' locations for the queries that have one: postcodes across the island.
POSTCODES = ["168898", "238823", "529510", "738099", "609961", "469001", "569933", "828761"]


def build_dataset(env: dict[str, str]) -> dict:
    """Run _search_dataset.py with the site's environment, showing its progress; return its DATASET line."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "_search_dataset.py")],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    dataset, output = None, []
    for line in proc.stdout:
        output.append(line)
        if line.startswith("DATASET "):
            dataset = json.loads(line.removeprefix("DATASET "))
        else:
            print(line, end="", flush=True)
    if proc.wait(timeout=900) != 0 or dataset is None:
        print("".join(output[-60:]), file=sys.stderr)
        raise RuntimeError(f"building the search data set failed (exit {proc.returncode})")
    print(f"  data set: ok ({time.monotonic() - started:.1f} s)", flush=True)
    return dataset


def location_cookie(port: int, search_path: str, location_path: str, postcode: str) -> str:
    """A session with a buyer location, set through the search page's own form (CSRF and all)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request("GET", search_path)
        page = conn.getresponse()
        body = page.read().decode()
        csrf_cookie = _cookie(page, "csrftoken")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if not (csrf_cookie and token):
            raise RuntimeError(f"GET {search_path} gave no CSRF token (status {page.status})")
        form = urlencode({"csrfmiddlewaretoken": token.group(1), "postcode": postcode, "next": search_path})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}"}
        conn.request("POST", location_path, body=form, headers=headers)
        answer = conn.getresponse()
        answer.read()
        session = _cookie(answer, "sessionid")
        if answer.status != 302 or not session:
            raise RuntimeError(f"POST {location_path} (postcode {postcode}) answered {answer.status} without a session")
        return f"sessionid={session}"
    finally:
        conn.close()


def _cookie(response: http.client.HTTPResponse, name: str) -> str | None:
    for header in response.headers.get_all("Set-Cookie") or []:
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    return None


def check_search_urls(port: int, requests: list[tuple[str, str | None]]) -> None:
    """Every search URL answers 200 once (this also warms the workers up)."""
    bad = []
    for path, cookie in requests:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                bad.append(f"{response.status} {path}")
        finally:
            conn.close()
    if bad:
        raise RuntimeError(f"{len(bad)} search URL(s) did not answer 200: {bad[:5]}")
    print(f"  GET each of the {len(requests)} search URLs: 200", flush=True)


def run() -> dict[str, float]:
    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    connections = env_int("BENCH_CONNECTIONS", 32)
    wrk_threads = env_int("BENCH_WRK_THREADS", 2)
    workers = env_int("BENCH_WORKERS", 3)
    threads = env_int("BENCH_THREADS", 1)
    worker_class = "gthread" if threads > 1 else "sync"
    require_wrk()

    print("Preparing the site (production settings, PostgreSQL, Redis) and the search data set:", flush=True)
    ensure_database(DATABASE_URL)
    env = site_env()
    env["DATABASE_URL"] = DATABASE_URL
    check_redis(env["REDIS_URL"])
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    run_checked([*manage, "migrate", "--noinput"], env, "migrate")
    dataset = build_dataset(env)
    run_checked([*manage, "collectstatic", "--noinput"], env, "collectstatic")

    listing_key = "category" if dataset["listing_kind"] == "category" else "shop_page"
    figures: dict[str, float] = {}
    with ExitStack() as stack:
        config = {"workers": workers, "threads": threads, "worker_class": worker_class}
        site = stack.enter_context(Gunicorn(name="search", app="localbazaar.wsgi:application", env=env, **config))
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

        cookies = [location_cookie(site.port, dataset["search_path"], dataset["location_path"], p) for p in POSTCODES]
        search_requests = [
            (f"{dataset['search_path']}?{urlencode({'q': q})}", cookies[i // 2 % len(cookies)] if i % 2 else None)
            for i, q in enumerate(queries())
        ]
        check_search_urls(site.port, search_requests)
        check_endpoint(site, dataset["product_path"])
        check_endpoint(site, dataset["listing_path"])
        check_endpoint(hello, "/")

        print(
            f"Load: wrk {wrk_threads} threads, {connections} connections, {warmup:g} s warm-up + "
            f"{duration:g} s per endpoint; {len(search_requests)} search URLs, "
            f"{sum(1 for _, c in search_requests if c)} of them with a buyer location",
            flush=True,
        )
        plan = [
            ("search", site, lambda d: wrk_urls(site.port, search_requests, d, connections, wrk_threads)),
            (
                "product_page",
                site,
                lambda d: wrk(site.port, dataset["product_path"], d, connections, wrk_threads),
            ),
            (listing_key, site, lambda d: wrk(site.port, dataset["listing_path"], d, connections, wrk_threads)),
            ("hello", hello, lambda d: wrk(hello.port, "/", d, connections, wrk_threads)),
        ]
        for prefix, server, load in plan:
            if warmup > 0:
                load(warmup)
            result = load(duration)
            print(
                f"  {prefix:12} {result['rps']:10.1f} req/s   p50 {result['p50_ms']:7.2f} ms   "
                f"p99 {result['p99_ms']:7.2f} ms   {result['requests']} requests, "
                f"{result['status_errors']} HTTP >= 400, {result['socket_errors']} socket errors",
                flush=True,
            )
            if result["status_errors"] + result["socket_errors"]:
                print(
                    f"  WARNING: {prefix} had errors under load; {server.log_path} ends with:\n{tail(server.log_path)}"
                )
            rate_key = "search_qps" if prefix == "search" else f"{prefix}_rps"
            figures[rate_key] = round(result["rps"], 2)
            figures[f"{prefix}_p50_ms"] = round(result["p50_ms"], 3)
            figures[f"{prefix}_p90_ms"] = round(result["p90_ms"], 3)
            figures[f"{prefix}_p99_ms"] = round(result["p99_ms"], 3)
            figures[f"{prefix}_requests"] = result["requests"]
            figures[f"{prefix}_http_errors"] = result["status_errors"]
            figures[f"{prefix}_socket_errors"] = result["socket_errors"]

    hello_rps = figures["hello_rps"]
    figures["search_over_hello"] = round(figures["search_qps"] / hello_rps, 4)
    figures["product_page_over_hello"] = round(figures["product_page_rps"] / hello_rps, 4)
    figures[f"{listing_key}_over_hello"] = round(figures[f"{listing_key}_rps"] / hello_rps, 4)
    print("Against bare Django (hello):", flush=True)
    for key in ("search_qps", "product_page_rps", f"{listing_key}_rps"):
        print(f"  {key:18} {figures[key]:10.1f}  = {figures[key] / hello_rps:.3f} x hello ({hello_rps:.1f})")
    figures["products"] = dataset["products"]
    figures["search_urls"] = len(search_requests)
    figures["workers"] = workers
    figures["threads"] = threads
    figures["connections"] = connections
    figures["wrk_threads"] = wrk_threads
    figures["duration_s"] = max(1, round(duration))
    return figures

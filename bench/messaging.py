"""Messaging pages: a shop's inbox of 10,000 conversations and a conversation of 200 messages,
against bare Django, with gunicorn and wrk.

1. The database ``localbazaar_messaging_bench`` is made afresh (dropped if there), migrated with the
   production settings; ``collectstatic``.
2. ``_messaging_dataset.py prepare``: one shop, 10,000 conversations (bulk_create; realistic
   previews, a quarter unread, a tenth archived) and one conversation of 200 messages; signed-in
   sessions for the shop's manager (MFA passed) and that conversation's buyer, written directly.
3. ``_messaging_dataset.py queries``: each page's query count on a warm request, in-process.
4. gunicorn serves the site (``localbazaar.settings.production``) and ``_hello_app`` with the same
   worker configuration; each page answers 200 once with its session cookie, then wrk (32
   connections, the cookie sent by a generated Lua script) loads, after a warm-up each: the inbox
   (seller), the conversation page (seller), the same conversation as its buyer sees it, and hello.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from contextlib import ExitStack

from _common import (
    BENCH_DIR,
    LOOPBACK,
    PROJECT_DIR,
    RESULTS_DIR,
    Gunicorn,
    env_float,
    env_int,
    fresh_database,
    require_wrk,
    reset_redis,
    run_checked,
    run_django_script,
    tail,
    wrk,
)
from _wrk_urls import wrk_urls
from web import hello_env
from web import site_env as web_site_env

DATABASE_URL = os.environ.get(
    "BENCH_MESSAGING_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_messaging_bench"
)
REDIS_URL = os.environ.get("BENCH_MESSAGING_REDIS_URL", "redis://127.0.0.1:6379/13")
DATASET_SCRIPT = "_messaging_dataset.py"


def site_env() -> dict[str, str]:
    env = web_site_env()
    env.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def check_page(server: Gunicorn, path: str, cookie: str | None) -> None:
    """One GET with the session: anything but 200 stops the benchmark with the server's log."""
    conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(
            f"GET {path} on gunicorn {server.name} answered {response.status} "
            f"({response.getheader('Location') or 'no redirect'}), not 200; its log ends with:\n"
            f"{tail(server.log_path)}\nBody starts: {body[:300]!r}"
        )
    print(f"  GET {path} on {server.name}: 200, {len(body):,} bytes", flush=True)


def run() -> dict[str, float]:
    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    connections = env_int("BENCH_CONNECTIONS", 32)
    wrk_threads = env_int("BENCH_WRK_THREADS", 2)
    workers = env_int("BENCH_WORKERS", 3)
    threads = env_int("BENCH_THREADS", 1)
    worker_class = "gthread" if threads > 1 else "sync"
    require_wrk()

    print("Preparing (production settings, PostgreSQL, Redis):", flush=True)
    fresh_database(DATABASE_URL)
    reset_redis(REDIS_URL)
    env = site_env()
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    run_checked([*manage, "migrate", "--noinput"], env, "migrate")
    run_checked([*manage, "collectstatic", "--noinput"], env, "collectstatic")
    dataset = run_django_script(DATASET_SCRIPT, ["prepare"], env, "DATASET", "data set")
    RESULTS_DIR.mkdir(exist_ok=True)
    dataset_path = RESULTS_DIR / "messaging-dataset.json"
    dataset_path.write_text(json.dumps(dataset))
    counts = run_django_script(DATASET_SCRIPT, ["queries", str(dataset_path)], env, "QUERIES", "query counts")
    print(
        "  queries per warm request: "
        + ", ".join(f"{k.removesuffix('_queries')} {v}" for k, v in counts.items() if k.endswith("_queries")),
        flush=True,
    )

    pages = [
        ("inbox", dataset["inbox_path"], dataset["seller_cookie"]),
        ("conversation", dataset["conversation_path"], dataset["seller_cookie"]),
        ("buyer_conversation", dataset["buyer_conversation_path"], dataset["buyer_cookie"]),
    ]
    figures: dict[str, float] = {}
    with ExitStack() as stack:
        config = {"workers": workers, "threads": threads, "worker_class": worker_class}
        site = stack.enter_context(Gunicorn(name="messaging", app="localbazaar.wsgi:application", env=env, **config))
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
        for _key, path, cookie in pages:
            check_page(site, path, cookie)
        check_page(hello, "/", None)

        print(
            f"Load: wrk {wrk_threads} threads, {connections} connections, {warmup:g} s warm-up + "
            f"{duration:g} s per page; {dataset['conversations']:,} conversations in the inbox, "
            f"{dataset['thread_messages']} messages in the conversation",
            flush=True,
        )
        plan = [
            (key, site, lambda d, p=path, c=cookie: wrk_urls(site.port, [(p, c)], d, connections, wrk_threads))
            for key, path, cookie in pages
        ]
        plan.append(("hello", hello, lambda d: wrk(hello.port, "/", d, connections, wrk_threads)))
        for prefix, server, load in plan:
            if warmup > 0:
                load(warmup)
            result = load(duration)
            print(
                f"  {prefix:18} {result['rps']:10.1f} req/s   p50 {result['p50_ms']:7.2f} ms   "
                f"p99 {result['p99_ms']:7.2f} ms   {result['requests']} requests, "
                f"{result['status_errors']} HTTP >= 400, {result['socket_errors']} socket errors",
                flush=True,
            )
            if result["status_errors"] + result["socket_errors"]:
                print(
                    f"  WARNING: {prefix} had errors under load; {server.log_path} ends with:\n{tail(server.log_path)}"
                )
            figures[f"{prefix}_rps"] = round(result["rps"], 2)
            figures[f"{prefix}_p50_ms"] = round(result["p50_ms"], 3)
            figures[f"{prefix}_p99_ms"] = round(result["p99_ms"], 3)
            figures[f"{prefix}_requests"] = result["requests"]
            figures[f"{prefix}_http_errors"] = result["status_errors"]
            figures[f"{prefix}_socket_errors"] = result["socket_errors"]

    for key, _path, _cookie in pages:
        figures[f"{key}_over_hello"] = round(figures[f"{key}_rps"] / figures["hello_rps"], 4)
    figures.update(counts)
    figures["conversations"] = dataset["conversations"]
    figures["thread_messages"] = dataset["thread_messages"]
    figures["workers"] = workers
    figures["threads"] = threads
    figures["connections"] = connections
    figures["wrk_threads"] = wrk_threads
    figures["duration_s"] = max(1, round(duration))
    return figures

"""Web throughput: the full site under production settings against bare Django, with gunicorn and wrk.

One run prepares a PostgreSQL database (created if missing, migrated, demo data seeded) and the
static files, starts two gunicorns with the same worker configuration on 127.0.0.1 — the project
(``localbazaar.settings.production``, PostgreSQL, Redis) and ``_hello_app`` (no apps, no
middleware, no database) — and drives ``/``, ``/healthz/live`` and the hello view with wrk, each
after a short warm-up. Both servers are stopped at the end, error or not.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _common import BENCH_DIR, PROJECT_DIR, Gunicorn, env_float, env_int, get, require_wrk, run_checked, tail, wrk

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

# (metric prefix, server, path): measured in this order.
ENDPOINTS = [("hello", "hello", "/"), ("healthz", "site", "/healthz/live"), ("home", "site", "/")]


def ensure_database(url: str) -> None:
    """Create the benchmark database if it is missing."""
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
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"  database {name}: exists", flush=True)
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"  database {name}: created", flush=True)


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis does not answer at {url}: {exc}") from exc


def site_env() -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "localbazaar.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "SECURE_SSL_REDIRECT": "false",
            # Demo product images go to local files, not S3.
            "MEDIA_STORAGE": "filesystem",
            "MEDIA_ROOT": str(Path(tempfile.gettempdir()) / "localbazaar-bench-media"),
        }
    )
    return env


def job_site_env(*, database_url: str, redis_url: str, name: str) -> dict[str, str]:
    """The site's environment for a benchmark that runs services in scripts (no web server): its own
    database and Redis db (the Celery broker too), emails kept in memory, its own media folder
    (``localbazaar-NAME-bench-media``), warnings only in the log."""
    env = site_env()
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "MEDIA_ROOT": str(Path(tempfile.gettempdir()) / f"localbazaar-{name}-bench-media"),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def hello_env() -> dict[str, str]:
    env = os.environ.copy()
    env["DJANGO_SETTINGS_MODULE"] = "_hello_app"
    return env


def check_endpoint(server: Gunicorn, path: str) -> None:
    """One plain GET first: anything but 200 stops the benchmark with the server's log."""
    status, body = get(server.port, path)
    if status != 200:
        raise RuntimeError(
            f"GET {path} on gunicorn {server.name} answered {status}, not 200; its log ends with:\n"
            f"{tail(server.log_path)}\nBody starts: {body[:300]!r}"
        )
    print(f"  GET {path} on {server.name}: 200, {len(body)} bytes", flush=True)


def run() -> dict[str, float]:
    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    connections = env_int("BENCH_CONNECTIONS", 32)
    wrk_threads = env_int("BENCH_WRK_THREADS", 2)
    workers = env_int("BENCH_WORKERS", 3)
    threads = env_int("BENCH_THREADS", 1)
    worker_class = "gthread" if threads > 1 else "sync"
    require_wrk()

    print("Preparing the site (production settings, PostgreSQL, Redis):", flush=True)
    ensure_database(DATABASE_URL)
    check_redis(REDIS_URL)
    env = site_env()
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    run_checked([*manage, "migrate", "--noinput"], env, "migrate")
    run_checked([*manage, "seed_demo"], env, "seed_demo")
    run_checked([*manage, "collectstatic", "--noinput"], env, "collectstatic")

    figures: dict[str, float] = {}
    with ExitStack() as stack:
        config = {"workers": workers, "threads": threads, "worker_class": worker_class}
        servers = {
            "site": stack.enter_context(Gunicorn(name="web", app="localbazaar.wsgi:application", env=env, **config)),
            "hello": stack.enter_context(
                Gunicorn(
                    name="hello",
                    app="_hello_app:application",
                    env=hello_env(),
                    extra_args=["--pythonpath", str(BENCH_DIR)],
                    **config,
                )
            ),
        }
        servers["site"].wait_ready("/healthz/live")
        servers["hello"].wait_ready("/")
        for _prefix, server, path in ENDPOINTS:
            check_endpoint(servers[server], path)

        print(
            f"Load: wrk {wrk_threads} threads, {connections} connections, {warmup:g} s warm-up + "
            f"{duration:g} s per endpoint",
            flush=True,
        )
        for prefix, server_key, path in ENDPOINTS:
            server = servers[server_key]
            if warmup > 0:
                wrk(server.port, path, warmup, connections, wrk_threads)
            result = wrk(server.port, path, duration, connections, wrk_threads)
            errors = result["status_errors"] + result["socket_errors"]
            print(
                f"  {prefix:8} {path:14} {result['rps']:10.1f} req/s   p50 {result['p50_ms']:7.2f} ms   "
                f"p99 {result['p99_ms']:7.2f} ms   {result['requests']} requests, "
                f"{result['status_errors']} HTTP >= 400, {result['socket_errors']} socket errors",
                flush=True,
            )
            if errors:
                print(
                    f"  WARNING: {prefix} had errors under load; {server.log_path} ends with:\n{tail(server.log_path)}"
                )
            figures[f"{prefix}_rps"] = round(result["rps"], 2)
            figures[f"{prefix}_p50_ms"] = round(result["p50_ms"], 3)
            figures[f"{prefix}_p99_ms"] = round(result["p99_ms"], 3)
            figures[f"{prefix}_requests"] = result["requests"]
            figures[f"{prefix}_http_errors"] = result["status_errors"]
            figures[f"{prefix}_socket_errors"] = result["socket_errors"]

    figures["home_over_hello"] = round(figures["home_rps"] / figures["hello_rps"], 4)
    figures["healthz_over_hello"] = round(figures["healthz_rps"] / figures["hello_rps"], 4)
    figures["workers"] = workers
    figures["threads"] = threads
    figures["connections"] = connections
    figures["wrk_threads"] = wrk_threads
    figures["duration_s"] = max(1, round(duration))
    return figures

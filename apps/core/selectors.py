"""Core reads: readiness checks for the load balancer."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


_migrations_seen_applied: set[str] = set()


def check_database(alias: str = DEFAULT_DB_ALIAS) -> CheckResult:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return CheckResult("database", False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return CheckResult("database", True, "ok")


def check_redis() -> CheckResult:
    url = settings.REDIS_URL
    if not url:
        return CheckResult("redis", True, "not configured (tasks run in process)")
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:
        return CheckResult("redis", False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return CheckResult("redis", True, "ok")


def check_migrations(alias: str = DEFAULT_DB_ALIAS) -> CheckResult:
    # Once seen fully applied, a process's code cannot gain new migrations: skip the costly check.
    if alias in _migrations_seen_applied:
        return CheckResult("migrations", True, "ok")
    try:
        connection = connections[alias]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return CheckResult("migrations", False, f"{type(exc).__name__}: {exc}".strip()[:300])
    if plan:
        pending = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:5])
        return CheckResult("migrations", False, f"{len(plan)} unapplied: {pending}")
    _migrations_seen_applied.add(alias)
    return CheckResult("migrations", True, "ok")


def readiness_checks() -> list[CheckResult]:
    """Database, Redis and migrations; a failed database check skips the migration check."""
    database = check_database()
    results = [database, check_redis()]
    if database.ok:
        results.append(check_migrations())
    else:
        results.append(CheckResult("migrations", False, "skipped: database unreachable"))
    return results

"""A real ``celery worker`` process for tests: its own queue, the test database and shared cache."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from localbazaar.celery import app as celery_app


def require_redis() -> None:
    if not settings.REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs Redis for the worker tests")
        pytest.skip("no REDIS_URL: the real-worker tests need Redis")


def database_url_for_worker() -> str:
    """The URL of the database this test run uses, for a worker that must read and write it."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker sharing the test database needs PostgreSQL")
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return f"postgresql://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@contextlib.contextmanager
def celery_worker_process(log_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """Start ``celery worker`` consuming a queue unique to this run; yields (queue, log path)."""
    require_redis()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    log_path = log_dir / f"worker-{queue}.log"
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "localbazaar.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "TEST_SHARED_CACHE": "1",
        **(env or {}),
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "localbazaar", "worker", "-Q", queue, "-P", "solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=settings.BASE_DIR, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield queue, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def tasks_sent_to(queue: str) -> Iterator[None]:
    """Tasks enqueued in this block go through the broker to ``queue`` instead of running here."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous

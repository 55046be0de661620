"""Tasks through a real Celery worker process on Redis: enqueued only after commit, never after a
rollback, and carrying the request id of whoever enqueued them."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from apps.core.request_context import reset_request_id, set_request_id
from apps.core.tasks import HEARTBEAT_CACHE_KEY, worker_heartbeat
from localbazaar.celery import app as celery_app

from .worker import celery_worker_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def worker_queue(tmp_path_factory):
    """Start `celery worker` in its own process, consuming a queue unique to this test run."""
    with celery_worker_process(tmp_path_factory.mktemp("worker")) as (queue, log_path):
        yield queue, log_path


@pytest.fixture
def shared_cache():
    return RedisCache(settings.REDIS_URL, {"KEY_PREFIX": "lbtest"})


@pytest.fixture
def real_broker():
    """This process sends to the broker instead of running tasks in process."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = previous


def _wait_for(cache, token, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = cache.get(f"{HEARTBEAT_CACHE_KEY}:{token}")
        if record:
            return record
        time.sleep(0.1)
    return None


def test_task_enqueued_in_a_transaction_runs_only_after_commit(worker_queue, shared_cache, real_broker):
    queue, log_path = worker_queue
    token = uuid.uuid4().hex
    with transaction.atomic():
        transaction.on_commit(lambda: worker_heartbeat.apply_async(kwargs={"token": token}, queue=queue))
        time.sleep(1.5)  # a worker would have run it by now had it been sent before commit
        assert shared_cache.get(f"{HEARTBEAT_CACHE_KEY}:{token}") is None
    record = _wait_for(shared_cache, token)
    assert record is not None, log_path.read_text()[-3000:]
    assert record["token"] == token


def test_task_enqueued_in_a_rolled_back_transaction_never_runs(worker_queue, shared_cache, real_broker):
    queue, log_path = worker_queue
    lost, control = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(RuntimeError), transaction.atomic():
        transaction.on_commit(lambda: worker_heartbeat.apply_async(kwargs={"token": lost}, queue=queue))
        raise RuntimeError("checkout failed")
    # A task sent afterwards runs; the worker consumes in order, so the lost one would be done too.
    with transaction.atomic():
        transaction.on_commit(lambda: worker_heartbeat.apply_async(kwargs={"token": control}, queue=queue))
    assert _wait_for(shared_cache, control) is not None, log_path.read_text()[-3000:]
    time.sleep(1.0)
    assert shared_cache.get(f"{HEARTBEAT_CACHE_KEY}:{lost}") is None


def test_request_id_reaches_the_task_in_the_worker(worker_queue, shared_cache, real_broker):
    queue, log_path = worker_queue
    token = uuid.uuid4().hex
    ctx = set_request_id("req-from-web-42")
    try:
        worker_heartbeat.apply_async(kwargs={"token": token}, queue=queue)
    finally:
        reset_request_id(ctx)
    record = _wait_for(shared_cache, token)
    assert record is not None, log_path.read_text()[-3000:]
    assert record["request_id"] == "req-from-web-42"
    assert "req-from-web-42" in log_path.read_text()

"""The order pipeline through real Celery workers on Redis: a step that keeps failing is retried with
backoff and dead-lettered, and a worker killed (SIGKILL) in the middle of a step loses nothing and
does nothing twice: another worker completes the order exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.tests.worker import database_url_for_worker, require_redis, tasks_sent_to
from apps.inventory.models import StockItem, StockMovement
from apps.orders.models import Order, OrderEvent, OrderIntake
from apps.orders.services_intake import STEPS, intake_repush, intake_submit
from apps.payments.models import Payment
from apps.shops.tests.factories import ShopFactory

from .factories import stocked_variant

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

Status = OrderIntake.Status


@contextlib.contextmanager
def worker_process(log_path: Path, *, queue: str, env: dict[str, str]):
    """A ``celery worker`` (solo pool) consuming ``queue``, in its own process group; yields the
    Popen. Stopped (SIGTERM) on exit unless the test killed it."""
    require_redis()
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "localbazaar.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "TEST_SHARED_CACHE": "1",
        "DATABASE_URL": database_url_for_worker(),
        **env,
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "localbazaar", "worker", "-Q", queue, "-P", "solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=settings.BASE_DIR, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        if not _wait(lambda: "ready." in log_path.read_text() or process.poll() is not None, 60):
            pytest.fail(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        if process.poll() is not None:
            pytest.fail(f"Celery worker stopped:\n{log_path.read_text()[-3000:]}")
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def _intake_status(pk: int) -> str:
    return OrderIntake.objects.values_list("status", flat=True).get(pk=pk)


@pytest.fixture
def tea(transactional_db):
    shop = ShopFactory(slug="kopi-corner", currency="SGD")
    return stocked_variant(shop=shop, price="12.50", units=10, title="Oolong tea", sku="TEA-001")


def order_payload(ref: str = "POS-1001") -> dict:
    return {
        "shop": "kopi-corner",
        "external_ref": ref,
        "currency": "SGD",
        "payment": "paid",
        "lines": [{"sku": "TEA-001", "quantity": 3, "unit_price": "12.50"}],
    }


def test_a_step_failing_every_time_is_retried_with_backoff_then_dead_lettered(tea, tmp_path):
    """A transient fault at payment: the worker tries 10 times with growing waits, then the intake
    is in the dead-letter queue with the step and the error (nothing of the order is left behind). Once
    the fault is gone, a re-push completes it."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    log_path = tmp_path / "worker.log"
    env = {
        "ORDER_PIPELINE_FAIL_STEP": "payment",
        "ORDER_PIPELINE_RETRY_BASE_SECONDS": "0.05",
        "ORDER_PIPELINE_RETRY_MAX_SECONDS": "0.4",
    }
    with worker_process(log_path, queue=queue, env=env), tasks_sent_to(queue):
        intake = intake_submit(payload=order_payload(), channel="pos").intake
        dead = _wait(lambda: _intake_status(intake.pk) == Status.DEAD_LETTER, 90)
    log = log_path.read_text()
    assert dead, log[-4000:]
    intake.refresh_from_db()
    assert intake.attempts == 10 and intake.step == "payment"
    assert "injected fault in step payment" in intake.last_error
    assert intake.payload == order_payload()
    assert intake.steps_done == []  # the first stage (validate … confirm) commits all or nothing
    assert log.count("step payment failed") == 10
    waits = [float(line.split("Retry in ")[1].split("s")[0]) for line in log.splitlines() if "Retry in " in line]
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]  # doubling, capped, 9 retries
    assert intake.order is None and not Order.objects.exists()  # nothing half-made is left behind
    assert StockItem.objects.get(variant=tea).on_hand == 10

    # The fault is fixed (this process has no fault hook set): re-pushed, the pipeline finishes it.
    intake_repush(intake=intake)
    intake.refresh_from_db()
    assert intake.status == Status.DONE and intake.steps_done == STEPS
    assert intake.order.status == Order.Status.PAID and Order.objects.count() == 1
    assert StockItem.objects.get(variant=tea).on_hand == 7


def test_a_worker_killed_mid_step_loses_nothing_and_another_completes_it_once(tea, tmp_path):
    """Worker 1 blocks inside the reserve step (order made and stock sold, not yet committed) and is
    SIGKILLed. Its transaction dies with it; the unacked message comes back after the visibility
    timeout and worker 2 runs the pipeline: one order, stock sold once, one payment."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    paused = tmp_path / "paused"
    env = {
        "ORDER_PIPELINE_PAUSE_STEP": "reserve",
        "ORDER_PIPELINE_PAUSE_FILE": str(paused),
        "ORDER_PIPELINE_PAUSE_SECONDS": "120",
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": "3",
    }
    with tasks_sent_to(queue):
        with worker_process(tmp_path / "worker1.log", queue=queue, env=env) as first:
            intake = intake_submit(payload=order_payload(), channel="pos").intake
            assert _wait(paused.exists, 60), (tmp_path / "worker1.log").read_text()[-4000:]
            # Mid-step: the worker holds an uncommitted order; nothing of it is visible yet.
            assert not Order.objects.exists()
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert _intake_status(intake.pk) == Status.RECEIVED  # the killed stage committed nothing
        assert OrderIntake.objects.get(pk=intake.pk).steps_done == []
        time.sleep(3.5)  # past the visibility timeout: the next worker restores the unacked message

        with worker_process(tmp_path / "worker2.log", queue=queue, env=env):
            done = _wait(lambda: _intake_status(intake.pk) == Status.DONE, 90)
        log2 = (tmp_path / "worker2.log").read_text()
    assert done, log2[-4000:]
    intake.refresh_from_db()
    assert intake.steps_done == STEPS and intake.attempts == 0
    order = Order.objects.get()
    assert intake.order == order and order.status == Order.Status.PAID
    assert StockMovement.objects.filter(kind="sale").count() == 1
    assert StockMovement.objects.get(kind="sale").reference == order.number
    assert StockItem.objects.get(variant=tea).on_hand == 7
    assert Payment.objects.count() == 1 and Payment.objects.get().reference == order.number
    assert order.events.filter(kind=OrderEvent.Kind.TRANSITION, from_status="").count() == 1

"""The nightly expiry through a real Celery worker: the task beat sends by name expires the points
past their lifetime and warns the buyer of the next ones, once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.core.tests.worker import celery_worker_process, database_url_for_worker, tasks_sent_to
from apps.loyalty.models import LedgerEntry
from localbazaar.celery import app as celery_app

from .factories import account_of, buyer, earn_available

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path, transactional_db):
    # Tasks the worker queues itself (the warning email) run in it at once: the test reads its log.
    env = {"DATABASE_URL": database_url_for_worker(), "CELERY_TASK_ALWAYS_EAGER": "true"}
    with celery_worker_process(tmp_path, env=env) as (queue, log_path):
        yield queue, log_path


def _wait(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def _beat_sends(name: str, queue: str) -> None:
    """Send the task by the name beat's schedule gives, as beat does."""
    assert any(entry["task"] == name for entry in settings.CELERY_BEAT_SCHEDULE.values())
    with tasks_sent_to(queue):
        celery_app.send_task(name, queue=queue)


def test_the_nightly_expiry_run_by_a_worker_expires_points_and_warns_once(worker, settings):
    queue, log_path = worker
    settings.LOYALTY_FIRST_PURCHASE_BONUS = 0  # the worker's lifetime and notice period are the defaults
    now = timezone.now()
    user = buyer(email="ana@example.com")
    earn_available(user, "100.00", at=now - timedelta(days=366))  # 100 points, expired a day ago
    earn_available(user, "40.00", at=now - timedelta(days=355))  # 40 points, expiring in 10 days

    _beat_sends("loyalty.points_expire", queue)
    expired = _wait(lambda: LedgerEntry.objects.filter(account__user=user, kind=LedgerEntry.Kind.EXPIRE).first())
    assert expired is not None, log_path.read_text()[-4000:]
    assert expired.points == -100
    assert _wait(lambda: "1 buyers warned" in log_path.read_text()), log_path.read_text()[-4000:]
    log = log_path.read_text()
    assert "loyalty expiry: 100 points expired on 1 accounts, 1 buyers warned" in log
    assert "email '40 of your points expire soon' sent to 1 recipient(s)" in log
    account = account_of(user)
    assert account.balance == 40
    assert account.expiry_notified_until == now - timedelta(days=355) + timedelta(days=365)

    # The next night (or a second beat): nothing more expires, no second warning.
    _beat_sends("loyalty.points_expire", queue)
    assert _wait(lambda: log_path.read_text().count("task loyalty.points_expire started") == 2)
    assert _wait(lambda: "0 points expired on 0 accounts, 0 buyers warned" in log_path.read_text())
    assert log_path.read_text().count("of your points expire soon' sent") == 1
    assert account_of(user).balance == 40

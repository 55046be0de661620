"""Warning notifications through a real Celery worker: the warnings webhook that fails is retried
with backoff until it answers, the email goes once, and the warning records when it was sent."""

from __future__ import annotations

import time

import pytest

from apps.core.tests.worker import celery_worker_process, database_url_for_worker, tasks_sent_to
from apps.inventory.tests.webhook_server import WebhookReceiver
from apps.orders.models import OrderWarning
from apps.orders.services_warnings import warning_raise

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path, transactional_db):
    with WebhookReceiver(statuses=[500, 502]) as receiver:
        env = {
            "DATABASE_URL": database_url_for_worker(),
            "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
            "ORDER_WARNING_WEBHOOK_URL": receiver.url,
            "ORDER_WARNING_EMAILS": "ops@localbazaar.test",
        }
        with celery_worker_process(tmp_path, env=env) as (queue, log_path):
            yield queue, log_path, receiver


def _wait(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def test_a_failing_warnings_webhook_is_retried_by_the_worker_until_it_answers(worker):
    queue, log_path, receiver = worker
    with tasks_sent_to(queue):
        warning, created = warning_raise(
            kind=OrderWarning.Kind.PAYMENT_FAILURES, key="payment_failures:worker", message="Many card payments failed"
        )
    assert created

    assert _wait(lambda: len(receiver.received) >= 3), log_path.read_text()[-4000:]
    assert _wait(lambda: "'already notified; posted'" in log_path.read_text()), log_path.read_text()[-4000:]
    log = log_path.read_text()
    assert log.count("task orders.warning_notify started") == 3
    assert log.count("webhook failed (attempt") == 2 and "HTTP 502" in log
    assert [post["json"]["localbazaar"]["key"] for post in receiver.received] == ["payment_failures:worker"] * 3
    # The first run emailed and recorded it; the two retries only posted.
    warning.refresh_from_db()
    assert warning.notified_at is not None

"""Alert webhooks through a real Celery worker: a failing webhook is retried with backoff and
recorded, and the sale that raised the alert is never held up or undone."""

from __future__ import annotations

import time

import pytest

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.core.tests.worker import celery_worker_process, database_url_for_worker, tasks_sent_to
from apps.inventory.alerts import inventory_settings_update
from apps.inventory.models import InventoryAlert, StockItem
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    stock_item_threshold_set,
    stock_receive,
    stock_reserve,
)
from apps.inventory.tasks import WEBHOOK_MAX_RETRIES
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .webhook_server import WebhookReceiver

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

Delivery = InventoryAlert.Delivery


@pytest.fixture
def worker(tmp_path, transactional_db):
    env = {"DATABASE_URL": database_url_for_worker(), "WEBHOOK_RETRY_BASE_SECONDS": "0.1"}
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


def _sale_below_threshold(queue):
    shop = ShopFactory()
    MembershipFactory(shop=shop, role="inventory_manager")
    variant = VariantFactory(product=ProductFactory(shop=shop))
    stock_receive(variant=variant, quantity=3)
    stock_item_threshold_set(item=StockItem.objects.get(variant=variant), low_stock_threshold=2)
    return shop, variant


def test_a_failing_webhook_is_retried_by_the_worker_until_it_answers(worker):
    queue, log_path = worker
    with WebhookReceiver(statuses=[500, 502, 503]) as receiver, tasks_sent_to(queue):
        shop, variant = _sale_below_threshold(queue)
        inventory_settings_update(shop=shop, email_alerts=True, webhook_url=receiver.url)
        stock_reserve(shop=shop, reference="O-1", lines=[LineRequest(variant.pk, 2)])
        reservation_commit(reference="O-1")
        assert StockItem.objects.get(variant=variant).on_hand == 1  # sold at once, whatever the webhook does

        alert = _wait(lambda: InventoryAlert.objects.filter(shop=shop, webhook_status=Delivery.SENT).first())
    assert alert is not None, log_path.read_text()[-4000:]
    assert alert.webhook_attempts == 4 and alert.webhook_last_error == ""
    assert len(receiver.received) == 4
    assert alert.email_status == Delivery.SENT
    log = log_path.read_text()
    assert log.count("webhook for shop") == 3 and "HTTP 502" in log


def test_a_webhook_that_never_answers_is_marked_failed_after_the_last_retry(worker):
    queue, log_path = worker
    with WebhookReceiver(statuses=[500] * 50) as receiver, tasks_sent_to(queue):
        shop, variant = _sale_below_threshold(queue)
        inventory_settings_update(shop=shop, email_alerts=True, webhook_url=receiver.url)
        stock_reserve(shop=shop, reference="O-1", lines=[LineRequest(variant.pk, 2)])
        reservation_commit(reference="O-1")

        alert = _wait(lambda: InventoryAlert.objects.filter(shop=shop, webhook_status=Delivery.FAILED).first())
    assert alert is not None, log_path.read_text()[-4000:]
    assert alert.webhook_attempts == WEBHOOK_MAX_RETRIES + 1 == len(receiver.received)
    assert alert.webhook_last_error == "HTTP 500 Internal Server Error"
    assert StockItem.objects.get(variant=variant).on_hand == 1

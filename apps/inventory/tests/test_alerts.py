"""Low-stock alerts: one per crossing, after commit, by email to the stock handlers and to a
Slack-compatible webhook that is retried and logged when it fails, without holding up the sale."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.core.webhooks import WebhookError, webhook_post_json, webhook_url_validate
from apps.inventory.alerts import alert_webhook_deliver, inventory_settings_update
from apps.inventory.errors import StockError
from apps.inventory.models import InventoryAlert, StockItem
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    stock_item_threshold_set,
    stock_receive,
    stock_reserve,
)
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .webhook_server import WebhookReceiver

pytestmark = pytest.mark.django_db

Delivery = InventoryAlert.Delivery


@pytest.fixture
def shop():
    shop = ShopFactory(name="Batik House")
    MembershipFactory(shop=shop, role="owner", user__email="owner@batik.test")
    MembershipFactory(shop=shop, role="inventory_manager", user__email="stock@batik.test")
    MembershipFactory(shop=shop, role="warehouse_staff", user__email="shelves@batik.test")
    MembershipFactory(shop=shop, role="manager", user__email="manager@batik.test")
    return shop


@pytest.fixture
def sarong(shop):
    return VariantFactory(product=ProductFactory(shop=shop, title="Indigo sarong"), sku="SAR-M")


def _sell(variant, units: int, reference: str, callbacks) -> None:
    with callbacks(execute=True):
        stock_reserve(shop=variant.shop, reference=reference, lines=[LineRequest(variant.pk, units)])
        reservation_commit(reference=reference)


def _stocked(variant, units: int, threshold: int, callbacks) -> StockItem:
    with callbacks(execute=True):
        stock_receive(variant=variant, quantity=units)
        item = StockItem.objects.get(variant=variant)
        stock_item_threshold_set(item=item, low_stock_threshold=threshold)
    return item


def test_one_alert_per_fall_below_the_threshold_not_one_per_sale(sarong, django_capture_on_commit_callbacks):
    _stocked(sarong, 10, threshold=5, callbacks=django_capture_on_commit_callbacks)
    assert not InventoryAlert.objects.exists()

    _sell(sarong, 5, "O-1", django_capture_on_commit_callbacks)  # 5 left: not below 5
    assert not InventoryAlert.objects.exists()
    _sell(sarong, 1, "O-2", django_capture_on_commit_callbacks)  # 4 left: crosses
    _sell(sarong, 1, "O-3", django_capture_on_commit_callbacks)
    _sell(sarong, 2, "O-4", django_capture_on_commit_callbacks)
    assert InventoryAlert.objects.filter(kind="low_stock").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        stock_receive(variant=sarong, quantity=20)  # back above: the mark clears
    assert StockItem.objects.get(variant=sarong).low_stock_alerted_at is None
    _sell(sarong, 19, "O-5", django_capture_on_commit_callbacks)  # 2 left: a new crossing
    alerts = list(InventoryAlert.objects.filter(kind="low_stock").order_by("pk"))
    assert len(alerts) == 2
    assert "Indigo sarong" in alerts[1].subject and "SAR-M" in alerts[1].subject
    assert "down to 2 available" in alerts[1].body


def test_alert_email_goes_to_the_stock_handlers(sarong, django_capture_on_commit_callbacks):
    _stocked(sarong, 3, threshold=2, callbacks=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    _sell(sarong, 2, "O-1", django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["shelves@batik.test", "stock@batik.test"]
    assert message.subject.startswith("[Batik House] Low stock: Indigo sarong")
    alert = InventoryAlert.objects.get()
    assert alert.email_status == Delivery.SENT
    assert alert.webhook_status == Delivery.SKIPPED  # no webhook configured


def test_a_shop_without_stock_staff_alerts_its_owners(django_capture_on_commit_callbacks):
    shop = ShopFactory()
    MembershipFactory(shop=shop, role="owner", user__email="solo@shop.test")
    variant = VariantFactory(product=ProductFactory(shop=shop))
    _stocked(variant, 1, threshold=5, callbacks=django_capture_on_commit_callbacks)  # raising it alerts now

    assert [m.to for m in mail.outbox] == [["solo@shop.test"]]


def test_email_alerts_can_be_turned_off(sarong, django_capture_on_commit_callbacks):
    inventory_settings_update(shop=sarong.shop, email_alerts=False, webhook_url="")
    _stocked(sarong, 1, threshold=5, callbacks=django_capture_on_commit_callbacks)

    assert mail.outbox == []
    assert InventoryAlert.objects.get().email_status == Delivery.SKIPPED


def test_nothing_is_raised_when_the_sale_rolls_back(sarong, django_capture_on_commit_callbacks):
    _stocked(sarong, 3, threshold=2, callbacks=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        stock_reserve(shop=sarong.shop, reference="O-1", lines=[LineRequest(sarong.pk, 2)])
        reservation_commit(reference="O-1")
        raise RuntimeError("payment step failed")
    assert callbacks == []
    assert not InventoryAlert.objects.exists()
    assert mail.outbox == []
    assert StockItem.objects.get(variant=sarong).low_stock_alerted_at is None


def test_webhook_receives_a_slack_compatible_message(sarong, django_capture_on_commit_callbacks):
    with WebhookReceiver() as receiver:
        inventory_settings_update(shop=sarong.shop, email_alerts=True, webhook_url=receiver.url)
        _stocked(sarong, 3, threshold=2, callbacks=django_capture_on_commit_callbacks)
        _sell(sarong, 2, "O-1", django_capture_on_commit_callbacks)

    assert len(receiver.received) == 1
    payload = receiver.received[0]["json"]
    assert payload["text"].startswith("Low stock: Indigo sarong")
    assert payload["blocks"][0]["type"] == "section"
    assert "Receive stock or change the threshold: http" in payload["blocks"][0]["text"]["text"]
    assert payload["localbazaar"]["kind"] == "low_stock"
    assert receiver.received[0]["headers"]["Content-Type"] == "application/json"
    alert = InventoryAlert.objects.get()
    assert (alert.webhook_status, alert.webhook_attempts) == (Delivery.SENT, 1)


def test_each_failed_webhook_attempt_is_recorded_and_logged_and_the_last_marks_it_failed(sarong, caplog):
    """The task retries (see test_alerts_worker for the real worker); each attempt goes through
    this service, which records it, logs it and raises so the task tries again."""
    with WebhookReceiver(statuses=[500, 500]) as receiver:
        inventory_settings_update(shop=sarong.shop, email_alerts=True, webhook_url=receiver.url)
        item = _stocked(sarong, 1, threshold=0, callbacks=lambda execute: transaction.atomic())
        alert = InventoryAlert.objects.create(shop=sarong.shop, kind="low_stock", item=item, subject="s", body="b")
        with caplog.at_level(logging.WARNING), pytest.raises(WebhookError, match="HTTP 500"):
            alert_webhook_deliver(alert_id=alert.pk, final_attempt=False)
        alert.refresh_from_db()
        assert (alert.webhook_status, alert.webhook_attempts) == (Delivery.PENDING, 1)
        assert "failed (attempt 1): HTTP 500" in caplog.text

        with pytest.raises(WebhookError):
            alert_webhook_deliver(alert_id=alert.pk, final_attempt=True)
        alert.refresh_from_db()
        assert (alert.webhook_status, alert.webhook_attempts) == (Delivery.FAILED, 2)
        assert alert.webhook_last_error == "HTTP 500 Internal Server Error"

        # Sent alerts are never posted twice (a retried message after success).
        InventoryAlert.objects.filter(pk=alert.pk).update(webhook_status=Delivery.SENT)
        assert alert_webhook_deliver(alert_id=alert.pk, final_attempt=False) == Delivery.SENT
    assert len(receiver.received) == 2


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "ftp://93.184.216.34/hook",
        "https://user:secret@93.184.216.34/hook",
    ],
)
def test_webhook_urls_into_our_network_are_refused(url):
    with pytest.raises(ValidationError):
        webhook_url_validate(url)
    with pytest.raises(WebhookError, match="destination refused"):
        webhook_post_json(url, {"text": "x"})


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
def test_a_public_webhook_address_is_accepted():
    webhook_url_validate("https://93.184.216.34/services/T000/B000/XXXX")


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
def test_settings_refuse_a_private_webhook_url_with_a_clear_message(sarong):
    with pytest.raises(StockError, match="public internet address"):
        inventory_settings_update(shop=sarong.shop, email_alerts=True, webhook_url="http://192.168.1.10/hook")


def test_raising_the_threshold_above_the_stock_alerts_at_once(sarong, django_capture_on_commit_callbacks):
    _stocked(sarong, 4, threshold=0, callbacks=django_capture_on_commit_callbacks)
    assert not InventoryAlert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        stock_item_threshold_set(item=StockItem.objects.get(variant=sarong), low_stock_threshold=10)
    assert InventoryAlert.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        stock_item_threshold_set(item=StockItem.objects.get(variant=sarong), low_stock_threshold=0)
    assert StockItem.objects.get(variant=sarong).low_stock_alerted_at is None

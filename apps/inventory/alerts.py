"""Inventory alerts: low stock and anomalies, raised once and delivered by Celery after commit.

Raising an alert writes an :class:`InventoryAlert` row in the caller's transaction and queues its
delivery for after the commit, so a rolled-back sale raises nothing and a slow or failing webhook
never holds up a sale. Delivery (tasks ``alert_email`` and ``alert_webhook``) emails the shop's inventory people and posts
a Slack-compatible message to the shop's webhook URL; the webhook is retried with backoff by the
task and every attempt is recorded on the row.

Low stock is raised once per crossing: when an item's available stock falls below its threshold
the item is marked (``low_stock_alerted_at``) and alerted; further sales raise nothing until the
available stock is back at the threshold, which clears the mark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.services import email_send
from apps.core.tasks_base import enqueue_on_commit
from apps.core.webhooks import WebhookError, webhook_post_json, webhook_url_validate
from apps.shops.models import Membership
from apps.shops.permissions import Perm, Role, role_allows

from .errors import StockError
from .models import InventoryAlert, InventorySettings, StockItem

if TYPE_CHECKING:
    from .models import StockAnomaly

logger = logging.getLogger(__name__)

Delivery = InventoryAlert.Delivery
WEBHOOK_ERROR_MAX_LENGTH = InventoryAlert._meta.get_field("webhook_last_error").max_length


def _queue(alert: InventoryAlert) -> None:
    from .tasks import alert_email, alert_webhook

    enqueue_on_commit(alert_email, alert_id=alert.pk)
    enqueue_on_commit(alert_webhook, alert_id=alert.pk)


def _item_url(item: StockItem) -> str:
    path = reverse("inventory_seller:item", kwargs={"shop_slug": item.shop.slug, "item_id": item.pk})
    return f"{settings.SITE_URL}{path}"


def low_stock_evaluate(items: Iterable[StockItem], *, now=None) -> list[InventoryAlert]:
    """Mark and alert the (locked, just changed) items that fell below their threshold, and clear
    the mark of those back at or above it. Changes the items in memory: the caller saves
    ``low_stock_alerted_at`` with their levels."""
    now = now or timezone.now()
    alerts = []
    for item in items:
        available = item.on_hand - item.reserved
        low = item.low_stock_threshold > 0 and available < item.low_stock_threshold
        if low and item.low_stock_alerted_at is None:
            item.low_stock_alerted_at = now
            alerts.append(_low_stock_alert(item, available=available))
        elif not low and item.low_stock_alerted_at is not None:
            item.low_stock_alerted_at = None
    if alerts:
        InventoryAlert.objects.bulk_create(alerts)
        for alert in alerts:
            _queue(alert)
    return alerts


def _low_stock_alert(item: StockItem, *, available: int) -> InventoryAlert:
    name = str(item.variant)
    subject = f"Low stock: {name} ({item.variant.sku}) at {item.location.name}"
    body = (
        f"{name} (SKU {item.variant.sku}) at {item.location.name} is down to {max(available, 0)} available "
        f"({item.on_hand} on hand, {item.reserved} held for checkouts); the low-stock threshold is "
        f"{item.low_stock_threshold}.\n\nReceive stock or change the threshold: {_item_url(item)}"
    )
    return InventoryAlert(
        shop_id=item.shop_id, kind=InventoryAlert.Kind.LOW_STOCK, item=item, subject=subject[:200], body=body
    )


@transaction.atomic
def alert_anomaly_raise(*, anomaly: StockAnomaly) -> InventoryAlert:
    """Alert the shop about a new anomaly (delivery is queued for after the commit)."""
    path = reverse("inventory_anomalies:detail", kwargs={"shop_slug": anomaly.shop.slug, "anomaly_id": anomaly.pk})
    alert = InventoryAlert(
        shop=anomaly.shop,
        kind=InventoryAlert.Kind.ANOMALY,
        anomaly=anomaly,
        subject=f"Unusual stock movement: {anomaly.reason}"[:200],
        body=(
            f"{anomaly.reason}\n\nScore {anomaly.score} ({anomaly.get_detector_display()}). "
            f"Review it (confirm or dismiss): {settings.SITE_URL}{path}"
        ),
    )
    alert.full_clean(exclude=["shop", "item", "anomaly"])
    alert.save()
    _queue(alert)
    return alert


def alert_recipients(*, shop_id: int) -> list[str]:
    """Who gets alert emails: the members whose role handles stock (inventory managers, warehouse
    staff); a shop without such staff sends them to its owners."""
    members = list(Membership.objects.filter(shop_id=shop_id).select_related("user").order_by("user__email"))
    handlers = [m for m in members if role_allows(m.role, Perm.STOCK_ADJUST)]
    chosen = handlers or [m for m in members if m.role == Role.OWNER]
    return sorted({m.user.email for m in chosen if m.user.is_active})


def slack_payload(alert: InventoryAlert) -> dict:
    """A message Slack incoming webhooks (and compatible tools) display: ``text`` plus one block."""
    return {
        "text": alert.subject,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{alert.subject}*\n{alert.body}"}}],
        "localbazaar": {"alert_id": alert.pk, "kind": alert.kind, "shop": alert.shop.slug},
    }


@transaction.atomic
def alert_email_deliver(*, alert_id: int) -> str:
    """Send the alert's email once (queued after commit); returns the email status."""
    alert = InventoryAlert.objects.select_for_update().select_related("shop").get(pk=alert_id)
    if alert.email_status != Delivery.PENDING:
        return alert.email_status
    config = InventorySettings.objects.filter(shop_id=alert.shop_id).first()
    recipients = alert_recipients(shop_id=alert.shop_id) if (config is None or config.email_alerts) else []
    if recipients:
        email_send(to=recipients, subject=f"[{alert.shop.name}] {alert.subject}", body=alert.body)
        alert.email_status = Delivery.SENT
    else:
        alert.email_status = Delivery.SKIPPED
    alert.save(update_fields=["email_status", "updated_at"])
    return alert.email_status


def alert_webhook_deliver(*, alert_id: int, final_attempt: bool) -> str:
    """Post the alert to the shop's webhook URL. Records the attempt; raises :class:`WebhookError`
    on failure so the task retries (the last attempt marks the alert failed instead)."""
    alert = InventoryAlert.objects.select_related("shop").get(pk=alert_id)
    if alert.webhook_status in (Delivery.SENT, Delivery.SKIPPED):
        return alert.webhook_status
    config = InventorySettings.objects.filter(shop_id=alert.shop_id).first()
    if config is None or not config.webhook_url:
        InventoryAlert.objects.filter(pk=alert.pk).update(webhook_status=Delivery.SKIPPED, updated_at=timezone.now())
        return Delivery.SKIPPED
    try:
        webhook_post_json(config.webhook_url, slack_payload(alert))
    except WebhookError as exc:
        status = Delivery.FAILED if final_attempt else Delivery.PENDING
        _webhook_attempt_record(alert.pk, status=status, error=str(exc))
        logger.warning(
            "alert %s webhook for shop %s failed (attempt %d): %s",
            alert.pk,
            alert.shop.slug,
            alert.webhook_attempts + 1,
            exc,
        )
        raise
    _webhook_attempt_record(alert.pk, status=Delivery.SENT, error="")
    return Delivery.SENT


def _webhook_attempt_record(alert_id: int, *, status: str, error: str) -> None:
    from django.db.models import F

    InventoryAlert.objects.filter(pk=alert_id).update(
        webhook_status=status,
        webhook_attempts=F("webhook_attempts") + 1,
        webhook_last_error=error[:WEBHOOK_ERROR_MAX_LENGTH],
        updated_at=timezone.now(),
    )


@transaction.atomic
def inventory_settings_update(*, shop, email_alerts: bool, webhook_url: str) -> InventorySettings:
    """Choose whether alerts are emailed and which webhook (if any) receives them. The URL must be
    one we may post to (``apps.core.webhooks``)."""
    webhook_url = (webhook_url or "").strip()
    if webhook_url:
        try:
            webhook_url_validate(webhook_url)
        except ValidationError as exc:
            raise StockError(exc.messages[0], code="webhook-url") from None
    config, _created = InventorySettings.objects.select_for_update().get_or_create(shop=shop)
    config.email_alerts = bool(email_alerts)
    config.webhook_url = webhook_url
    config.full_clean(exclude=["shop"])
    config.save()
    return config

"""Stored Idempotency-Key answers are forgotten after IDEMPOTENCY_KEY_TTL_HOURS, by the hourly beat task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import IdempotencyRecord
from apps.core.tasks import idempotency_records_purge_due

pytestmark = pytest.mark.django_db


def _record(key: str, age: timedelta) -> IdempotencyRecord:
    record = IdempotencyRecord.objects.create(
        key=key, principal="api_key:1", scope="POST /api/v1/orders", request_hash="0" * 64, response_status=202
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_answers_older_than_the_ttl_are_purged_and_newer_ones_kept(settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    _record("old", timedelta(hours=25))
    kept = _record("fresh", timedelta(hours=23))
    assert idempotency_records_purge_due.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [kept.pk]

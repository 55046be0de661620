"""/healthz/live, /healthz/ready (503 naming the failing check) and /metrics behind a token."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.urls import reverse

from apps.core import selectors


def test_live_answers_without_touching_the_database(client):
    """No django_db mark: any query here would fail the test."""
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_redis_and_migrations_are_fine(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "migrations"}


@pytest.mark.django_db
def test_ready_fails_naming_the_database_when_it_is_down(client):
    broken = mock.MagicMock()
    broken.cursor.side_effect = OperationalError("connection refused")
    with mock.patch.object(selectors, "connections", {"default": broken}):
        response = client.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database", "migrations"]
    assert "connection refused" in body["checks"]["database"]["detail"]


@pytest.mark.django_db
def test_ready_fails_naming_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_ready_fails_when_migrations_are_pending(client):
    selectors._migrations_seen_applied.clear()
    migration = mock.Mock(app_label="shops")
    migration.name = "0002_shop_slug"
    plan = [(migration, False)]
    with mock.patch.object(selectors.MigrationExecutor, "migration_plan", return_value=plan):
        response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert "shops.0002_shop_slug" in response.json()["checks"]["migrations"]["detail"]


def test_metrics_refused_from_outside_without_token(client, settings):
    settings.METRICS_BEARER_TOKEN = "s3cret-token"
    response = client.get(reverse("core:metrics"), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    response = client.get(reverse("core:metrics"), REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 403


def test_metrics_with_the_bearer_token(client, settings):
    settings.METRICS_BEARER_TOKEN = "s3cret-token"
    response = client.get(reverse("core:metrics"), REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_metrics_from_an_allowed_network(client, settings):
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get(reverse("core:metrics"), REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(reverse("core:metrics"), REMOTE_ADDR="11.1.2.3").status_code == 403


def test_metrics_ignores_a_forged_forwarded_for(client, settings):
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    response = client.get(reverse("core:metrics"), REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403

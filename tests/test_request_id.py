"""Every request has an id: taken from X-Request-ID or generated, returned, and carried into tasks."""

import logging

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.core.request_context import reset_request_id, set_request_id
from apps.core.tasks import worker_heartbeat


def test_request_id_is_generated_and_returned(client):
    response = client.get(reverse("core:healthz-live"))
    assert len(response["X-Request-ID"]) == 32


def test_request_id_from_the_load_balancer_is_kept(client):
    response = client.get(reverse("core:healthz-live"), HTTP_X_REQUEST_ID="Root=1-abc-def")
    assert response["X-Request-ID"] == "Root=1-abc-def"


def test_malformed_request_id_is_replaced(client):
    response = client.get(reverse("core:healthz-live"), HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_task_runs_under_the_id_of_the_code_that_enqueued_it():
    token = set_request_id("req-123")
    try:
        record = worker_heartbeat.delay(token="t1").get()
    finally:
        reset_request_id(token)
    assert record["request_id"] == "req-123"


@pytest.mark.django_db
def test_web_request_id_reaches_the_email_task(client, caplog, django_capture_on_commit_callbacks):
    """A password-reset request's id is logged by the email task it queued."""
    user = UserFactory()
    caplog.set_level(logging.INFO, logger="apps.tasks")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": user.email}, HTTP_X_REQUEST_ID="req-reset-7")
    messages = [r.getMessage() for r in caplog.records if r.name == "apps.tasks"]
    assert "task core.email_deliver started (request req-reset-7)" in messages

"""Fixtures of the payments tests: a fake Stripe (localstripe) on 127.0.0.1, settings that point
the app at it, signed webhook requests, and buyers with saved cards."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe

from apps.accounts.tests.factories import UserFactory

SECRET_KEY = "sk_test_12345"
PUBLISHABLE_KEY = "pk_test_12345"
WEBHOOK_SECRET = "whsec_test_secret"
SERVER_SCRIPT = Path(__file__).with_name("localstripe_server.py")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_server():
    """The base URL of a localstripe server started for this test session (127.0.0.1 only)."""
    pytest.importorskip("localstripe", reason="localstripe is a test requirement (requirements-dev.txt)")
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603  (our own script, fixed arguments)
        [sys.executable, str(SERVER_SCRIPT), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"localstripe did not start: {process.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.1)
    yield url
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class FakeStripe:
    """The running localstripe: ``client`` is a Stripe client pointed at it (tests use it to act
    as Stripe.js or the Stripe dashboard would)."""

    url: str
    client: stripe.StripeClient

    def _post(self, path: str, data: dict | None = None, method: str = "POST") -> None:
        body = json.dumps(data or {}).encode()
        request = urllib.request.Request(  # noqa: S310  (http://127.0.0.1 only)
            self.url + path, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def flush(self) -> None:
        """Forget every object (customers, intents…)."""
        self._post("/_config/data", method="DELETE")

    def register_webhook(self, url: str, *, events: list[str] | None = None) -> None:
        """Have localstripe sign (with the test secret) and post its events to ``url``."""
        data = {"url": url, "secret": WEBHOOK_SECRET}
        if events is not None:
            data["events"] = events
        self._post("/_config/webhooks/localbazaar-test", data)

    def unregister_webhook(self) -> None:
        # localstripe cannot delete a webhook: point it at the discard port, where posts fail fast.
        self._post("/_config/webhooks/localbazaar-test", {"url": "http://127.0.0.1:9/", "secret": WEBHOOK_SECRET})

    def payment_intents(self) -> list:
        return list(self.client.v1.payment_intents.list(params={"limit": 100}).data)


@pytest.fixture
def fake_stripe(localstripe_server, settings) -> FakeStripe:
    """Card payments on, against localstripe (emptied first). Also points the ``stripe`` module's
    globals at it, for code that uses them."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_server
    previous = stripe.api_key, stripe.api_base
    stripe.api_key, stripe.api_base = SECRET_KEY, localstripe_server
    fake = FakeStripe(
        url=localstripe_server,
        client=stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_server}, max_network_retries=0),
    )
    fake.flush()
    yield fake
    stripe.api_key, stripe.api_base = previous


@pytest.fixture
def webhook_secret(settings) -> str:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


def sign(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``: ``t=…,v1=…`` with the
    HMAC-SHA256 of ``"{t}.{payload}"`` (``stripe.WebhookSignature.generate_signature_header``)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp or int(time.time()))


@pytest.fixture
def buyer(db):
    return UserFactory()

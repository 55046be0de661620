"""The orders tests charge cards against the same localstripe server as the payments tests."""

from apps.payments.tests.conftest import fake_stripe, localstripe_server  # noqa: F401  (fixtures)

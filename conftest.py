"""Project-wide pytest fixtures."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _celery_join_state():
    """Eager tasks run in threads (the concurrency tests' buyers queue emails and invoices) race on
    Celery's process-wide "joining would block" flag, which ``Task.apply`` sets and restores; a lost
    race leaves it set and a later test's ``result.get()`` refuses. Each test starts with it clear."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and other cached state never leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def login_verified():
    """Log ``user`` in on ``client`` with a session that passed MFA (as after a real code).

    Usage: ``login_verified(client, user)``. Creates the user's authenticator if needed.
    """
    from django_otp import DEVICE_ID_SESSION_KEY

    from apps.accounts.selectors import user_totp_device
    from apps.accounts.tests.factories import totp_device_for

    def _login(client, user):
        device = user_totp_device(user=user) or totp_device_for(user)
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return _login


@pytest.fixture
def seller(login_verified):
    """A factory: ``seller(client, role="owner", shop=None)`` logs a new member of a shop in
    (MFA-verified) and returns the membership."""
    from apps.shops.tests.factories import MembershipFactory

    def _seller(client, role="owner", shop=None):
        kwargs = {"role": role}
        if shop is not None:
            kwargs["shop"] = shop
        membership = MembershipFactory(**kwargs)
        login_verified(client, membership.user)
        return membership

    return _seller

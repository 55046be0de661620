"""The nightly expiry: points expire a lifetime after they became available, oldest first, and
buyers are warned once per lot, in their language, before they do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import formats, timezone, translation

from apps.loyalty.models import LedgerEntry
from apps.loyalty.selectors import earning_drift, ledger_drift
from apps.loyalty.services import (
    account_expire,
    account_expiry_notice,
    earning_reverse,
    points_expire,
    redemption_return,
)
from apps.loyalty.tasks import points_expire_nightly

from .factories import account_of, buyer, earn, earn_available
from .test_services import _redeem

pytestmark = pytest.mark.django_db

LIFETIME = timedelta(days=365)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.LOYALTY_FIRST_PURCHASE_BONUS = 0  # round numbers: an order of N dollars earns N points
    settings.LOYALTY_POINTS_LIFETIME_DAYS = 365
    settings.LOYALTY_EXPIRY_NOTICE_DAYS = 30


@pytest.fixture
def t0():
    return timezone.now()


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the nightly expiry at ``now``, sending the emails it queues."""

    def _run(now):
        with django_capture_on_commit_callbacks(execute=True):
            return points_expire(now=now)

    return _run


def _expired(user) -> list[int]:
    return list(
        LedgerEntry.objects.filter(account__user=user, kind=LedgerEntry.Kind.EXPIRE).values_list("points", flat=True)
    )


def _clean():
    assert ledger_drift()[1] == [] and earning_drift()[1] == []


# --- expiry -----------------------------------------------------------------------------------------------


def test_points_expire_a_lifetime_after_they_became_available_oldest_first(t0, run):
    """Lots of 100 (day 0) and 200 (day 100): a year after day 0 the 100 go, the 200 stay."""
    user = buyer()
    earn_available(user, "100.00", at=t0)
    earn_available(user, "200.00", at=t0 + 100 * DAY)
    assert run(t0 + LIFETIME - DAY)["points"] == 0
    counts = run(t0 + LIFETIME)
    assert (counts["accounts"], counts["points"]) == (1, 100)
    assert account_of(user).balance == 200 and _expired(user) == [-100]
    assert run(t0 + 100 * DAY + LIFETIME)["points"] == 200
    assert account_of(user).balance == 0
    _clean()


def test_spent_points_come_out_of_the_oldest_lots(t0, run):
    """150 of 100 (day 0) + 200 (day 100) spent: the first lot is gone, 50 of the second remain, and
    only those 150 left expire, with the second lot."""
    user = buyer()
    earn_available(user, "100.00", at=t0)
    earn_available(user, "200.00", at=t0 + 100 * DAY)
    _redeem(user, 150)
    assert run(t0 + LIFETIME + DAY)["points"] == 0
    assert run(t0 + 100 * DAY + LIFETIME)["points"] == 150
    assert account_of(user).balance == 0
    _clean()


def test_points_given_back_keep_the_expiry_of_the_lot_they_came_from(t0, run):
    """100 points (day 0) spent on an order that was then cancelled: they come back and still expire
    a year after day 0, not a year after they came back (a later lot of 50 stays)."""
    user = buyer()
    earn_available(user, "100.00", at=t0)
    redemption = _redeem(user, 100)
    earn_available(user, "50.00", at=t0 + 200 * DAY)
    redemption_return(reference=redemption.reference, reason="Order cancelled")
    assert run(t0 + LIFETIME)["points"] == 100
    assert account_of(user).balance == 50
    _clean()


def test_running_the_expiry_twice_expires_nothing_more(t0, run):
    user = buyer()
    earn_available(user, "100.00", at=t0)
    earn_available(user, "300.00", at=t0 + 300 * DAY)
    assert run(t0 + LIFETIME)["points"] == 100
    assert run(t0 + LIFETIME) == {"accounts": 0, "points": 0, "warned": 0}
    assert account_expire(account_id=account_of(user).pk, now=t0 + LIFETIME + DAY) == 0
    assert _expired(user) == [-100] and account_of(user).balance == 300
    _clean()


def test_many_lots_of_one_account_expire_in_one_entry_and_one_warning(t0, run):
    """Five expired lots and five near expiry on one account: one expiry entry, one email."""
    user = buyer()
    for day in range(5):
        earn_available(user, "10.00", at=t0 + day * DAY)
        earn_available(user, "10.00", at=t0 + (30 + day) * DAY)
    counts = run(t0 + LIFETIME + 10 * DAY)
    assert counts == {"accounts": 1, "points": 50, "warned": 1}
    assert _expired(user) == [-50]
    assert [m.subject for m in mail.outbox] == ["50 of your points expire soon"]


def test_a_negative_balance_expires_nothing(t0, run):
    """100 + 300 available, 350 spent, then the 300-point order returned: -250; nothing expires."""
    user = buyer()
    earn_available(user, "100.00", at=t0)
    returned = earn_available(user, "300.00", at=t0)
    _redeem(user, 350)
    earning_reverse(reference=returned.reference, reason="Order returned")
    assert account_of(user).balance == -250
    assert run(t0 + LIFETIME + DAY)["points"] == 0
    assert account_expire(account_id=account_of(user).pk, now=t0 + LIFETIME + DAY) == 0
    assert _expired(user) == [] and account_of(user).balance == -250


def test_pending_points_do_not_expire(t0, run):
    user = buyer()
    earn(user, "100.00", placed_at=t0)
    assert run(t0 + 2 * LIFETIME)["points"] == 0
    assert account_of(user).pending == 100


def test_a_positive_adjustment_expires_like_earned_points(run):
    from apps.loyalty.services import points_adjust

    user = buyer()
    entry = points_adjust(user=user, points=70, reason="Goodwill", actor=None)
    assert run(entry.expires_at - DAY)["points"] == 0
    assert run(entry.expires_at)["points"] == 70


def test_the_nightly_task_runs_the_expiry(t0):
    """The beat task is a door to the service: it returns the service's counts."""
    user = buyer()
    earn_available(user, "100.00", at=t0 - LIFETIME - DAY)
    assert points_expire_nightly.delay().get() == {"accounts": 1, "points": 100, "warned": 0}
    assert account_of(user).balance == 0


# --- warnings -----------------------------------------------------------------------------------------------


def test_a_buyer_is_warned_once_30_days_before_a_lot_expires(t0, run, settings):
    """31 days ahead: no email; 29 days ahead: one; the next nights: none; a later lot entering the
    window: a second email about it."""
    user = buyer(first_name="Ana")
    earn_available(user, "100.00", at=t0)
    earn_available(user, "40.00", at=t0 + 15 * DAY)
    expiry = t0 + LIFETIME
    assert run(expiry - 31 * DAY)["warned"] == 0
    assert run(expiry - 29 * DAY)["warned"] == 1
    assert [m.to for m in mail.outbox] == [[user.email]]
    message = mail.outbox[0]
    assert message.subject == "100 of your points expire soon"
    assert "Hello Ana" in message.body and "Points: 100 ($1.00)" in message.body
    assert f"{settings.SITE_URL}/loyalty/" in message.body
    assert run(expiry - 28 * DAY)["warned"] == 0
    assert run(expiry - 20 * DAY)["warned"] == 0
    assert len(mail.outbox) == 1
    # The 40-point lot (expiring 15 days later) enters the window: one more email, for both lots.
    assert run(expiry - 14 * DAY)["warned"] == 1
    assert len(mail.outbox) == 2 and mail.outbox[1].subject == "140 of your points expire soon"
    assert account_of(user).expiry_notified_until == expiry + 15 * DAY


def test_the_warning_is_in_the_buyers_language(t0, run):
    """A buyer who reads Spanish gets the expiry date written in Spanish."""
    user = buyer(preferred_language="es")
    earn_available(user, "100.00", at=t0)
    expiry = t0 + LIFETIME
    run(expiry - 10 * DAY)
    (message,) = mail.outbox
    with translation.override("es"):
        spanish = formats.date_format(timezone.localtime(expiry), "DATE_FORMAT")
    with translation.override("en"):
        english = formats.date_format(timezone.localtime(expiry), "DATE_FORMAT")
    assert spanish != english
    assert spanish in message.body and english not in message.body


def test_no_warning_when_the_expiring_points_were_already_spent(t0, run):
    """The lot about to expire was spent (a later lot is not near its expiry): no email, and that lot
    is not looked at again."""
    user = buyer()
    earn_available(user, "100.00", at=t0)
    earn_available(user, "300.00", at=t0 + 200 * DAY)
    _redeem(user, 100)
    assert run(t0 + LIFETIME - 10 * DAY)["warned"] == 0
    assert mail.outbox == []
    assert account_of(user).expiry_notified_until == t0 + LIFETIME


def test_no_warning_for_a_buyer_without_points(t0):
    """A buyer whose balance went below zero is not warned about lots already consumed."""
    user = buyer()
    earning = earn_available(user, "100.00", at=t0)
    earning_reverse(reference=earning.reference, reason="returned")
    assert account_expiry_notice(account_id=account_of(user).pk, now=t0 + LIFETIME - DAY) is False
    assert mail.outbox == []

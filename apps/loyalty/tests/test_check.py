"""``manage.py loyalty_check`` and the loyalty system check: balances and orders' points agree with
the ledger (exit status 0), any drift is printed and exits non-zero; every supported currency has a
point value that is exact money."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from apps.core.money import SUPPORTED_CURRENCIES, currency_exponent
from apps.loyalty.models import Earning, LedgerEntry, LoyaltyAccount, Redemption
from apps.loyalty.selectors import earning_drift, ledger_drift
from apps.loyalty.services import earning_reduce, redemption_return
from apps.loyalty.units import point_values_check

from .factories import account_of, buyer, earn, earn_available
from .test_services import _redeem

pytestmark = pytest.mark.django_db


def _exit_status() -> tuple[int, str, str]:
    """Run ``loyalty_check``: (the exit status the command line gives it, stdout, stderr). (A
    ``CommandError`` is exit status ``returncode``; the real command line is not used because it
    closes the test's database connection when it ends.)"""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("loyalty_check", stdout=out, stderr=err)
        status = 0
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        status = exc.returncode
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def history():
    """Two buyers with earnings (pending, available, partly refunded) and a partly given back
    redemption: every kind of order entry."""
    ana, ben = buyer(email="ana@example.com"), buyer()
    earn(ana, "80.00")
    kept = earn_available(ana, "100.00")
    earning_reduce(reference=kept.reference, refunded=Decimal("40.00"))
    earn_available(ben, "200.00")
    redemption = _redeem(ben, 300)
    redemption_return(reference=redemption.reference, points=120, reason="Part refunded")
    return ana, ben, kept, redemption


def test_a_clean_ledger_passes_with_exit_status_0(history):
    status, out, err = _exit_status()
    assert status == 0, err
    assert "2 accounts checked, 0 drifts" in out and "4 orders checked, 0 drifts" in out
    entries = LedgerEntry.objects.count()
    assert f"Checked 2 accounts, 4 orders and {entries} entries" in out and "no drift" in out
    assert err == ""


def test_a_tampered_balance_fails_with_the_drift_printed(history):
    """An account's balance changed behind the ledger's back: exit status 1, the drift named."""
    ana = history[0]
    LoyaltyAccount.objects.filter(user=ana).update(balance=F("balance") + 1000)
    real = account_of(ana).balance - 1000
    status, out, err = _exit_status()
    assert status == 1
    assert f"(ana@example.com): the available balance is {real + 1000}, the ledger says {real}" in err
    assert "1 drifts in 2 accounts and 4 orders" in err


@pytest.mark.django_db(transaction=True)
def test_the_command_line_exits_with_status_1_on_drift_and_0_when_clean():
    """The real ``manage.py loyalty_check`` process, on the test database (PostgreSQL)."""
    from apps.core.tests.worker import database_url_for_worker

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "localbazaar.settings.test",
        "DATABASE_URL": database_url_for_worker(),
    }
    user = buyer(email="tampered@example.com")
    earn_available(user)

    def run():
        return subprocess.run(
            [sys.executable, "manage.py", "loyalty_check"],
            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    clean = run()
    assert clean.returncode == 0, clean.stderr
    assert "no drift" in clean.stdout
    LoyaltyAccount.objects.filter(user=user).update(balance=F("balance") - 1)
    tampered = run()
    assert tampered.returncode == 1
    assert "(tampered@example.com): the available balance is 599, the ledger says 600" in tampered.stderr


def test_tampered_pending_points_fail_the_check(history):
    LoyaltyAccount.objects.filter(user=history[0]).update(pending=0)
    drifts = ledger_drift()[1]
    assert [d.what for d in drifts] == ["the pending points"]


def test_an_earning_that_disagrees_with_its_entries_is_a_drift(history):
    """The earning says it still gives more points than its entries add up to."""
    kept = history[2]
    Earning.objects.filter(pk=kept.pk).update(points_reversed=0)
    checked, drifts = earning_drift()
    assert checked == 4
    (drift,) = drifts
    assert drift.what == f"the points earned on order {kept.reference}"
    assert (drift.recorded, drift.ledger) == (100, 60)


def test_a_redemption_that_disagrees_with_its_entries_is_a_drift(history):
    redemption = history[3]
    Redemption.objects.filter(pk=redemption.pk).update(points_returned=0)
    (drift,) = earning_drift()[1]
    assert drift.what == f"the points spent on order {redemption.reference}"
    assert (drift.recorded, drift.ledger) == (300, 180)


def test_entries_of_an_order_without_an_earning_are_a_drift(history):
    """Points credited for an order loyalty never recorded (balance kept in step): still found."""
    ana = history[0]
    account = account_of(ana)
    LedgerEntry.objects.create(
        account=account,
        kind="earn",
        bucket="pending",
        points=70,
        reference="LB-GHOST",
        reason="?",
        created_at=account.created_at,
    )
    LoyaltyAccount.objects.filter(pk=account.pk).update(pending=F("pending") + 70)
    assert ledger_drift()[1] == []
    (drift,) = earning_drift()[1]
    assert (drift.what, drift.recorded, drift.ledger) == ("the points earned on order LB-GHOST", 0, 70)


def test_the_order_check_takes_a_few_queries_whatever_the_number_of_orders(history, django_assert_max_num_queries):
    for _ in range(5):
        earn_available(buyer())
    with django_assert_max_num_queries(3):
        checked, drifts = earning_drift()
    assert checked == 9 and drifts == []


# --- point values -----------------------------------------------------------------------------------------


def test_every_supported_currency_has_a_point_value_in_whole_minor_units(settings):
    assert point_values_check() == []
    assert set(settings.LOYALTY_POINT_VALUE) >= set(SUPPORTED_CURRENCIES)
    for currency in SUPPORTED_CURRENCIES:
        value = Decimal(settings.LOYALTY_POINT_VALUE[currency])
        assert value > 0 and value == value.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def test_a_missing_or_inexact_point_value_fails_the_system_check(settings):
    """``manage.py check`` reports a currency without a value and one that is not whole minor units."""
    table = dict(settings.LOYALTY_POINT_VALUE)
    del table["THB"]
    table["JPY"] = "0.5"
    table["SGD"] = "0"
    settings.LOYALTY_POINT_VALUE = table
    errors = [e for e in checks.run_checks() if e.id == "loyalty.E001"]
    messages = sorted(e.msg for e in errors)
    assert messages == [
        "LOYALTY_POINT_VALUE: JPY: 0.5 is not a positive multiple of 1.",
        "LOYALTY_POINT_VALUE: SGD: 0 is not a positive multiple of 0.01.",
        "LOYALTY_POINT_VALUE: THB: no point value.",
    ]
    assert all(e.level == checks.ERROR for e in errors)


def test_the_shipped_settings_pass_the_system_check():
    assert [e for e in checks.run_checks() if e.id.startswith("loyalty.")] == []

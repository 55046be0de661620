"""The nightly tier review: each buyer's tier follows their rolling 12-month spend (money paid less
refunds, on orders not reversed, in points' worth); promotions are emailed once, demotions are
silent, every move is recorded, and accounts that did not change are not written."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.loyalty.models import LoyaltyAccount, Tier, TierChange
from apps.loyalty.services import _percent, earning_reduce, earning_reverse, spend_by_account, tiers_review
from apps.loyalty.tasks import tiers_review_nightly

from .factories import account_of, buyer, earn

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.LOYALTY_TIER_WINDOW_DAYS = 365


@pytest.fixture
def review(django_capture_on_commit_callbacks):
    """Run the nightly review at ``now`` (default: now), sending the emails it queues."""

    def _review(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return tiers_review(now=now)

    return _review


def _tier(user) -> str:
    return account_of(user).tier.code


def test_spending_past_a_threshold_promotes_the_buyer_with_one_email(review, settings):
    """300 dollars in 12 months (30,000 points' worth) reach silver: one email, one recorded move."""
    user = buyer(first_name="Ana")
    earn(user, "120.00")
    earn(user, "180.00")
    counts = review()
    assert counts == {"reviewed": 1, "promoted": 1, "demoted": 0}
    account = account_of(user)
    assert (account.tier.code, account.spend_12m) == ("silver", 30_000)
    assert account.tier_since is not None and account.tier_reviewed_at is not None
    (change,) = TierChange.objects.all()
    assert (change.from_tier.code, change.to_tier.code, change.spend_12m) == ("bronze", "silver", 30_000)
    (message,) = mail.outbox
    assert message.to == [user.email] and message.subject == "You are now Silver"
    assert "Hello Ana" in message.body and "2% of what you pay" in message.body
    assert f"{settings.SITE_URL}/loyalty/" in message.body
    # The next night changes nothing: no email, no new move.
    assert review() == {"reviewed": 0, "promoted": 0, "demoted": 0}
    assert len(mail.outbox) == 1 and TierChange.objects.count() == 1


def test_a_big_spender_jumps_straight_to_gold(review):
    user = buyer()
    earn(user, "1000.00")
    review()
    assert _tier(user) == "gold"
    assert [m.subject for m in mail.outbox] == ["You are now Gold"]
    assert "3% of what you pay" in mail.outbox[0].body


def test_orders_older_than_twelve_months_drop_out_and_the_buyer_is_demoted_silently(review):
    """Gold a year ago; the orders then leave the window: back to bronze, with no email."""
    now = timezone.now()
    user = buyer()
    earn(user, "1000.00", placed_at=now - 300 * DAY)
    earn(user, "50.00", placed_at=now - 10 * DAY)
    review(now)
    assert _tier(user) == "gold"
    mail.outbox.clear()
    counts = review(now + 66 * DAY)
    assert counts == {"reviewed": 1, "promoted": 0, "demoted": 1}
    account = account_of(user)
    assert (account.tier.code, account.spend_12m) == ("bronze", 5_000)
    assert mail.outbox == []
    assert list(TierChange.objects.order_by("created_at").values_list("to_tier__code", flat=True)) == ["gold", "bronze"]


def test_refunds_and_reversed_orders_do_not_count(review):
    """400 dollars with 150 refunded and a cancelled 500-dollar order: 250 dollars, still bronze."""
    user = buyer()
    refunded = earn(user, "400.00")
    earning_reduce(reference=refunded.reference, refunded=Decimal("150.00"))
    cancelled = earn(user, "500.00")
    earning_reverse(reference=cancelled.reference, reason="cancelled")
    review()
    account = account_of(user)
    assert (account.tier.code, account.spend_12m) == ("bronze", 25_000)
    assert mail.outbox == []


def test_spend_in_several_currencies_adds_up_in_points_worth(review):
    """20,000 yen (one yen a point) and 100 Singapore dollars (10,000 points' worth): silver."""
    user = buyer()
    earn(user, "20000", currency="JPY")
    earn(user, "100.00", currency="SGD")
    assert spend_by_account(since=timezone.now() - DAY) == {account_of(user).pk: 30_000}
    review()
    assert _tier(user) == "silver"


def test_spend_is_rounded_down_to_whole_points():
    user = buyer()
    earn(user, "1000", currency="IDR")  # 6.67 points' worth
    earn(user, "1000", currency="IDR")
    assert spend_by_account(since=timezone.now() - DAY) == {account_of(user).pk: 13}


def test_accounts_that_did_not_change_are_not_written(review):
    """A bronze buyer who never spent, and a silver one whose spend is the same as last night, are
    left alone (not locked, not saved); only the one whose spend moved is written."""
    idle, steady, moving = buyer(), buyer(), buyer()
    earn(idle, "0.00")
    earn(steady, "300.00")
    earn(moving, "50.00")
    review()
    before = {a.pk: (a.updated_at, a.tier_reviewed_at) for a in LoyaltyAccount.objects.all()}
    earn(moving, "10.00")
    counts = review()
    assert counts == {"reviewed": 1, "promoted": 0, "demoted": 0}
    after = {a.pk: (a.updated_at, a.tier_reviewed_at) for a in LoyaltyAccount.objects.all()}
    assert after[account_of(idle).pk] == before[account_of(idle).pk]
    assert after[account_of(steady).pk] == before[account_of(steady).pk]
    assert account_of(moving).spend_12m == 6_000


def test_a_review_with_nobody_to_review_does_nothing(review):
    assert review() == {"reviewed": 0, "promoted": 0, "demoted": 0}


def test_the_nightly_task_runs_the_review():
    user = buyer()
    earn(user, "300.00")
    assert tiers_review_nightly.delay().get() == {"reviewed": 1, "promoted": 1, "demoted": 0}
    assert _tier(user) == "silver"


@pytest.mark.parametrize(("rate", "shown"), [("0.0100", "1"), ("0.0250", "2.5"), ("0.1000", "10"), ("0.2000", "20")])
def test_the_promotion_email_shows_the_rate_as_a_plain_percentage(rate, shown):
    """10% is "10", not "1E+1" (Decimal.normalize's way of writing it)."""
    assert str(_percent(Decimal(rate))) == shown


def test_the_tiers_made_by_the_migration():
    assert list(Tier.objects.values_list("code", "min_spend", "rate")) == [
        ("bronze", 0, Decimal("0.0100")),
        ("silver", 30_000, Decimal("0.0200")),
        ("gold", 100_000, Decimal("0.0300")),
    ]

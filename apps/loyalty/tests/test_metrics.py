"""``/metrics`` carries the points buyers hold and the accounts per tier, read at scrape time."""

import pytest
from django.urls import reverse

from apps.loyalty.services import points_adjust

from .factories import buyer, earn

pytestmark = pytest.mark.django_db


def test_the_points_buyers_hold_and_the_accounts_per_tier_are_scraped(client, settings):
    settings.LOYALTY_FIRST_PURCHASE_BONUS = 0
    first, second = buyer(), buyer()
    points_adjust(user=first, points=250, reason="Welcome", actor=None)
    earn(second, "40.00")  # 1% of 40.00 = 0.40: 40 pending

    text = client.get(reverse("core:metrics"), REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'localbazaar_loyalty_points{bucket="available"} 250.0' in text
    assert 'localbazaar_loyalty_points{bucket="pending"} 40.0' in text
    assert 'localbazaar_loyalty_accounts{tier="bronze"} 2.0' in text

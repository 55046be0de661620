"""The buyer's loyalty pages: the points page (balance and pending points with their value, tier and
the progress to the next, every tier's rate, points expiring soon, how points work, the statement
with order links, 50 entries a page, a fixed number of queries, nothing written by reading), the
header's balance badge (loaded by htmx) and the product page's boost panel.

Points here come from loyalty's own services (orders are known by their number only); the pages
around orders (checkout, order pages, 1-Click) are tested in ``apps/orders/tests/test_loyalty_pages.py``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import VariantFactory
from apps.loyalty.models import Boost, LedgerEntry, LoyaltyAccount, Tier
from apps.loyalty.services import EarningLine, earning_record, earning_release, points_adjust
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db

HOME = "/loyalty/"
BADGE = "/loyalty/badge/"
FIRST = "LBFRST2345"
SECOND = "LBSCND2345"


def _earn(buyer, *, reference: str, paid: str, shop, release: bool = False) -> None:
    """What the orders app does when an order is paid (and then delivered)."""
    earning_record(
        user=buyer,
        reference=reference,
        shop=shop,
        currency="SGD",
        paid=Decimal(paid),
        lines=[EarningLine(None, Decimal(paid))],
        placed_at=timezone.now(),
    )
    if release:
        earning_release(reference=reference)


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


@pytest.fixture
def earned():
    """A buyer whose first order ($100) was delivered (100 points + the 500 welcome bonus available)
    and whose second ($50) is still pending (50 points)."""
    buyer = UserFactory(email="mei@example.com")
    shop = ShopFactory(name="Tiong Bahru Preserves")
    _earn(buyer, reference=FIRST, paid="100.00", shop=shop, release=True)
    _earn(buyer, reference=SECOND, paid="50.00", shop=shop)
    return buyer


def _give(buyer, points: int, staff, reason: str = "Welcome gift") -> None:
    points_adjust(user=buyer, points=points, reason=reason, actor=staff)


def _page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


# --- the points page ----------------------------------------------------------------------------------


def test_the_page_shows_balance_pending_tier_progress_tiers_and_how_points_work(client, earned):
    """Available 600 points (worth $6.00) and 50 pending (on the second order, linked), Bronze at 1%
    with the way to Silver, every tier with its rate, and the rules in words."""
    client.force_login(earned)

    page = _page(client, HOME)

    assert 'data-balance="600"' in page and "600 points" in page and "worth $6.00" in page
    assert 'data-pending="50"' in page and "worth $0.50" in page
    assert 'data-tier="bronze"' in page and "Bronze: 1% back in points" in page
    assert "Spend $300.00 more in 12 months to reach Silver." in page
    assert '<progress id="tier-progress" value="0" max="100">' in page
    pending = page.split('class="loyalty-pending"')[1].split("</ul>")[0]
    assert f'href="{reverse("orders:order", args=[SECOND])}"' in pending and "50 points" in pending
    tiers = page.split('class="loyalty-tiers"')[1].split("</table>")[0]
    assert "Silver" in tiers and "from $300.00" in tiers and "2%" in tiers
    assert "Gold" in tiers and "from $1,000.00" in tiers and "3%" in tiers
    assert "A point is worth $0.01 ($1.00 for 100 points)." in page
    assert "pending until the order is delivered or collected" in page
    assert "Points expire 12 months after they became available" in page
    assert "welcome bonus of 500 points" in page


def test_the_progress_bar_follows_the_12_month_spend(client, earned):
    """Halfway between Bronze ($0) and Silver ($300): 50%, $150 to go; in Gold there is no next tier."""
    buyer = earned
    LoyaltyAccount.objects.filter(user=buyer).update(spend_12m=15_000)
    client.force_login(buyer)
    page = _page(client, HOME)
    assert 'value="50" max="100"' in page and "Spend $150.00 more in 12 months to reach Silver." in page

    LoyaltyAccount.objects.filter(user=buyer).update(tier=Tier.objects.get(code="gold"), spend_12m=120_000)
    page = _page(client, HOME)
    assert "You are in Gold, the highest tier." in page and "<progress" not in page


def test_points_expiring_within_30_days_are_announced(client, staff, monkeypatch):
    """Points that expire within the notice period show with the first date; none otherwise."""
    buyer = UserFactory()
    _give(buyer, 300, staff)
    client.force_login(buyer)
    assert "data-expiring" not in _page(client, HOME)

    past = timezone.now() - timedelta(days=355)
    with monkeypatch.context() as m:  # a gift from 355 days ago: it expires in 10 days
        m.setattr(timezone, "now", lambda: past)
        _give(buyer, 200, staff, reason="Old gift")

    page = _page(client, HOME)
    soon = LedgerEntry.objects.get(reason="Old gift").expires_at
    assert 'data-expiring="200"' in page and "200 points expire in the next 30 days" in page
    assert f"the first on {date_format(timezone.localtime(soon), 'DATE_FORMAT')}" in page


def test_the_statement_lists_every_entry_and_links_orders(client, earned):
    """Each entry: its kind, points with their sign, the bucket, the order (linked to the buyer's
    order page) and the reason; an adjustment has no order."""
    buyer = earned
    staff = UserFactory(is_staff=True)
    _give(buyer, 25, staff, reason="Sorry for the late delivery")
    client.force_login(buyer)

    page = _page(client, HOME)

    statement = page.split('class="loyalty-statement"')[1].split("</table>")[0]
    rows = statement.split("<tbody>")[1].split("</tr>")[:-1]
    assert len(rows) == LedgerEntry.objects.filter(account__user=buyer).count() == 8
    assert 'data-kind="adjust"' in rows[0] and "+25" in rows[0] and "Sorry for the late delivery" in rows[0]
    assert "<a " not in rows[0]
    first_link = f'<a href="{reverse("orders:order", args=[FIRST])}">{FIRST}</a>'
    second_link = f'<a href="{reverse("orders:order", args=[SECOND])}">{SECOND}</a>'
    assert second_link in rows[1] and "+50" in rows[1] and "Pending" in rows[1]
    released = [row for row in rows if first_link in row and "Available" in row]
    assert sorted(row.split('class="num">')[1].split("<")[0] for row in released) == ["+100", "+500"]
    assert sum(1 for row in rows if first_link in row and "-100" in row and "Pending" in row) == 1


def test_the_statement_shows_50_entries_a_page(client, staff):
    buyer = UserFactory()
    for n in range(60):
        _give(buyer, n + 1, staff, reason=f"gift {n + 1}")
    client.force_login(buyer)

    first = _page(client, HOME)
    second = _page(client, HOME, page=2)

    assert first.count("data-entry=") == 50 and "gift 60<" in first and "gift 10<" not in first
    assert second.count("data-entry=") == 10 and "gift 10<" in second and "gift 1<" in second
    assert "Page 2 of 2" in second


def test_the_page_costs_the_same_few_queries_for_3_or_60_entries(client, staff, django_assert_max_num_queries):
    buyer = UserFactory()
    for n in range(3):
        _give(buyer, n + 1, staff)
    client.force_login(buyer)
    client.get(HOME)  # the session's user loaded once

    with CaptureQueriesContext(connection) as few:
        _page(client, HOME)
    for n in range(57):
        _give(buyer, n + 1, staff)
    with django_assert_max_num_queries(8):  # user, tiers, account, due points, count, pending, page
        _page(client, HOME)
    with CaptureQueriesContext(connection) as many:
        _page(client, HOME)
    assert len(few) == len(many)


def test_a_buyer_without_an_account_sees_zeros_and_the_page_writes_nothing(client):
    buyer = UserFactory()
    client.force_login(buyer)

    page = _page(client, HOME)
    badge = _page(client, BADGE)

    assert 'data-balance="0"' in page and 'data-pending="0"' in page and 'data-tier="bronze"' in page
    assert "No points yet" in page
    assert badge == " (0)"
    assert not LoyaltyAccount.objects.exists()


def test_visitors_are_sent_to_sign_in(client):
    for url in (HOME, BADGE):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- the header's badge ------------------------------------------------------------------------------


def test_the_header_loads_the_balance_with_htmx_and_pages_pay_no_query_for_it(client, earned):
    """Signed-in pages carry the "Points" link with the badge's htmx loader and make no loyalty query;
    the badge shows the available balance; visitors see no link."""
    buyer = earned
    assert reverse("loyalty:badge") not in _page(client, reverse("catalog:home"))
    client.force_login(buyer)

    with CaptureQueriesContext(connection) as queries:
        page = _page(client, reverse("orders:orders"))

    assert f'href="{HOME}" class="points-link"' in page and f'hx-get="{BADGE}"' in page
    assert not [q for q in queries if "loyalty_" in q["sql"]]
    assert _page(client, BADGE) == " (600)"


# --- the product page ----------------------------------------------------------------------------------


def test_the_product_page_shows_a_live_boost_at_no_extra_query(client):
    """ "+5% extra points on this product" while the shop's boost runs; nothing before it starts or
    once it is switched off; the page costs the same queries either way."""
    product = VariantFactory(price=Decimal("10.00")).product
    url = reverse("catalog:product", args=[product.shop.slug, product.slug])
    client.get(url)

    with CaptureQueriesContext(connection) as without:
        assert "loyalty-boost-panel" not in _page(client, url)
    boost = Boost.objects.create(
        shop=product.shop, product=product, extra_rate=Decimal("0.0500"), starts_at=timezone.now() - timedelta(hours=1)
    )
    with CaptureQueriesContext(connection) as with_boost:
        page = _page(client, url)
    assert "+5% extra points on this product" in page
    assert len(with_boost) == len(without)

    Boost.objects.filter(pk=boost.pk).update(starts_at=timezone.now() + timedelta(days=1))
    assert "loyalty-boost-panel" not in _page(client, url)
    Boost.objects.filter(pk=boost.pk).update(starts_at=timezone.now() - timedelta(days=1), active=False)
    assert "loyalty-boost-panel" not in _page(client, url)

"""Loyalty API: the signed-in buyer reads their own account and statement (API keys get 403); a
shop reads its boosts and the orders they boosted with the ``loyalty`` scope or ``boosts.manage``;
another shop's slug or boost is a 404 problem document; lists cost a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from apps.catalog.tests.factories import ProductFactory
from apps.loyalty.models import LoyaltyAccount
from apps.loyalty.services import EarningLine, boost_create, earning_reduce, points_adjust
from apps.shops.models import ApiScope
from apps.shops.tests.factories import MembershipFactory, ShopFactory, api_key_for

from .factories import buyer, earn, earn_available

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
ACCOUNT = "/api/v1/loyalty/account"
ENTRIES = "/api/v1/loyalty/entries"


def boosts_url(shop) -> str:
    return f"/api/v1/shops/{shop.slug}/loyalty/boosts"


def awards_url(shop, boost_id) -> str:
    return f"{boosts_url(shop)}/{boost_id}/awards"


def key_client(shop, scopes=(ApiScope.LOYALTY,)) -> Client:
    _key, raw = api_key_for(shop, list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    if code:
        assert body["code"] == code
    return body


def make_boost(shop, rate="0.0500"):
    return boost_create(
        shop=shop, product=ProductFactory(shop=shop), extra_rate=Decimal(rate), starts_at=timezone.now()
    )


def boosted_order(boost, paid="100.00"):
    return earn(buyer(), paid, shop=boost.shop, lines=[EarningLine(boost.product_id, Decimal(paid))])


# --- the buyer ------------------------------------------------------------------------------------


def test_account_shows_the_callers_points_tier_and_their_worth(client):
    """Balance and pending with their money value, the tier and the way to the next one, and the
    points expiring soon, for the signed-in buyer only."""
    user = buyer()
    earn_available(user, "100.00", at=timezone.now() - timedelta(days=360))  # expires within the notice period
    earn(user, "20.00")
    earn_available(buyer(), "999.00")  # someone else's points
    client.force_login(user)
    body = client.get(ACCOUNT).json()
    account = LoyaltyAccount.objects.get(user=user)
    assert (body["balance"], body["pending"]) == (account.balance, account.pending)
    assert body["balance"] > 0 and body["pending"] > 0
    assert body["currency"] == "SGD"
    assert body["balance_value"] == {"amount": f"{Decimal(account.balance) / 100:.2f}", "currency": "SGD"}
    assert body["tier"]["code"] == account.tier.code and body["next_tier"] is not None
    assert body["to_next_tier"]["currency"] == "SGD"
    assert body["expiring_points"] == account.balance and body["expiring_at"] is not None


def test_account_of_a_buyer_who_never_earned_is_zeros_and_writes_nothing(client):
    client.force_login(buyer())
    body = client.get(ACCOUNT).json()
    assert (body["balance"], body["pending"], body["tier"]["min_spend"]) == (0, 0, 0)
    assert body["balance_value"] == {"amount": "0.00", "currency": "SGD"}
    assert body["expiring_points"] == 0 and body["expiring_at"] is None
    assert not LoyaltyAccount.objects.exists()


def test_entries_are_the_callers_statement_newest_first_in_pages(client, django_assert_max_num_queries):
    """Only the caller's entries, newest first, with reasons; cursor pages; the query count does
    not grow with the statement."""
    user = buyer()
    earn_available(user, "100.00")
    for i in range(1, 8):
        points_adjust(user=user, points=i, reason=f"Goodwill {i}", actor=None)
    earn_available(buyer(), "50.00")
    client.force_login(user)
    with django_assert_max_num_queries(3):
        body = client.get(ENTRIES, {"page_size": 5}).json()
    entries = body["results"]
    assert [e["reason"] for e in entries] == [f"Goodwill {i}" for i in range(7, 2, -1)]
    assert entries[0]["kind"] == "adjust" and entries[0]["bucket"] == "available" and entries[0]["points"] == 7
    assert entries[0]["expires_at"] is not None and entries[0]["reference"] == ""
    rest = client.get(body["next"]).json()["results"]
    total = LoyaltyAccount.objects.get(user=user).entries.count()
    assert len(entries) + len(rest) == min(total, 10)
    assert not {e["id"] for e in entries} & {e["id"] for e in rest}
    assert "Goodwill" not in str(client.get(ENTRIES, {"page_size": 100}).json()["results"][-1])


def test_an_api_key_cannot_read_a_buyers_points(client):
    shop = ShopFactory()
    keyed = key_client(shop, scopes=list(ApiScope.values))
    assert_problem(keyed.get(ACCOUNT), 403, "api-key-not-accepted")
    assert_problem(keyed.get(ENTRIES), 403, "api-key-not-accepted")


def test_the_buyers_routes_need_a_sign_in(client):
    assert client.get(ACCOUNT).status_code in (401, 403)
    assert client.get(ENTRIES)["Content-Type"] == PROBLEM


# --- the shop -------------------------------------------------------------------------------------


def test_a_loyalty_key_lists_the_shops_boosts_with_points_and_cost(django_assert_max_num_queries):
    """Each boost with its product, rate, window, orders, the points it funded (refunds taken back)
    and their cost in the shop's currency; another shop's boosts are not listed; the query count
    does not grow with the number of boosts."""
    shop = ShopFactory()
    boost = make_boost(shop)
    boosted_order(boost)
    half = boosted_order(boost)
    earning_reduce(reference=half.reference, refunded=Decimal("50.00"))
    for _ in range(5):
        make_boost(shop, rate="0.0100")
    make_boost(ShopFactory())
    client = key_client(shop)
    with django_assert_max_num_queries(4):
        response = client.get(boosts_url(shop))
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 6
    row = next(r for r in results if r["id"] == boost.pk)
    assert row["product"] == {"id": boost.product_id, "title": boost.product.title}
    assert (row["extra_rate"], row["active"], row["ends_at"]) == ("0.0500", True, None)
    assert (row["orders"], row["points_awarded"]) == (2, 500 + 250)
    assert row["cost"] == {"amount": "7.50", "currency": "SGD"}


def test_a_boosts_awards_list_its_orders(django_assert_max_num_queries):
    shop = ShopFactory()
    boost = make_boost(shop)
    orders = [boosted_order(boost) for _ in range(4)]
    boosted_order(make_boost(shop))
    client = key_client(shop)
    with django_assert_max_num_queries(5):
        response = client.get(awards_url(shop, boost.pk))
    results = response.json()["results"]
    assert [r["order"] for r in results] == [o.reference for o in reversed(orders)]
    assert results[0]["points"] == 500 and results[0]["points_reversed"] == 0
    assert results[0]["points_status"] == "pending"


def test_a_key_without_the_loyalty_scope_is_refused_naming_it():
    shop = ShopFactory()
    body = assert_problem(key_client(shop, scopes=[ApiScope.ORDERS]).get(boosts_url(shop)), 403, "scope-missing")
    assert "loyalty" in body["detail"]


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("manager", 200), ("inventory_manager", 403)])
def test_members_need_boosts_manage(client, login_verified, role, status):
    member = MembershipFactory(role=role)
    login_verified(client, member.user)
    assert client.get(boosts_url(member.shop)).status_code == status


def test_another_shops_slug_and_boost_are_404_problems():
    shop, other = ShopFactory(), ShopFactory()
    theirs = make_boost(other)
    client = key_client(shop)
    assert_problem(client.get(boosts_url(other)), 404)
    assert_problem(client.get(awards_url(other, theirs.pk)), 404)
    assert_problem(client.get(awards_url(shop, theirs.pk)), 404)


def test_the_schema_documents_the_loyalty_api(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    for fragment in (
        "/api/v1/loyalty/account",
        "/api/v1/loyalty/entries",
        "/api/v1/shops/{shop_slug}/loyalty/boosts/{boost_id}/awards",
        "shop_loyalty_boosts_list",
        "LoyaltyEntryKindEnum",
    ):
        assert fragment in schema, fragment

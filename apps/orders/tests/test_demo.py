"""The demo buyer has an address and two pay-on-pickup orders from two shops; the demo seller's shop has
till orders at several points of the state machine (through the intake pipeline) and a phone order
that raised a discount warning; seeding twice adds none."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.orders.models import Order, OrderWarning

pytestmark = pytest.mark.django_db


def test_demo_orders(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    orders = Order.objects.filter(buyer__email="buyer@localbazaar.test", checkout__idempotency_key="demo-first-order")
    assert orders.count() == 2 and len({o.shop_id for o in orders}) == 2
    assert {o.status for o in orders} == {"confirmed"}
    till = Order.objects.filter(channel="pos")
    assert sorted(till.values_list("status", flat=True)) == ["accepted", "completed", "packed", "ready_for_pickup"]
    completed = till.get(status="completed")
    assert list(completed.events.filter(kind="transition").values_list("to_status", flat=True)) == [
        "pending_payment",
        "paid",
        "accepted",
        "packed",
        "ready_for_pickup",
        "delivered",
        "completed",
    ]
    assert OrderWarning.objects.filter(kind="discount", order__channel="phone").count() == 1
    total = Order.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert Order.objects.count() == total == 7 + 3  # and the loyalty seeder's three


def test_demo_loyalty_history_comes_from_real_orders(django_capture_on_commit_callbacks):
    """The loyalty seeder (after the orders one) gives the demo buyer two collected orders whose points
    are available, a promotion by the tier review, and an order paid partly with points; the ledger
    check is clean, and seeding again adds nothing."""
    from apps.loyalty.models import LedgerEntry
    from apps.loyalty.selectors import account_for_user, earning_drift, ledger_drift

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=(out := StringIO()))
    assert "Loyalty: demo points history made" in out.getvalue()
    buyer_orders = Order.objects.filter(buyer__email="buyer@localbazaar.test")
    assert sorted(buyer_orders.values_list("status", flat=True)) == ["confirmed"] * 3 + ["delivered"] * 2
    redeemed = buyer_orders.get(points_used__gt=0)
    assert redeemed.points_used == 200 and redeemed.status == "confirmed"
    account = account_for_user(user=redeemed.buyer)
    assert account.tier.code == "silver" and account.balance > 0 and account.pending > 0
    assert account.tier_changes.count() == 1
    kinds = set(LedgerEntry.objects.filter(account=account).values_list("kind", flat=True))
    assert kinds == {"earn", "bonus", "redeem"}
    assert ledger_drift()[1] == [] and earning_drift()[1] == []
    entries = LedgerEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=(again := StringIO()))
    assert "Loyalty: demo points history already there" in again.getvalue()
    assert LedgerEntry.objects.count() == entries


def test_seller_and_back_office_pages_show_orders_without_a_buyer_account(
    client, login_verified, django_capture_on_commit_callbacks
):
    """Till and phone orders have a customer name, not a buyer account: the seller's queue and order
    page and the back office show them (a regression: the queue once failed on them)."""
    from apps.accounts.models import User

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    order = Order.objects.filter(channel="pos", buyer__isnull=True).first()
    login_verified(client, User.objects.get(email="seller@localbazaar.test"))
    page = client.get(f"/sell/{order.shop.slug}/orders/?status=all")
    assert page.status_code == 200
    detail = client.get(f"/sell/{order.shop.slug}/orders/{order.number}/")
    assert detail.status_code == 200 and order.customer_name in detail.content.decode()
    login_verified(client, User.objects.get(email="admin@localbazaar.test"))
    for url in ("/backoffice/orders/", f"/backoffice/orders/{order.number}/", "/backoffice/orders/statistics/"):
        assert client.get(url).status_code == 200, url

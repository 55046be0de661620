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
    orders = Order.objects.filter(buyer__email="buyer@localbazaar.test")
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
    assert Order.objects.count() == total == 7


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

"""The payout ledger: what each shop is owed per order after the platform's commission and
refunds, exact to the cent, recorded once however often it is asked; and the seller's page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from apps.core.money import Money
from apps.payments.errors import PayoutError
from apps.payments.models import PayoutEntry
from apps.payments.selectors import (
    payout_balance,
    payout_lines_for_shop,
    payout_order_row_exact,
    payout_orders_for_shop,
)
from apps.payments.services import payout_record_refund, payout_record_sale
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


def sgd(amount: str) -> Money:
    return Money(Decimal(amount), "SGD")


@pytest.fixture
def shop():
    return ShopFactory()


def test_a_sale_at_8_percent_leaves_the_shop_92(shop):
    lines = payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    assert [(line.kind, line.amount) for line in lines] == [
        ("sale", Decimal("100.00")),
        ("commission", Decimal("-8.00")),
    ]
    assert payout_balance(shop=shop) == {"SGD": Decimal("92.00")}


def test_a_partial_refund_takes_the_refund_off_and_gives_commission_back(shop):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    lines = payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.00"))
    assert [(line.kind, line.amount) for line in lines] == [
        ("refund", Decimal("-30.00")),
        ("commission_refund", Decimal("2.40")),
    ]
    balance = payout_balance(shop=shop)
    assert balance == {"SGD": Decimal("64.40")}  # 92.00 − 30.00 + 2.40
    assert isinstance(balance["SGD"], Decimal)


def test_recording_a_sale_again_writes_nothing_new(shop):
    first = payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    again = payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    assert [line.pk for line in again] == [line.pk for line in first]
    assert PayoutEntry.objects.count() == 2
    with pytest.raises(PayoutError, match="already in the ledger as a sale of 100.00 SGD"):
        payout_record_sale(shop=shop, reference="LB-1", gross=sgd("120.00"))


def test_the_same_order_number_in_two_shops_is_two_sales(shop):
    other = ShopFactory()
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    payout_record_sale(shop=other, reference="LB-1", gross=sgd("50.00"))
    assert payout_balance(shop=shop) == {"SGD": Decimal("92.00")}
    assert payout_balance(shop=other) == {"SGD": Decimal("46.00")}


def test_a_refund_with_a_key_is_recorded_once(shop):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    first = payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.00"), refund_key="CN-1")
    again = payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.00"), refund_key="CN-1")
    assert {line.pk for line in again} == {line.pk for line in first}
    assert payout_balance(shop=shop) == {"SGD": Decimal("64.40")}
    with pytest.raises(PayoutError, match="recorded as 30.00"):
        payout_record_refund(shop=shop, reference="LB-1", amount=sgd("20.00"), refund_key="CN-1")


def test_refunds_cannot_exceed_the_sale(shop):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    payout_record_refund(shop=shop, reference="LB-1", amount=sgd("70.00"))
    with pytest.raises(PayoutError, match=r"Only 30.00 SGD of order LB-1 is left to refund \(70.00 of 100.00"):
        payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.01"))
    with pytest.raises(PayoutError, match="No sale of order LB-2"):
        payout_record_refund(shop=shop, reference="LB-2", amount=sgd("1.00"))
    with pytest.raises(PayoutError, match="sold in SGD"):
        payout_record_refund(shop=shop, reference="LB-1", amount=Money(Decimal("1"), "USD"))


def test_refunding_everything_in_awkward_parts_nets_exactly_to_zero(shop):
    """33.33 at 8% is 2.67 commission; three refunds give back 0.80 + 0.80 + the exact rest 1.07."""
    payout_record_sale(shop=shop, reference="LB-9", gross=sgd("33.33"))
    backs = [
        payout_record_refund(shop=shop, reference="LB-9", amount=sgd(amount))[1].amount
        for amount in ("10.00", "10.00", "13.33")
    ]
    assert backs == [Decimal("0.80"), Decimal("0.80"), Decimal("1.07")]
    assert payout_balance(shop=shop) == {"SGD": Decimal("0.00")}


def test_zero_decimal_currencies_and_the_configured_rate(shop, settings):
    settings.PLATFORM_COMMISSION_RATE = "0.125"
    payout_record_sale(shop=shop, reference="JP-1", gross=Money(Decimal("1001"), "JPY"))  # 125.125 → 125
    payout_record_sale(shop=shop, reference="SG-1", gross=sgd("10.00"))
    assert payout_balance(shop=shop) == {"JPY": Decimal("876"), "SGD": Decimal("8.75")}


def test_bad_input_is_refused_with_a_message(shop):
    with pytest.raises(PayoutError, match="more than zero"):
        payout_record_sale(shop=shop, reference="LB-1", gross=sgd("0"))
    with pytest.raises(PayoutError, match="order number is required"):
        payout_record_sale(shop=shop, reference=" ", gross=sgd("1"))


def test_the_orders_view_sums_each_order(shop):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.00"))
    payout_record_sale(shop=shop, reference="LB-2", gross=sgd("50.00"))
    rows = {row["reference"]: payout_order_row_exact(row) for row in payout_orders_for_shop(shop=shop)}
    assert rows["LB-1"]["net"] == Decimal("64.40")
    assert (rows["LB-1"]["sale"], rows["LB-1"]["commission"]) == (Decimal("100.00"), Decimal("-8.00"))
    assert (rows["LB-1"]["refunds"], rows["LB-1"]["commission_back"]) == (Decimal("-30.00"), Decimal("2.40"))
    assert rows["LB-2"]["net"] == Decimal("46.00")
    assert payout_lines_for_shop(shop=shop, reference="LB-2").count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_the_ledger_is_append_only_in_the_database(shop):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    entry = PayoutEntry.objects.filter(kind="commission").get()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PayoutEntry.objects.filter(pk=entry.pk).update(amount=Decimal("0"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PayoutEntry.objects.filter(pk=entry.pk).delete()


# --- the seller's page ---------------------------------------------------------------------------


def url(shop, **query) -> str:
    base = reverse("payments:payouts", kwargs={"shop_slug": shop.slug})
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owners_and_managers_see_the_balance_and_each_order(client, seller, shop, role):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.00"))
    payout_record_sale(shop=ShopFactory(), reference="LB-OTHER", gross=sgd("999.00"))
    seller(client, role=role, shop=shop)
    response = client.get(url(shop))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-balance="SGD"' in body and "64.40 SGD" in body
    assert 'data-order="LB-1"' in body
    assert "LB-OTHER" not in body and "999.00" not in body


@pytest.mark.parametrize("role", ["warehouse_staff", "inventory_manager"])
def test_staff_without_order_management_get_403(client, seller, shop, role):
    seller(client, role=role, shop=shop)
    assert client.get(url(shop)).status_code == 403


def test_a_member_of_another_shop_gets_404(client, seller, shop):
    seller(client, role="owner")
    assert client.get(url(shop)).status_code == 404


def test_one_orders_lines(client, seller, shop):
    payout_record_sale(shop=shop, reference="LB-1", gross=sgd("100.00"))
    payout_record_refund(shop=shop, reference="LB-1", amount=sgd("30.00"))
    payout_record_sale(shop=shop, reference="LB-2", gross=sgd("50.00"))
    seller(client, role="owner", shop=shop)
    body = client.get(url(shop, order="LB-1")).content.decode()
    assert body.count('data-line="') == 4
    assert "2.40 SGD" in body and "Commission given back" in body


def test_the_page_keeps_its_query_count(client, seller, shop, django_assert_max_num_queries):
    seller(client, role="manager", shop=shop)
    for n in range(40):
        payout_record_sale(shop=shop, reference=f"LB-{n}", gross=sgd("10.00"))
        if n % 3 == 0:
            payout_record_refund(shop=shop, reference=f"LB-{n}", amount=sgd("2.50"))
    with django_assert_max_num_queries(10):
        body = client.get(url(shop)).content.decode()
    assert body.count('data-order="') == 40
    with django_assert_max_num_queries(10):
        body = client.get(url(shop, order="LB-3")).content.decode()
    assert body.count('data-line="') == 4

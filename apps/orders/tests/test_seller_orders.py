"""The seller's orders: the queue, one order, taking a pay-on-pickup payment at the counter, and
refunds (full and partial, stock back only when the goods came back), with the payout ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from apps.inventory.models import StockItem
from apps.inventory.tests.checks import assert_ledger_balanced
from apps.orders.models import Order
from apps.orders.services import cart_add, cart_get_or_create, checkout_place, one_click_buy, one_click_settings_update
from apps.payments.models import Payment
from apps.payments.selectors import payment_get_by_reference, payout_balance
from apps.payments.tests.test_stripe_integration import save_card
from apps.shops.tests.factories import ShopFactory

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db


def _pickup_order(shop, *, price="20.00", quantity=1, key="k"):
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    variant = stocked_variant(shop=shop, price=price, units=5)
    cart_add(cart=cart, variant=variant, quantity=quantity)
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=key,
        expected_total=Decimal(price) * quantity,
    )
    return result.checkout.orders.get(), variant


def _card_order(fake, shop, *, price="30.00"):
    buyer, address = buyer_with_address()
    one_click_settings_update(user=buyer, enabled=True, address=address, card=save_card(fake, buyer))
    variant = stocked_variant(shop=shop, price=price, units=5)
    result = one_click_buy(buyer=buyer, variant=variant, quantity=1, idempotency_key=f"1c-{buyer.pk}-{variant.pk}-0")
    return result.checkout.orders.get(), variant


def url(name, shop, *args):
    return reverse(f"orders_seller:{name}", args=[shop.slug, *args])


def test_the_queue_lists_the_shops_orders_with_a_fixed_number_of_queries(client, seller, django_assert_max_num_queries):
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    orders = [_pickup_order(shop, key=f"k{i}")[0] for i in range(6)]
    _pickup_order(ShopFactory(), key="elsewhere")
    with django_assert_max_num_queries(10):
        page = client.get(url("list", shop)).content.decode()
    assert page.count('data-order="') == 6 and all(o.number in page for o in orders)
    assert client.get(url("list", shop), {"q": orders[0].number}).content.decode().count('data-order="') == 1
    assert client.get(url("detail", shop, orders[0].number)).status_code == 200


def test_taking_the_payment_at_the_counter_records_what_the_shop_is_owed(client, seller):
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    order, _variant = _pickup_order(shop, price="25.00")
    assert payout_balance(shop=shop) == {}

    client.post(url("collect", shop, order.number))

    assert payment_get_by_reference(reference=order.number).status == Payment.Status.COLLECTED
    assert payout_balance(shop=shop) == {"SGD": Decimal("23.00")}
    client.post(url("collect", shop, order.number))  # twice: once
    assert payout_balance(shop=shop) == {"SGD": Decimal("23.00")}


def test_a_partial_refund_then_the_rest_with_the_goods_back(
    client, seller, fake_stripe, django_capture_on_commit_callbacks
):
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, variant = _card_order(fake_stripe, shop, price="30.00")
    assert StockItem.objects.get(variant=variant).on_hand == 4

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("refund", shop, order.number), {"amount": "10.00", "reason": "scratched", "refund_key": "a"})
    client.post(
        url("refund", shop, order.number), {"amount": "10.00", "reason": "scratched", "refund_key": "a"}
    )  # retried

    order.refresh_from_db()
    assert (order.amount_refunded, order.status) == (Decimal("10.00"), "paid")
    assert [m.subject for m in mail.outbox if "Refund" in m.subject] == [f"Refund on your order {order.number}"]
    assert StockItem.objects.get(variant=variant).on_hand == 4  # no goods back: no stock back
    assert payout_balance(shop=shop) == {"SGD": Decimal("18.40")}  # 27.60 owed, less 10.00, plus 0.80 commission back

    page = client.post(
        url("refund", shop, order.number), {"amount": "25.00", "reason": "returned", "refund_key": "b"}, follow=True
    ).content.decode()
    assert "Refund between 0.01 and" in page  # more than is left
    client.post(
        url("refund", shop, order.number),
        {"amount": "20.00", "reason": "returned", "refund_key": "c", "goods_returned": "on"},
    )
    order.refresh_from_db()
    assert (order.amount_refunded, order.status, order.restocked) == (Decimal("30.00"), "refunded", True)
    assert StockItem.objects.get(variant=variant).on_hand == 5
    assert payment_get_by_reference(reference=order.checkout.number).status == Payment.Status.REFUNDED
    assert payout_balance(shop=shop) == {"SGD": Decimal("0.00")}
    assert_ledger_balanced()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "abc", "reason": "x"}, "Enter the amount to refund"),
        ({"amount": "1.005", "reason": "x"}, "Enter the amount to refund"),
        ({"amount": "-5", "reason": "x"}, "Refund between 0.01"),
        ({"amount": "5.00", "reason": ""}, "Give a reason"),
    ],
)
def test_bad_refunds_are_refused_with_a_message(client, seller, fake_stripe, data, message):
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, _variant = _card_order(fake_stripe, shop)
    page = client.post(url("refund", shop, order.number), data, follow=True).content.decode()
    assert message in page
    assert Order.objects.get(pk=order.pk).amount_refunded == 0


def test_warehouse_staff_cannot_refund_or_take_payments(client, seller):
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    order, _variant = _pickup_order(shop)
    assert client.post(url("refund", shop, order.number), {"amount": "1.00", "reason": "x"}).status_code == 403
    assert client.post(url("collect", shop, order.number)).status_code == 403


def test_a_refund_made_in_the_admin_or_at_stripe_follows_onto_the_orders_and_payouts(fake_stripe):
    from apps.core.money import Money
    from apps.payments.services import payment_refund

    shop = ShopFactory()
    order, _variant = _card_order(fake_stripe, shop, price="30.00")
    payment = payment_get_by_reference(reference=order.checkout.number)

    payment_refund(payment=payment, amount=Money(Decimal("12.00"), "SGD"), reason="goodwill", reference="ADMIN-1")

    order.refresh_from_db()
    assert order.amount_refunded == Decimal("12.00")
    assert payout_balance(shop=shop) == {"SGD": Decimal("16.56")}  # 27.60 - 12.00 + 0.96

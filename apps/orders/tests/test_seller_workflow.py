"""The seller's order work: the queue (needs action first, counts, filters, dispatch deadlines), the
moves on one order (only those the state machine and the member's role allow), cancelling with a
refund and stock back, bulk actions, refunding and cancelling single lines, goods returned, and the
order's timeline for the seller and for the buyer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.inventory.models import StockItem
from apps.inventory.tests.checks import assert_ledger_balanced
from apps.orders.actors import Actor
from apps.orders.errors import FulfilmentError, TransitionNotAllowed
from apps.orders.models import Order, OrderEvent, OrderLine
from apps.orders.selectors import order_timeline
from apps.orders.services import (
    cart_add,
    cart_get_or_create,
    checkout_place,
    one_click_buy,
    one_click_settings_update,
    order_event_record,
    order_payment_collect,
)
from apps.orders.services_fulfilment import order_line_cancel, order_lines_refund, orders_transition_bulk
from apps.payments.models import Payment
from apps.payments.selectors import payment_get_by_reference, payout_balance
from apps.payments.tests.test_stripe_integration import save_card
from apps.shops.tests.factories import ShopFactory

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db

_keys = iter(range(10**6))


def pickup_order(shop, *items, paid=False):
    """A pay-on-pickup order in ``shop`` with one line per (price, quantity); ``paid``: collected at
    the counter. Returns the order and its variants."""
    items = items or (("20.00", 1),)
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    variants = []
    for n, (price, quantity) in enumerate(items):
        variant = stocked_variant(shop=shop, price=price, units=10, title=f"Item {n}")
        cart_add(cart=cart, variant=variant, quantity=quantity)
        variants.append(variant)
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=f"wf-{next(_keys)}",
        expected_total=sum(Decimal(price) * quantity for price, quantity in items),
    )
    order = result.checkout.orders.get()
    if paid:
        order_payment_collect(order=order, actor=None)
    return order, variants


def card_order(fake, shop, *, price="30.00", quantity=1):
    buyer, address = buyer_with_address()
    one_click_settings_update(user=buyer, enabled=True, address=address, card=save_card(fake, buyer))
    variant = stocked_variant(shop=shop, price=price, units=10)
    result = one_click_buy(
        buyer=buyer, variant=variant, quantity=quantity, idempotency_key=f"1c-{buyer.pk}-{variant.pk}-0"
    )
    return result.checkout.orders.get(), variant


def url(name, shop, *args):
    return reverse(f"orders_seller:{name}", args=[shop.slug, *args])


def on_hand(variant) -> int:
    return StockItem.objects.get(variant=variant).on_hand


def status(order) -> str:
    return Order.objects.get(pk=order.pk).status


def page_text(response) -> str:
    return response.content.decode()


def move(client, shop, order, to, **data):
    return client.post(url("move", shop, order.number), {"to": to, **data}, follow=True)


# --- the queue -----------------------------------------------------------------------------------


def test_the_queue_shows_what_needs_action_oldest_first_with_counts_and_overdue_orders(
    client, seller, django_assert_max_num_queries
):
    """By default the queue lists only orders waiting for the shop (paid, confirmed, accepted,
    packed), oldest first, with each status's count in the tabs, the dispatch deadline, and orders
    past it highlighted; a fixed number of queries whatever the number of orders."""
    shop = ShopFactory(dispatch_hours=24)
    seller(client, role="manager", shop=shop)
    now = timezone.now()
    orders = [pickup_order(shop)[0] for _ in range(5)]
    for age, order in zip((3, 30, 1, 2, 4), orders, strict=True):
        Order.objects.filter(pk=order.pk).update(placed_at=now - timedelta(hours=age))
    done = orders[4]
    Order.objects.filter(pk=done.pk).update(status="completed")
    _other_shop_order, _variants = pickup_order(ShopFactory())

    with django_assert_max_num_queries(10):
        page = page_text(client.get(url("list", shop)))

    listed = [n for n in (o.number for o in orders) if f'data-order="{n}"' in page]
    assert set(listed) == {o.number for o in orders[:4]}
    positions = sorted(orders[:4], key=lambda o: page.index(f'data-order="{o.number}"'))
    assert positions == [orders[1], orders[0], orders[3], orders[2]]  # oldest first
    assert "Needs action (4)" in page and "All (5)" in page and "Completed (1)" in page
    assert "Confirmed (pay on pickup) (4)" in page
    assert page.count("data-overdue") == 1  # placed 30 hours ago, dispatch time 24 hours
    overdue_row = page[page.index(f'data-order="{orders[1].number}"') :].split("</tr>")[0]
    assert "Overdue since" in overdue_row

    for _ in range(5):
        pickup_order(shop)
    with django_assert_max_num_queries(10):
        page = page_text(client.get(url("list", shop)))
    assert page.count('data-order="') == 9


def test_the_queue_filters_by_status_channel_and_customer(client, seller):
    """Tabs show one status (or all, newest first); the channel filter and the search (part of the
    number, the customer's email or name) narrow the list; bad filter values are ignored."""
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    first, second, third = (pickup_order(shop)[0] for _ in range(3))
    Order.objects.filter(pk=first.pk).update(status="cancelled")
    Order.objects.filter(pk=second.pk).update(channel="phone", customer_name="Siti Rahman")

    def numbers(**params):
        page = page_text(client.get(url("list", shop), params))
        return {o.number for o in (first, second, third) if f'data-order="{o.number}"' in page}

    assert numbers() == {second.number, third.number}
    assert numbers(view="all") == {first.number, second.number, third.number}
    assert numbers(view="all", status="cancelled") == {first.number}
    assert numbers(view="all", channel="phone") == {second.number}
    assert numbers(view="all", q=third.number[2:7].lower()) == {third.number}
    assert numbers(view="all", q="siti") == {second.number}
    assert numbers(view="all", q=third.buyer.email) == {third.number}
    assert numbers(view="bogus", status="nope", channel="fax") == {second.number, third.number}


# --- moves on one order --------------------------------------------------------------------------


def test_the_order_page_offers_only_the_moves_the_status_and_role_allow(client, seller):
    """A manager sees Accept and Cancel on a confirmed order (not Packed); warehouse staff see neither,
    and once the order is accepted they see Packed but still not Cancel."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    warehouse = Client()
    seller(warehouse, role="warehouse_staff", shop=shop)
    order, _variants = pickup_order(shop)

    page = page_text(client.get(url("detail", shop, order.number)))
    assert 'data-action="accepted"' in page and 'data-action="cancelled"' in page
    assert 'data-action="packed"' not in page
    page = page_text(warehouse.get(url("detail", shop, order.number)))
    assert "data-action=" not in page

    move(client, shop, order, "accepted")
    page = page_text(warehouse.get(url("detail", shop, order.number)))
    assert 'data-action="packed"' in page and 'data-action="cancelled"' not in page
    assert "lines-refund" in page and 'name="qty-' not in page  # no refund inputs for warehouse staff


def test_a_pickup_order_goes_through_every_step_from_the_order_page(client, seller):
    """Accept, pack, ready for pickup, collected and complete: each POST moves the order and writes an
    event naming the member, the seller channel and the time."""
    shop = ShopFactory()
    manager = seller(client, role="manager", shop=shop)
    warehouse_client = Client()
    warehouse = seller(warehouse_client, role="warehouse_staff", shop=shop)
    order, _variants = pickup_order(shop)

    steps = [
        (client, manager, "accepted"),
        (warehouse_client, warehouse, "packed"),
        (warehouse_client, warehouse, "ready_for_pickup"),
        (warehouse_client, warehouse, "delivered"),
        (client, manager, "completed"),
    ]
    for who, member, target in steps:
        page = page_text(move(who, shop, order, target))
        assert status(order) == target, page
        event = OrderEvent.objects.filter(order=order).latest("created_at", "pk")
        assert (event.to_status, event.actor_id, event.actor_kind, event.channel, event.actor_label) == (
            target,
            member.user_id,
            "member",
            "seller",
            member.user.email,
        )
        assert f"is now {Order.Status(target).label}" in page


def test_a_delivery_order_is_handed_over_not_made_ready_for_pickup(client, seller):
    """A delivery order is handed over after packing; "ready for pickup" is refused with the reason."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, _variants = pickup_order(shop)
    Order.objects.filter(pk=order.pk).update(fulfilment="delivery", status="packed")

    page = page_text(client.get(url("detail", shop, order.number)))
    assert 'data-action="out_for_delivery"' in page and 'data-action="ready_for_pickup"' not in page
    page = page_text(move(client, shop, order, "ready_for_pickup"))
    assert "is for Delivery: it cannot become Ready for pickup" in page
    move(client, shop, order, "out_for_delivery")
    assert status(order) == "out_for_delivery"
    move(client, shop, order, "delivered")
    assert status(order) == "delivered"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("completed", "it cannot become Completed"),
        ("paid", "it cannot become Paid"),
        ("refunded", "You may not move order"),  # the platform's move, not the shop's
        ("shipped-to-mars", "it cannot become shipped-to-mars"),
        ("", "it cannot become"),
    ],
)
def test_a_tampered_or_illegal_move_is_refused_with_the_reason(client, seller, target, message):
    """A move the state machine does not have, or one only the platform may make, shows the service's
    message (never a 500) and changes nothing."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, _variants = pickup_order(shop)
    response = move(client, shop, order, target)
    assert response.status_code == 200
    assert message in page_text(response)
    assert status(order) == "confirmed"
    assert OrderEvent.objects.filter(order=order).count() == 1  # only "placed"


def test_warehouse_staff_cannot_accept_cancel_or_refund(client, seller):
    """Warehouse staff may pack but not accept, cancel or refund: the move is refused with a message
    and the refund and line doors answer 403; nothing changes."""
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    order, _variants = pickup_order(shop, paid=True)

    assert "You may not move order" in page_text(move(client, shop, order, "accepted"))
    assert "You may not move order" in page_text(move(client, shop, order, "cancelled", reason="no stock"))
    line = order.lines.get()
    assert client.post(url("lines-refund", shop, order.number), {f"qty-{line.pk}": "1", "reason": "x"}).status_code == (
        403
    )
    assert client.post(url("line-cancel", shop, order.number), {"line": line.pk, "reason": "x"}).status_code == 403
    assert client.post(url("refund", shop, order.number), {"amount": "1.00", "reason": "x"}).status_code == 403
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("confirmed", Decimal("0"))

    with pytest.raises(TransitionNotAllowed):
        order_lines_refund(
            order=order,
            quantities={line.pk: 1},
            actor=Actor.member(order.shop.memberships.get(role="warehouse_staff")),
            reason="x",
        )


# --- cancelling ----------------------------------------------------------------------------------


def test_cancelling_needs_a_reason(client, seller):
    """Cancelling without a reason is refused: the buyer must be told why."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    order, _variants = pickup_order(shop)
    assert "Give a reason" in page_text(move(client, shop, order, "cancelled", reason="  "))
    assert status(order) == "confirmed"


def test_cancelling_a_paid_card_order_refunds_it_in_full_and_puts_the_stock_back(
    client, seller, fake_stripe, django_capture_on_commit_callbacks
):
    """The shop cancels a paid order: it is refunded in full through the card payment, the shop's
    payout gives the sale back, the units return to stock, the lines are cancelled, and the buyer
    gets one email (the cancellation, which says the refund) with the shop's reason."""
    shop = ShopFactory()
    member = seller(client, role="manager", shop=shop)
    order, variant = card_order(fake_stripe, shop, price="30.00", quantity=2)
    assert on_hand(variant) == 8
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        page = page_text(move(client, shop, order, "cancelled", reason="Oven broke down"))

    order.refresh_from_db()
    assert (order.status, order.amount_refunded, order.restocked) == ("cancelled", Decimal("60.00"), True)
    assert on_hand(variant) == 10
    assert set(order.lines.values_list("status", flat=True)) == {"cancelled"}
    assert payment_get_by_reference(reference=order.checkout.number).status == Payment.Status.REFUNDED
    assert payout_balance(shop=shop) == {"SGD": Decimal("0.00")}
    cancelled = order.events.get(to_status="cancelled")
    assert (cancelled.reason, cancelled.actor_id, cancelled.channel) == ("Oven broke down", member.user_id, "seller")
    assert order.events.filter(kind="refund").count() == 1
    cancelled_mail = [m for m in mail.outbox if m.subject == f"Your order {order.number} is cancelled"]
    assert len(cancelled_mail) == 1
    assert not [m for m in mail.outbox if m.subject.startswith("Refund on")]  # the cancellation says it
    assert "Oven broke down" in cancelled_mail[0].body and "$60.00 is refunded" in cancelled_mail[0].body
    assert "is now Cancelled" in page
    assert_ledger_balanced()


def test_cancelling_a_pay_on_pickup_order_never_collected_puts_the_stock_back_without_a_refund(client, seller):
    """Nothing was paid: the order is cancelled, its stock comes back and its counter payment is
    cancelled (it can no longer be taken); no refund is made."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, (variant,) = pickup_order(shop, ("12.00", 3))
    assert on_hand(variant) == 7

    move(client, shop, order, "cancelled", reason="Customer phoned to cancel")

    order.refresh_from_db()
    assert (order.status, order.amount_refunded, order.restocked) == ("cancelled", Decimal("0"), True)
    assert on_hand(variant) == 10
    assert payment_get_by_reference(reference=order.number).status == Payment.Status.CANCELED
    assert not order.refunds_recorded.exists()
    assert_ledger_balanced()


def test_cancelling_a_collected_pay_on_pickup_order_refunds_the_counter_payment(client, seller):
    """Paid at the counter, then cancelled: the money is given back (a manual refund) and the stock too."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, (variant,) = pickup_order(shop, ("12.00", 2), paid=True)

    move(client, shop, order, "cancelled", reason="Item damaged")

    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("cancelled", Decimal("24.00"))
    assert on_hand(variant) == 10
    assert payout_balance(shop=shop) == {"SGD": Decimal("0.00")}


# --- bulk ----------------------------------------------------------------------------------------


def test_bulk_accept_moves_the_good_orders_and_reports_the_rest(client, seller):
    """Accepting five checked orders at once: the three that can be accepted are, the one already
    packed is reported with the reason, and another shop's number is reported as not found and left
    alone, all in one message."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    good = [pickup_order(shop)[0] for _ in range(3)]
    packed, _variants = pickup_order(shop)
    Order.objects.filter(pk=packed.pk).update(status="packed")
    foreign, _variants = pickup_order(ShopFactory())

    page = page_text(
        client.post(
            url("bulk", shop),
            {"to": "accepted", "numbers": [o.number for o in (*good, packed, foreign)]},
            follow=True,
        )
    )

    assert [status(o) for o in good] == ["accepted"] * 3
    assert status(packed) == "packed" and status(foreign) == "confirmed"
    assert not OrderEvent.objects.filter(order=foreign, to_status="accepted").exists()
    assert "3 accepted" in page
    assert f"{packed.number} could not: Order {packed.number} is Packed: it cannot become Accepted." in page
    assert f"{foreign.number} could not: Order {foreign.number} was not found in this shop." in page


def test_bulk_cancel_needs_a_reason_and_then_refunds_and_restocks_each(client, seller):
    """Bulk cancelling without a reason cancels nothing (each order says why); with a reason each order
    is cancelled with its stock back."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    made = [pickup_order(shop, ("8.00", 2)) for _ in range(2)]
    numbers = [order.number for order, _variants in made]

    page = page_text(client.post(url("bulk", shop), {"to": "cancelled", "numbers": numbers}, follow=True))
    assert page.count("Give a reason") == 2
    assert {status(order) for order, _v in made} == {"confirmed"}

    page = page_text(
        client.post(url("bulk", shop), {"to": "cancelled", "numbers": numbers, "reason": "Closed today"}, follow=True)
    )
    assert "2 cancelled" in page
    assert {status(order) for order, _v in made} == {"cancelled"}
    assert [on_hand(variants[0]) for _order, variants in made] == [10, 10]


def test_bulk_refuses_what_the_role_may_not_do_and_bad_requests(client, seller):
    """Warehouse staff may bulk pack but not bulk accept; an unknown action or no selection is a
    message, never a 500."""
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    order, _variants = pickup_order(shop)
    page = page_text(client.post(url("bulk", shop), {"to": "accepted", "numbers": [order.number]}, follow=True))
    assert f"{order.number} could not: You may not move order" in page
    page = page_text(client.get(url("list", shop)))
    assert 'value="packed"' in page and 'value="accepted"' not in page  # the actions offered
    page = page_text(client.post(url("bulk", shop), {"to": "completed", "numbers": [order.number]}, follow=True))
    assert "Choose what to do with the selected orders." in page
    page = page_text(client.post(url("bulk", shop), {"to": "packed"}, follow=True))
    assert "Select at least one order." in page
    assert status(order) == "confirmed"


def test_bulk_cancel_rolls_back_only_the_order_that_failed_half_way(seller, client, monkeypatch):
    """Each order is cancelled in its own savepoint: when putting one order's stock back fails after
    its status was already changed, that order is left exactly as it was (no status change, no event)
    and reported, while the others are cancelled."""
    from apps.inventory.errors import StockError
    from apps.orders import services_fulfilment

    shop = ShopFactory()
    member = seller(client, role="owner", shop=shop)
    a, _v = pickup_order(shop)
    b, _v = pickup_order(shop)
    real_stock_return = services_fulfilment.stock_return

    def failing_for_b(**kwargs):
        if kwargs["reference"] == b.number:
            raise StockError("The stock location is closed.")
        return real_stock_return(**kwargs)

    monkeypatch.setattr(services_fulfilment, "stock_return", failing_for_b)
    result = orders_transition_bulk(
        shop=shop, numbers=[a.number, b.number, "LBNOPE"], to="cancelled", actor=Actor.member(member), reason="x"
    )
    assert result.done == [a.number]
    assert sorted(result.failed) == sorted(
        [(b.number, "The stock location is closed."), ("LBNOPE", "Order LBNOPE was not found in this shop.")]
    )
    assert (status(a), status(b)) == ("cancelled", "confirmed")
    assert not OrderEvent.objects.filter(order=b, to_status="cancelled").exists()


# --- lines ---------------------------------------------------------------------------------------


def test_refunding_chosen_units_of_lines_computes_the_amount_and_returns_exactly_those_units(client, seller):
    """Refund 1 of a 2 × 10.00 line and 2 of a 3 × 5.00 line with the goods back: 20.00 is refunded,
    exactly those units return to stock, the lines are partly refunded; refunding the rest (goods
    kept) makes the lines and the order refunded; a retried request refunds once."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    order, (jar, cup) = pickup_order(shop, ("10.00", 2), ("5.00", 3), paid=True)
    line_jar, line_cup = order.lines.order_by("pk")
    assert (on_hand(jar), on_hand(cup)) == (8, 7)

    data = {
        f"qty-{line_jar.pk}": "1",
        f"qty-{line_cup.pk}": "2",
        "reason": "Dented",
        "goods_returned": "on",
        "refund_key": "r1",
    }
    page = page_text(client.post(url("lines-refund", shop, order.number), data, follow=True))
    client.post(url("lines-refund", shop, order.number), data)  # retried

    assert "Items refunded" in page
    order.refresh_from_db()
    line_jar.refresh_from_db()
    line_cup.refresh_from_db()
    assert order.amount_refunded == Decimal("20.00") and order.status == "confirmed"
    assert (line_jar.status, line_jar.quantity_refunded, line_jar.quantity_returned) == ("partially_refunded", 1, 1)
    assert (line_cup.status, line_cup.quantity_refunded, line_cup.quantity_returned) == ("partially_refunded", 2, 2)
    assert (on_hand(jar), on_hand(cup)) == (9, 9)
    refund_event = order.events.get(kind="refund")
    assert refund_event.data["lines"] == [
        {"sku": line_jar.sku, "title": line_jar.title, "quantity": 1},
        {"sku": line_cup.sku, "title": line_cup.title, "quantity": 2},
    ]

    client.post(
        url("lines-refund", shop, order.number),
        {f"qty-{line_jar.pk}": "1", f"qty-{line_cup.pk}": "1", "reason": "Rest", "refund_key": "r2"},
    )
    order.refresh_from_db()
    assert (order.amount_refunded, order.status) == (Decimal("35.00"), "refunded")
    assert set(order.lines.values_list("status", flat=True)) == {"refunded"}
    assert (on_hand(jar), on_hand(cup)) == (9, 9)  # goods kept by the buyer this time
    assert payout_balance(shop=shop) == {"SGD": Decimal("0.00")}
    assert_ledger_balanced()


def test_a_full_refund_with_goods_back_after_a_line_refund_returns_only_the_rest(client, seller):
    """The free-amount refund's "goods came back" puts back only the units not already returned by a
    line refund, so stock is never counted twice."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, (jar,) = pickup_order(shop, ("10.00", 3), paid=True)
    line = order.lines.get()
    client.post(
        url("lines-refund", shop, order.number),
        {f"qty-{line.pk}": "1", "reason": "Cracked", "goods_returned": "on", "refund_key": "a"},
    )
    assert on_hand(jar) == 8
    client.post(url("refund", shop, order.number), {"amount": "20.00", "reason": "All back", "goods_returned": "on"})
    order.refresh_from_db()
    line.refresh_from_db()
    assert (order.amount_refunded, order.restocked, line.quantity_returned) == (Decimal("30.00"), True, 3)
    assert on_hand(jar) == 10
    assert_ledger_balanced()


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("3", "You can refund at most 2 of"),
        ("-1", "Enter a whole number of items to refund"),
        ("1.5", "Enter a whole number of items to refund"),
        ("0", "Choose how many of which items to refund."),
    ],
)
def test_bad_line_refunds_are_refused_with_a_message(client, seller, qty, message):
    """More units than are left, negative or fractional units, or nothing chosen: a message, no refund."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, _variants = pickup_order(shop, ("10.00", 2), paid=True)
    line = order.lines.get()
    page = page_text(
        client.post(url("lines-refund", shop, order.number), {f"qty-{line.pk}": qty, "reason": "x"}, follow=True)
    )
    assert message in page
    assert Order.objects.get(pk=order.pk).amount_refunded == 0


def test_a_line_refund_shares_out_the_order_discount_and_never_names_another_orders_line(seller, client):
    """With a discount on the order, a line's refund is its share of what was paid; another order's
    line id is refused."""
    shop = ShopFactory()
    member = seller(client, role="owner", shop=shop)
    order, _variants = pickup_order(shop, ("10.00", 2), ("20.00", 1), paid=True)
    Order.objects.filter(pk=order.pk).update(discount=Decimal("10.00"), total=Decimal("30.00"))
    order.refresh_from_db()
    other, _variants = pickup_order(shop, paid=True)
    first = order.lines.order_by("pk").first()

    with pytest.raises(FulfilmentError, match="not on order"):
        order_lines_refund(order=order, quantities={other.lines.get().pk: 1}, actor=Actor.member(member), reason="x")
    order = order_lines_refund(order=order, quantities={first.pk: 1}, actor=Actor.member(member), reason="x")
    assert order.amount_refunded == Decimal("7.50")  # 10.00 of 40.00 in list prices, 30.00 paid


def test_cancelling_a_line_before_packing_refunds_it_and_puts_it_back_in_stock(client, seller):
    """The shop cannot supply one item: that line is refunded at its price, cancelled and restocked;
    the rest of the order goes on. Twice changes nothing more. After packing it is refused."""
    shop = ShopFactory()
    seller(client, role="manager", shop=shop)
    order, (jar, cup) = pickup_order(shop, ("10.00", 2), ("5.00", 3), paid=True)
    line_jar, line_cup = order.lines.order_by("pk")

    data = {"line": line_cup.pk, "reason": "Out of cups"}
    page = page_text(client.post(url("line-cancel", shop, order.number), data, follow=True))
    client.post(url("line-cancel", shop, order.number), data)

    assert "Item cancelled and refunded" in page
    order.refresh_from_db()
    line_cup.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("confirmed", Decimal("15.00"))
    assert (line_cup.status, line_cup.quantity_refunded, line_cup.quantity_returned) == ("cancelled", 3, 3)
    assert (on_hand(jar), on_hand(cup)) == (8, 10)
    assert order.events.get(kind="refund").data["cancelled"] is True

    move(client, shop, order, "accepted")
    Order.objects.filter(pk=order.pk).update(status="packed")
    page = page_text(
        client.post(url("line-cancel", shop, order.number), {"line": line_jar.pk, "reason": "x"}, follow=True)
    )
    assert "items can only be cancelled before the order is packed" in page
    assert OrderLine.objects.get(pk=line_jar.pk).status == "open"


def test_a_line_of_an_unpaid_pay_on_pickup_order_cannot_be_cancelled(client, seller):
    """The counter payment is for the whole order: the seller is told to take it first or cancel the
    order; a line id of another order is refused the same way as a missing one."""
    shop = ShopFactory()
    member = seller(client, role="owner", shop=shop)
    order, _variants = pickup_order(shop, ("10.00", 1), ("5.00", 1))
    line = order.lines.order_by("pk").first()
    page = page_text(client.post(url("line-cancel", shop, order.number), {"line": line.pk, "reason": "x"}, follow=True))
    assert "has not been paid yet: take the payment first, or cancel the whole order." in page
    other, _variants = pickup_order(shop, paid=True)
    page = page_text(
        client.post(url("line-cancel", shop, order.number), {"line": other.lines.get().pk, "reason": "x"}, follow=True)
    )
    assert "That item is not on order" in page
    with pytest.raises(FulfilmentError):
        order_line_cancel(order=order, line_id=line.pk, actor=Actor.member(member), reason="")
    assert set(OrderLine.objects.filter(order__in=[order, other]).values_list("status", flat=True)) == {"open"}


# --- goods returned ------------------------------------------------------------------------------


def test_marking_goods_returned_puts_them_back_in_stock_and_can_refund_the_rest(client, seller):
    """A collected pickup order comes back: returned (with the reason), every unit back in stock, and
    with "refund" the money is given back and the order ends refunded."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order, (jar,) = pickup_order(shop, ("10.00", 2), paid=True)
    Order.objects.filter(pk=order.pk).update(status="delivered")

    page = page_text(client.get(url("detail", shop, order.number)))
    assert 'data-action="returned"' in page and 'data-action="completed"' in page
    assert "Give a reason" in page_text(move(client, shop, order, "returned"))
    move(client, shop, order, "returned", reason="Wrong size", refund="on", refund_key="k")

    order.refresh_from_db()
    assert (order.status, order.amount_refunded, order.restocked) == ("refunded", Decimal("20.00"), True)
    assert on_hand(jar) == 10
    assert order.lines.get().status == "returned"
    assert list(order.events.filter(kind="transition").values_list("to_status", flat=True)) == [
        "confirmed",
        "returned",
        "refunded",
    ]


# --- timeline ------------------------------------------------------------------------------------


def test_the_timeline_tells_the_seller_who_did_what_and_the_buyer_in_plain_words(client, seller, login_verified):
    """The seller's timeline names the member (email), the channel and the reason of each event,
    refunds with their amount, and internal processing notes; the buyer's page tells the same story
    as "the shop" and "you", without staff emails or internal notes."""
    shop = ShopFactory()
    member = seller(client, role="owner", shop=shop)
    order, _variants = pickup_order(shop, ("10.00", 2), paid=True)
    move(client, shop, order, "accepted")
    line = order.lines.get()
    client.post(url("lines-refund", shop, order.number), {f"qty-{line.pk}": "1", "reason": "Chipped lid"})
    order_event_record(order=order, kind=OrderEvent.Kind.PIPELINE, reason="re-pushed", data={"step": "confirm"})
    move(client, shop, order, "cancelled", reason="Shop closing for renovation")

    page = page_text(client.get(url("detail", shop, order.number)))
    timeline = page[page.index("order-timeline") :]
    assert "Order placed" in timeline and "Confirmed (pay on pickup) → Accepted" in timeline
    assert member.user.email in timeline and "via seller" in timeline
    assert "$10.00 refunded" in timeline and "Chipped lid" in timeline and "1 × Item 0" in timeline
    assert "Shop closing for renovation" in timeline and "step: confirm" in timeline

    entries = order_timeline(order=order, audience="buyer")
    assert [e.title for e in entries] == [
        "Order placed",
        "The shop accepted your order",
        "$10.00 refunded",
        "Order cancelled",
        "$10.00 refunded",
    ]
    assert {e.who for e in entries} == {"You", "The shop"}

    buyer_client = Client()
    login_verified(buyer_client, order.buyer)
    buyer_page = page_text(buyer_client.get(reverse("orders:order", args=[order.number])))
    story = buyer_page[buyer_page.index("order-timeline") :]
    assert "The shop accepted your order" in story and "Shop closing for renovation" in story
    assert "The shop" in story and "(You)" in story
    assert member.user.email not in buyer_page and "step: confirm" not in buyer_page and "Processing" not in story


# --- tenancy -------------------------------------------------------------------------------------


def test_another_shops_order_is_not_found_on_every_new_door(client, seller):
    """Moves, line refunds and line cancels name orders by number: another shop's number is 404 (and
    untouched), as is the bulk door under another shop's slug."""
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    foreign, _variants = pickup_order(ShopFactory(), paid=True)
    line = foreign.lines.get()
    assert client.get(url("detail", shop, foreign.number)).status_code == 404
    assert client.post(url("move", shop, foreign.number), {"to": "accepted"}).status_code == 404
    assert client.post(url("move", shop, foreign.number), {"to": "cancelled", "reason": "x"}).status_code == 404
    assert (
        client.post(url("lines-refund", shop, foreign.number), {f"qty-{line.pk}": "1", "reason": "x"}).status_code
        == 404
    )
    assert client.post(url("line-cancel", shop, foreign.number), {"line": line.pk, "reason": "x"}).status_code == 404
    assert client.post(url("bulk", foreign.shop), {"to": "accepted", "numbers": [foreign.number]}).status_code == 404
    foreign.refresh_from_db()
    assert (foreign.status, foreign.amount_refunded) == ("confirmed", Decimal("0"))

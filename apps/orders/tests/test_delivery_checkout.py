"""Same-day delivery in the orders app: the checkout's fulfilment step (slots with their fee), placing
with a slot (booking, fee in the totals), refusals that make nothing, the slot following the
payment (held, confirmed, released with the stock), 1-Click's delivery default, the delivery
app's runs and stops moving orders, the order page, and the late-delivery warning."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.services import address_create
from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.delivery.models import DeliveryRun, SlotBooking
from apps.delivery.services_runs import delivery_run_build, delivery_run_start
from apps.delivery.tests.factories import CourierFactory, DeliverySlotFactory, DeliveryZoneFactory, delivering_shop
from apps.inventory.models import StockItem
from apps.orders.actors import Actor
from apps.orders.errors import CheckoutError
from apps.orders.models import Checkout, Order, OrderWarning
from apps.orders.services import (
    cart_add,
    cart_get_or_create,
    checkout_paid,
    checkout_place,
    checkouts_expire,
    fulfilment_options,
    one_click_buy,
    one_click_settings_update,
    order_transition,
)
from apps.orders.services_delivery import warnings_scan_delivery_late
from apps.payments.selectors import payment_get_by_reference
from apps.payments.services import payment_collect, payment_refresh
from apps.payments.tests.test_stripe_integration import save_card
from apps.shops.tests.factories import ShopFactory

from .factories import buyer_with_address, stocked_variant
from .test_card_and_one_click import pay_in_browser

pytestmark = pytest.mark.django_db


def local_day(shop, days: int = 0):
    return (timezone.now().astimezone(ZoneInfo(shop.time_zone)) + timedelta(days=days)).date()


def tomorrow_slot(shop, *, capacity: int = 5, starts=time(14, 0), ends=time(16, 0), cutoff=time(12, 0)):
    """A slot running tomorrow (shop time): always open for orders today."""
    day = local_day(shop, 1)
    slot = DeliverySlotFactory(
        shop=shop, weekday=day.weekday(), starts=starts, ends=ends, cutoff=cutoff, capacity=capacity
    )
    return slot, day


def code(slot, day) -> str:
    return f"delivery:{slot.pk}:{day.isoformat()}"


def place(buyer, address, variant, *, fulfilment: str, quantity: int = 1, method="pay_on_pickup", expected=None, key):
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=variant, quantity=quantity)
    return checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method=method,
        idempotency_key=key,
        expected_total=expected,
        fulfilments={variant.shop_id: fulfilment},
    )


@pytest.fixture
def shop():
    """A Singapore shop delivering within 5 km (fee 6.00, free from 80.00), with pickup too."""
    return delivering_shop()


@pytest.fixture
def buyer():
    """A buyer whose address (Tiong Bahru Road) is inside the shop's zone."""
    return buyer_with_address(email="mei@example.com")


def far_buyer():
    user = UserFactory()
    return user, address_create(
        user=user, recipient_name="Ah Kow", phone="+65 9000 0000", line1="1 Changi Village", postcode="499999"
    )


def staff_actor():
    return Actor.staff(UserFactory(is_staff=True))


def pack(order):
    actor = staff_actor()
    order_transition(order=order, to=Order.Status.ACCEPTED, actor=actor)
    order_transition(order=order, to=Order.Status.PACKED, actor=actor)


# --- the fulfilment step --------------------------------------------------------------------------------


def test_the_checkout_offers_pickup_and_each_open_slot_with_its_fee(shop, buyer):
    """For an address inside the zone: pickup first, then tomorrow's slot with the flat fee (free from
    the shop's threshold); without an address, pickup only."""
    _user, address = buyer
    slot, day = tomorrow_slot(shop)

    options = fulfilment_options(shop=shop, address=address.snapshot(), subtotal=Decimal("20.00"))

    assert [(o.code, o.fee) for o in options] == [("pickup", Decimal("0")), (code(slot, day), Decimal("6.00"))]
    assert "14:00" in options[1].label
    assert fulfilment_options(shop=shop, address=address.snapshot(), subtotal=Decimal("80.00"))[1].fee == 0
    assert [o.code for o in fulfilment_options(shop=shop, address=None)] == ["pickup"]


def test_no_slot_is_offered_outside_the_zone_or_when_the_shop_does_not_deliver(shop):
    """An address outside the zone, or a shop without a zone, gets pickup only."""
    tomorrow_slot(shop)
    _user, far = far_buyer()
    assert [o.code for o in fulfilment_options(shop=shop, address=far.snapshot())] == ["pickup"]
    plain = ShopFactory()
    tomorrow_slot(plain)
    _u, near = buyer_with_address()
    assert [o.code for o in fulfilment_options(shop=plain, address=near.snapshot())] == ["pickup"]


# --- placing with a slot ----------------------------------------------------------------------------------


def test_placing_with_a_slot_books_it_and_the_fee_is_in_every_total(shop, buyer):
    """The order is for delivery, carries the fee (total = subtotal + fee, the checkout's too), and its
    place in the slot is booked under its number, with the address, the buyer's email, the parcel
    weight and the item count; paid on delivery it is confirmed at once."""
    user, address = buyer
    slot, day = tomorrow_slot(shop)
    variant = stocked_variant(shop=shop, price="12.50", units=5)
    variant.weight_grams = 400
    variant.save(update_fields=["weight_grams"])

    result = place(user, address, variant, fulfilment=code(slot, day), quantity=2, expected=Decimal("31.00"), key="d1")

    order = result.checkout.orders.get()
    assert (order.fulfilment, order.subtotal, order.delivery_fee, order.total) == (
        "delivery",
        Decimal("25.00"),
        Decimal("6.00"),
        Decimal("31.00"),
    )
    assert result.checkout.total == Decimal("31.00")
    assert payment_get_by_reference(reference=order.number).amount == Decimal("31.00")
    booking = SlotBooking.objects.get(reference=order.number)
    assert (booking.slot_id, booking.date, booking.status, booking.fee) == (slot.pk, day, "confirmed", Decimal("6.00"))
    assert (booking.weight_grams, booking.items) == (800, 2)
    assert booking.address["email"] == "mei@example.com" and booking.address["postcode"] == address.postcode


def test_the_expected_total_must_include_the_delivery_fee(shop, buyer):
    """A page total without the fee no longer matches: a clear message with the new total, nothing made."""
    user, address = buyer
    slot, day = tomorrow_slot(shop)
    variant = stocked_variant(shop=shop, price="10.00")

    with pytest.raises(CheckoutError, match="total changed") as exc:
        place(user, address, variant, fulfilment=code(slot, day), expected=Decimal("10.00"), key="d2")

    assert "16.00" in exc.value.message
    assert not Order.objects.exists() and not SlotBooking.objects.exists()


def test_a_full_slot_is_refused_and_nothing_is_made(shop, buyer):
    """The slot's last place goes to the first buyer; the next checkout for it is refused with a
    message saying it is full, and makes no checkout, order, booking or stock hold."""
    slot, day = tomorrow_slot(shop, capacity=1)
    variant = stocked_variant(shop=shop, price="10.00", units=5)
    first_user, first_address = buyer
    place(first_user, first_address, variant, fulfilment=code(slot, day), key="full-1")
    user, address = buyer_with_address()

    with pytest.raises(CheckoutError, match="is full") as exc:
        place(user, address, variant, fulfilment=code(slot, day), key="full-2")

    assert exc.value.code == "slot-full"
    assert Checkout.objects.count() == Order.objects.count() == SlotBooking.objects.count() == 1
    assert StockItem.objects.get(variant=variant).on_hand == 4
    assert cart_get_or_create(user=user).lines.count() == 1  # the cart is kept to try again


def test_an_address_outside_the_zone_is_refused(shop):
    """A slot code sent for an address the shop does not reach: refused, nothing made."""
    slot, day = tomorrow_slot(shop)
    user, far = far_buyer()
    variant = stocked_variant(shop=shop)
    with pytest.raises(CheckoutError, match="does not deliver to 499999") as exc:
        place(user, far, variant, fulfilment=code(slot, day), key="far")
    assert exc.value.code == "outside-zone"
    assert not Order.objects.exists() and not Checkout.objects.exists()


def test_a_slot_past_its_cut_off_is_refused(shop, buyer):
    """Today's slot whose order-by time has passed cannot be booked any more."""
    user, address = buyer
    today = local_day(shop)
    slot = DeliverySlotFactory(
        shop=shop, weekday=today.weekday(), starts=time(0, 1), ends=time(0, 30), cutoff=time(0, 0)
    )
    with pytest.raises(CheckoutError, match="closed for orders") as exc:
        place(user, address, stocked_variant(shop=shop), fulfilment=code(slot, today), key="late")
    assert exc.value.code == "slot-closed" and not Order.objects.exists()


def test_a_shop_that_does_not_deliver_refuses_a_slot(buyer):
    """A delivery code for a shop without same-day delivery: a clear error, nothing made."""
    plain = ShopFactory()
    slot, day = tomorrow_slot(plain)
    user, address = buyer
    with pytest.raises(CheckoutError, match="does not deliver the same day") as exc:
        place(user, address, stocked_variant(shop=plain), fulfilment=code(slot, day), key="plain")
    assert exc.value.code == "no-delivery" and not Order.objects.exists()


def test_a_shop_without_pickup_or_delivery_to_the_address_is_named(buyer):
    """No pickup and no slot for this address: the message names the shop and what to do."""
    no_pickup = ShopFactory(offers_pickup=False, name="Far Away Farm")
    user, address = buyer
    with pytest.raises(CheckoutError, match="Far Away Farm do not offer pickup") as exc:
        place(user, address, stocked_variant(shop=no_pickup), fulfilment="", method="card", key="none")
    assert exc.value.code == "no-fulfilment"


def test_a_shop_without_pickup_defaults_to_its_earliest_slot(buyer):
    """Nothing chosen and no pickup: the order goes in the earliest open slot, fee included."""
    shop = ShopFactory(offers_pickup=False)
    DeliveryZoneFactory(shop=shop)
    slot, day = tomorrow_slot(shop)
    user, address = buyer
    result = place(user, address, stocked_variant(shop=shop, price="10.00"), fulfilment="", key="auto")
    order = result.checkout.orders.get()
    assert (order.fulfilment, order.total) == ("delivery", Decimal("16.00"))
    assert SlotBooking.objects.get(reference=order.number).slot_id == slot.pk


# --- the slot follows the payment -------------------------------------------------------------------------


def test_a_card_checkout_holds_the_slot_until_paid_then_confirms_it(shop, buyer, fake_stripe):
    """Paying by card: the place is held until the checkout expires, and confirmed when the payment
    succeeds."""
    user, address = buyer
    slot, day = tomorrow_slot(shop)
    result = place(user, address, stocked_variant(shop=shop), fulfilment=code(slot, day), method="card", key="card")
    order = result.checkout.orders.get()
    booking = SlotBooking.objects.get(reference=order.number)
    assert booking.status == "held" and booking.hold_until == result.checkout.expires_at

    payment = payment_get_by_reference(reference=result.checkout.number)
    pay_in_browser(fake_stripe, payment.stripe_payment_intent_id)
    payment_refresh(payment=payment)

    order.refresh_from_db()
    booking.refresh_from_db()
    assert order.status == "paid" and booking.status == "confirmed" and booking.hold_until is None


def test_a_payment_not_made_in_time_releases_the_slot_with_the_stock(shop, buyer, fake_stripe):
    """The checkout expires: the order's payment failed, its stock hold and its place in the slot
    are both given back (another buyer can take the place)."""
    user, address = buyer
    slot, day = tomorrow_slot(shop, capacity=1)
    variant = stocked_variant(shop=shop, units=1)
    result = place(user, address, variant, fulfilment=code(slot, day), method="card", key="exp")

    checkouts_expire(now=timezone.now() + timedelta(hours=1))

    order = result.checkout.orders.get()
    booking = SlotBooking.objects.get(reference=order.number)
    assert order.status == "payment_failed"
    assert (booking.status, booking.released_reason) == ("released", "payment not received")
    assert StockItem.objects.get(variant=variant).reserved == 0
    assert [o.code for o in fulfilment_options(shop=shop, address=address.snapshot())][1:] == [code(slot, day)]


def test_a_late_payment_takes_the_slot_again_when_there_is_room(shop, buyer, fake_stripe):
    """Paid after the hold ran out: the order is paid and its place in the same slot is booked again."""
    user, address = buyer
    slot, day = tomorrow_slot(shop)
    result = place(user, address, stocked_variant(shop=shop), fulfilment=code(slot, day), method="card", key="lt")
    checkouts_expire(now=timezone.now() + timedelta(hours=1))

    checkout_paid(number=result.checkout.number)

    order = result.checkout.orders.get()
    assert order.status == "paid"
    assert SlotBooking.objects.get(reference=order.number).status == "confirmed"


def test_cancelling_an_order_releases_its_slot(shop, buyer):
    """A cancelled delivery order gives its place back."""
    user, address = buyer
    slot, day = tomorrow_slot(shop)
    order = place(user, address, stocked_variant(shop=shop), fulfilment=code(slot, day), key="c").checkout.orders.get()

    order_transition(order=order, to=Order.Status.CANCELLED, actor=staff_actor(), reason="buyer phoned")

    assert SlotBooking.objects.get(reference=order.number).status == "released"


def test_refunding_an_order_in_full_before_it_leaves_releases_its_slot(shop, buyer, fake_stripe):
    """Refunded in full while still at the shop, the order will not be delivered: its place goes
    back (an order refunded after it went out keeps its booking: the run carried it)."""
    from apps.orders.services import order_refund

    user, address = buyer
    slot, day = tomorrow_slot(shop)
    variant = stocked_variant(shop=shop, price="30.00")
    order = place(user, address, variant, fulfilment=code(slot, day), key="r1").checkout.orders.get()
    order_payment = payment_get_by_reference(reference=order.number)
    payment_collect(payment=order_payment, actor=None)  # paid to the courier ahead, say
    order.refresh_from_db()
    order_refund(order=order, amount=Money(order.total, order.currency), reason="out of stock after all")
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert SlotBooking.objects.get(reference=order.number).status == "released"


# --- 1-Click ------------------------------------------------------------------------------------------------


@pytest.fixture
def one_click_delivery_buyer(fake_stripe):
    user, address = buyer_with_address(email="oc@example.com")
    card = save_card(fake_stripe, user)
    one_click_settings_update(user=user, enabled=True, address=address, card=card, fulfilment="delivery")
    return user


def _one_click(user, variant):
    return one_click_buy(buyer=user, variant=variant, quantity=1, idempotency_key=f"1c-{user.pk}-{variant.pk}-0")


def test_one_click_with_delivery_takes_the_earliest_open_slot(shop, one_click_delivery_buyer):
    """Delivery as the 1-Click default: the earliest open slot, its fee charged with the items."""
    later, day = tomorrow_slot(shop, starts=time(18, 0), ends=time(20, 0), cutoff=time(16, 0))
    earlier, _day = tomorrow_slot(shop)
    variant = stocked_variant(shop=shop, price="10.00")

    result = _one_click(one_click_delivery_buyer, variant)

    order = result.checkout.orders.get()
    assert (order.status, order.fulfilment, order.total) == ("paid", "delivery", Decimal("16.00"))
    booking = SlotBooking.objects.get(reference=order.number)
    assert (booking.slot_id, booking.status) == (earlier.pk, "confirmed")
    assert later.pk != earlier.pk


def test_one_click_with_delivery_falls_back_to_pickup_without_a_slot(one_click_delivery_buyer):
    """No open slot (the shop does not deliver): pickup, when the shop offers it."""
    variant = stocked_variant(price="10.00")
    order = _one_click(one_click_delivery_buyer, variant).checkout.orders.get()
    assert (order.fulfilment, order.total) == ("pickup", Decimal("10.00"))


def test_one_click_says_what_to_do_when_neither_pickup_nor_a_slot_is_possible(one_click_delivery_buyer):
    """No pickup and no slot: a clear message, nothing made."""
    variant = stocked_variant(shop=ShopFactory(offers_pickup=False, name="Hill Farm"))
    with pytest.raises(CheckoutError, match="Hill Farm does not offer pickup") as exc:
        _one_click(one_click_delivery_buyer, variant)
    assert exc.value.code == "no-fulfilment" and not Order.objects.exists()


def test_the_one_click_settings_page_saves_the_delivery_default(client):
    """The buyer picks delivery as the 1-Click default on the settings page."""
    user, address = buyer_with_address()
    client.force_login(user)
    page = client.get(reverse("orders:one-click")).content.decode()
    assert 'name="fulfilment" value="delivery"' in page

    client.post(reverse("orders:one-click"), {"enabled": "on", "address": address.pk, "fulfilment": "delivery"})

    assert user.one_click.fulfilment == "delivery"
    bad = client.post(reverse("orders:one-click"), {"enabled": "on", "fulfilment": "drone"}, follow=True)
    assert "Choose pickup or delivery" in bad.content.decode()


# --- the checkout page -------------------------------------------------------------------------------------


def test_the_checkout_page_shows_the_slots_with_fee_and_places_the_chosen_one(client, shop, buyer):
    """The page lists pickup and the slot with its fee; choosing the slot and updating shows the total
    with the fee; placing from that page makes a delivery order in that slot."""
    user, address = buyer
    slot, day = tomorrow_slot(shop)
    variant = stocked_variant(shop=shop, price="10.00")
    cart_add(cart=cart_get_or_create(user=user), variant=variant)
    client.force_login(user)

    page = client.get(reverse("orders:checkout")).content.decode()
    assert f'value="{code(slot, day)}"' in page and "6.00" in page and "places left" in page

    form = {
        "address": address.pk,
        "payment_method": "pay_on_pickup",
        f"fulfilment_{shop.pk}": code(slot, day),
        "idempotency_key": "page-1",
        "expected_total": "10.00",
        "refresh": "1",
    }
    updated = client.post(reverse("orders:checkout"), form).content.decode()
    assert 'name="expected_total" value="16.00"' in updated and not Order.objects.exists()

    form.pop("refresh")
    form["expected_total"] = "16.00"
    response = client.post(reverse("orders:checkout"), form)

    order = Order.objects.get()
    assert response.status_code == 302 and (order.fulfilment, order.total) == ("delivery", Decimal("16.00"))


def test_the_checkout_page_shows_a_full_slot_as_a_message(client, shop, buyer):
    """Placing into a slot that filled up meanwhile shows the reason on the page, never a 500."""
    slot, day = tomorrow_slot(shop, capacity=1)
    variant = stocked_variant(shop=shop, price="10.00")
    other, other_address = buyer_with_address()
    place(other, other_address, variant, fulfilment=code(slot, day), key="first")
    user, address = buyer
    cart_add(cart=cart_get_or_create(user=user), variant=variant)
    client.force_login(user)
    response = client.post(
        reverse("orders:checkout"),
        {
            "address": address.pk,
            "payment_method": "pay_on_pickup",
            f"fulfilment_{shop.pk}": code(slot, day),
            "idempotency_key": "page-2",
            "expected_total": "16.00",
        },
    )
    assert response.status_code == 200 and "is full" in response.content.decode()
    assert Order.objects.count() == 1


# --- runs and stops move the orders -------------------------------------------------------------------------


def _delivery_orders(shop, slot, day, count: int):
    orders = []
    for i in range(count):
        user, address = buyer_with_address()
        variant = stocked_variant(shop=shop, price="10.00")
        orders.append(
            place(user, address, variant, fulfilment=code(slot, day), key=f"run-{i}-{shop.pk}").checkout.orders.get()
        )
    return orders


def _run(slot, day):
    after_cutoff = datetime.combine(day, slot.cutoff, tzinfo=ZoneInfo(slot.shop.time_zone)) + timedelta(minutes=1)
    return delivery_run_build(slot=slot, date=day, now=after_cutoff)


def test_when_the_courier_leaves_packed_orders_go_out_for_delivery(shop):
    """The run starts: each packed order is out for delivery (by logistics, via delivery); an order
    not packed yet stays, and its timeline says the courier left without it."""
    CourierFactory(shop=shop, name="Ravi")
    slot, day = tomorrow_slot(shop)
    packed, not_packed = _delivery_orders(shop, slot, day, 2)
    pack(packed)
    run = _run(slot, day)

    delivery_run_start(run=run, actor_label="Courier Ravi")

    packed.refresh_from_db()
    not_packed.refresh_from_db()
    assert packed.status == "out_for_delivery" and not_packed.status == "confirmed"
    event = packed.events.get(to_status="out_for_delivery")
    assert (event.actor_kind, event.actor_label, event.channel) == ("logistics", "Courier Ravi", "delivery")
    note = not_packed.events.get(kind="note")
    assert "left without this order" in note.reason


def test_a_stop_done_delivers_the_order_or_fails_it_with_the_reason(shop):
    """Marking stops (E2's run_stop_mark) moves the orders: delivered, or delivery failed with why."""
    from apps.delivery.services_runs import run_stop_mark

    CourierFactory(shop=shop)
    slot, day = tomorrow_slot(shop)
    first, second = _delivery_orders(shop, slot, day, 2)
    pack(first)
    pack(second)
    delivery_run_start(run=_run(slot, day), actor_label="Courier")

    run_stop_mark(reference=first.number, delivered=True, actor_label="Courier")
    run_stop_mark(reference=second.number, delivered=False, reason="nobody home", actor_label="Courier")

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "delivered" and second.status == "delivery_failed"
    assert second.events.get(to_status="delivery_failed").reason == "nobody home"
    assert DeliveryRun.objects.get().status == "finished"


# --- the order page -----------------------------------------------------------------------------------------


def test_the_order_page_shows_the_slot_and_the_live_delivery_status(client, shop, buyer):
    """The buyer's order page shows the slot, the fee and where the delivery is; htmx polls a fragment
    while it is on its way."""
    user, address = buyer
    CourierFactory(shop=shop, name="Ravi")
    slot, day = tomorrow_slot(shop)
    order = place(user, address, stocked_variant(shop=shop), fulfilment=code(slot, day), key="pg").checkout.orders.get()
    client.force_login(user)
    url = reverse("orders:order", args=[order.number])

    page = client.get(url).content.decode()
    assert "14:00–16:00" in page and "6.00" in page and "Booked" in page

    pack(order)
    delivery_run_start(run=_run(slot, day), actor_label="Courier Ravi")
    fragment = client.get(url + "?part=delivery", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "On its way with Ravi" in fragment.content.decode()
    assert "<html" not in fragment.content.decode() and 'hx-trigger="every 30s"' in fragment.content.decode()


# --- the late-delivery warning ------------------------------------------------------------------------------


def test_an_order_still_out_after_its_slot_ends_raises_one_warning(shop):
    """Out for delivery after the slot's end (shop time): one DELIVERY_LATE warning for the order, on its
    timeline; before the end, none; scanning again raises no second one."""
    CourierFactory(shop=shop)
    slot, day = tomorrow_slot(shop)
    (order,) = _delivery_orders(shop, slot, day, 1)
    pack(order)
    delivery_run_start(run=_run(slot, day), actor_label="Courier")
    end = datetime.combine(day, slot.ends, tzinfo=ZoneInfo(shop.time_zone))

    assert warnings_scan_delivery_late(now=end - timedelta(minutes=1)) == 0
    assert warnings_scan_delivery_late(now=end + timedelta(minutes=1)) == 1
    assert warnings_scan_delivery_late(now=end + timedelta(minutes=10)) == 0

    warning = OrderWarning.objects.get()
    assert (warning.kind, warning.order_id, warning.shop_id) == ("delivery_late", order.pk, shop.pk)
    assert order.events.filter(kind="warning").count() == 1


def test_the_late_delivery_scan_runs_every_five_minutes_as_a_task(shop):
    """Beat runs ``orders.warnings_scan_delivery_late`` every 5 minutes; the task calls the scan."""
    from django.conf import settings

    from apps.orders.tasks import warnings_scan_delivery_late_due

    entry = settings.CELERY_BEAT_SCHEDULE["orders-warnings-delivery-late"]
    assert (entry["task"], entry["schedule"]) == ("orders.warnings_scan_delivery_late", 300.0)
    assert warnings_scan_delivery_late_due.name == entry["task"]
    assert warnings_scan_delivery_late_due.apply().get() == 0

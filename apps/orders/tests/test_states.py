"""The order state machine: moves are data in one place, ``order_transition`` is the only door, an
illegal move or the wrong actor changes nothing, every move is an event and a signal."""

from __future__ import annotations

import ast
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.orders import states
from apps.orders.actors import Actor
from apps.orders.errors import IllegalTransition, TransitionNotAllowed
from apps.orders.models import Order, OrderEvent
from apps.orders.services import cart_add, cart_get_or_create, checkout_place, order_transition
from apps.orders.signals import order_status_changed
from apps.shops.tests.factories import MembershipFactory, ShopFactory

from .factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db

S = states.OrderStatus


def _order(shop=None, *, key="k") -> Order:
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    variant = stocked_variant(shop=shop, price="12.00", units=5)
    cart_add(cart=cart, variant=variant, quantity=1)
    result = checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=key,
        expected_total=Decimal("12.00"),
    )
    return result.checkout.orders.get()


def test_every_status_is_reachable_and_every_move_names_who_may_make_it():
    """The table has no orphan status and no move nobody may make."""
    targets = {t.target for t in states.TRANSITIONS}
    initial = {S.PENDING_PAYMENT, S.CONFIRMED}
    assert set(S.values) - targets <= initial
    assert all(t.by for t in states.TRANSITIONS)
    assert len({(t.source, t.target) for t in states.TRANSITIONS}) == len(states.TRANSITIONS)
    assert {S.CANCELLED, S.REFUNDED} == states.FINAL


def test_placing_writes_the_first_event():
    """A new order's timeline starts with its first status, by the buyer, through its channel."""
    order = _order()
    event = order.events.get()
    assert (event.from_status, event.to_status, event.actor_kind, event.channel) == ("", S.CONFIRMED, "buyer", "web")
    assert event.actor_id == order.buyer_id


def test_a_legal_move_saves_the_status_writes_an_event_and_sends_the_signal():
    order = _order()
    member = MembershipFactory(shop=order.shop, role="manager")
    seen = []

    def receiver(sender, order, event, from_status, to_status, actor, **kwargs):
        seen.append((order.number, from_status, to_status, actor.kind, event.pk))

    order_status_changed.connect(receiver, dispatch_uid="test-states")
    try:
        event = order_transition(order=order, to=S.ACCEPTED, actor=Actor.member(member), via="seller")
    finally:
        order_status_changed.disconnect(dispatch_uid="test-states")
    order.refresh_from_db()
    assert order.status == S.ACCEPTED and order.status_changed_at == event.created_at
    assert (event.from_status, event.to_status, event.actor_id, event.channel) == (
        S.CONFIRMED,
        S.ACCEPTED,
        member.user_id,
        "seller",
    )
    assert seen == [(order.number, S.CONFIRMED, S.ACCEPTED, "member", event.pk)]


def test_an_illegal_move_raises_a_clear_error_and_changes_nothing():
    order = _order()
    with pytest.raises(IllegalTransition, match=r"is Confirmed \(pay on pickup\): it cannot become Delivered"):
        order_transition(order=order, to=S.DELIVERED, actor=Actor.system())
    order.refresh_from_db()
    assert order.status == S.CONFIRMED and order.events.count() == 1


def test_a_move_for_the_other_fulfilment_is_refused():
    """A pickup order is never handed to a courier."""
    order = _order()
    staff = UserFactory(is_staff=True)
    for to in (S.ACCEPTED, S.PACKED):
        order_transition(order=order, to=to, actor=Actor.staff(staff))
    with pytest.raises(IllegalTransition, match="for Pickup at the shop"):
        order_transition(order=order, to=S.OUT_FOR_DELIVERY, actor=Actor.staff(staff))
    order_transition(order=order, to=S.READY_FOR_PICKUP, actor=Actor.staff(staff))
    assert Order.objects.get(pk=order.pk).status == S.READY_FOR_PICKUP


def test_cancelling_needs_a_reason():
    order = _order()
    with pytest.raises(IllegalTransition, match="Give a reason"):
        order_transition(order=order, to=S.CANCELLED, actor=Actor.system(), reason="  ")
    assert Order.objects.get(pk=order.pk).status == S.CONFIRMED


@pytest.mark.parametrize(
    ("role", "to", "allowed"),
    [
        ("owner", S.ACCEPTED, True),
        ("manager", S.ACCEPTED, True),
        ("warehouse_staff", S.ACCEPTED, False),
        ("inventory_manager", S.ACCEPTED, False),
    ],
)
def test_shop_roles_follow_the_permission_matrix(role, to, allowed):
    order = _order()
    member = MembershipFactory(shop=order.shop, role=role)
    if allowed:
        order_transition(order=order, to=to, actor=Actor.member(member))
        assert Order.objects.get(pk=order.pk).status == to
    else:
        with pytest.raises(TransitionNotAllowed):
            order_transition(order=order, to=to, actor=Actor.member(member))
        assert Order.objects.get(pk=order.pk).status == S.CONFIRMED


def test_warehouse_staff_pack_but_another_shops_staff_cannot_touch_the_order():
    order = _order()
    staff = UserFactory(is_staff=True)
    order_transition(order=order, to=S.ACCEPTED, actor=Actor.staff(staff))
    outsider = MembershipFactory(shop=ShopFactory(), role="owner")
    with pytest.raises(TransitionNotAllowed):
        order_transition(order=order, to=S.PACKED, actor=Actor.member(outsider))
    packer = MembershipFactory(shop=order.shop, role="warehouse_staff")
    order_transition(order=order, to=S.PACKED, actor=Actor.member(packer))
    assert Order.objects.get(pk=order.pk).status == S.PACKED


def test_only_the_platform_marks_an_order_paid_or_refunded():
    order = _order()
    owner = MembershipFactory(shop=order.shop, role="owner")
    staff = UserFactory(is_staff=True)
    for actor in (Actor.member(owner), Actor.staff(staff), Actor.buyer(order.buyer)):
        with pytest.raises(TransitionNotAllowed):
            order_transition(order=order, to=S.REFUNDED, actor=actor)
    assert Order.objects.get(pk=order.pk).status == S.CONFIRMED


def test_a_non_staff_user_posing_as_staff_is_refused():
    order = _order()
    with pytest.raises(TransitionNotAllowed):
        order_transition(order=order, to=S.ACCEPTED, actor=Actor.staff(UserFactory(is_staff=False)))


def test_the_buyer_cancels_a_paid_order_only_within_its_cancel_window():
    order = _order()
    with pytest.raises(TransitionNotAllowed):  # no cancel window: a web order
        order_transition(order=order, to=S.CANCELLED, actor=Actor.buyer(order.buyer), reason="changed my mind")
    Order.objects.filter(pk=order.pk).update(cancel_until=timezone.now() + timedelta(minutes=5))
    order.refresh_from_db()
    with pytest.raises(TransitionNotAllowed):  # someone else
        order_transition(order=order, to=S.CANCELLED, actor=Actor.buyer(UserFactory()), reason="no")
    order_transition(order=order, to=S.CANCELLED, actor=Actor.buyer(order.buyer), reason="changed my mind")
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


def test_a_pickup_order_goes_all_the_way_with_a_full_timeline():
    order = _order()
    staff = UserFactory(is_staff=True)
    path = [S.ACCEPTED, S.PACKED, S.READY_FOR_PICKUP, S.DELIVERED, S.COMPLETED]
    for to in path:
        order_transition(order=order, to=to, actor=Actor.staff(staff), via="backoffice")
    events = list(order.events.filter(kind=OrderEvent.Kind.TRANSITION))
    assert [e.to_status for e in events] == [S.CONFIRMED, *path]
    assert [e.from_status for e in events[1:]] == [S.CONFIRMED, *path[:-1]]
    with pytest.raises(IllegalTransition):
        order_transition(order=order, to=S.ACCEPTED, actor=Actor.staff(staff))


def test_no_code_outside_order_transition_assigns_an_order_status():
    """Statuses change in one place: no ``order.status = …``, ``.update(status=…)`` on orders or
    ``save(update_fields=[…"status"…])`` of an order anywhere else in the orders app."""
    offenders = []
    root = Path(settings.BASE_DIR) / "apps" / "orders"
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "order_transition":
                allowed |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in allowed:
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and target.attr == "status"
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "order"
                    ):
                        offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
                text = ast.unparse(node)
                if "status=" in text and "Order.objects" in text:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_the_readme_state_table_is_the_one_in_code():
    """Regenerate with ``apps.orders.states.state_table_markdown()``."""
    assert states.state_table_markdown() in (Path(settings.BASE_DIR) / "README.md").read_text()

"""Smoke: the issue's journey through services (pay on pickup, no card)."""

from decimal import Decimal

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.loyalty.models import LedgerEntry, LoyaltyAccount
from apps.loyalty.selectors import ledger_drift
from apps.orders.actors import Actor
from apps.orders.services import cart_add, cart_get_or_create, checkout_place, order_refund, order_transition
from apps.orders.tests.factories import buyer_with_address, stocked_variant

pytestmark = pytest.mark.django_db


def _deliver(order, staff):
    for to in ("accepted", "packed", "ready_for_pickup", "delivered"):
        order_transition(order=order, to=to, actor=Actor.staff(staff))


def test_smoke(settings):
    staff = UserFactory(is_staff=True)
    buyer, address = buyer_with_address()
    variant = stocked_variant(price="100.00", units=20)
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=variant)
    result = checkout_place(
        buyer=buyer, cart=cart, address=address.snapshot(), payment_method="pay_on_pickup",
        idempotency_key="k1", expected_total=Decimal("100.00"),
    )
    order = result.checkout.orders.get()
    account = LoyaltyAccount.objects.get(user=buyer)
    assert (account.balance, account.pending) == (0, 100 + 500)
    _deliver(order, staff)
    account.refresh_from_db()
    assert (account.balance, account.pending) == (600, 0)

    cart_add(cart=cart, variant=variant)
    result = checkout_place(
        buyer=buyer, cart=cart, address=address.snapshot(), payment_method="pay_on_pickup",
        idempotency_key="k2", expected_total=Decimal("100.00"), points="600",
    )
    second = result.checkout.orders.get()
    assert second.points_value == Decimal("6.00") and second.amount_due == Decimal("94.00")
    account.refresh_from_db()
    assert account.balance == 0 and account.pending == 94
    from apps.orders.services import order_payment_collect
    order_payment_collect(order=second, actor=staff)
    second.refresh_from_db()
    order_refund(order=second, amount=Money("50.00", "SGD"), reason="half back", actor=staff)
    second.refresh_from_db()
    account.refresh_from_db()
    print(second.points_returned, account.balance, account.pending, list(LedgerEntry.objects.values_list("kind", "bucket", "points", "reason")))
    assert second.points_returned == 300
    assert account.balance == 300
    assert account.pending == 47
    assert ledger_drift()[1] == []

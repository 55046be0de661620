"""Zero oversell under real concurrency, on PostgreSQL.

Every buyer is a thread with its own database connection; a barrier releases them together so
they really contend for the same rows. Baskets come from a seeded random generator, so each run
races the same baskets; the assertions hold whatever order the threads happen to win in.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.models import Sum
from django.utils import timezone

from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.core.tests.concurrency import race, race_errors
from apps.inventory.errors import OutOfStock
from apps.inventory.models import Reservation, StockItem, StockMovement
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    reservation_release,
    reservations_expire,
    stock_receive,
    stock_reserve,
)
from apps.shops.tests.factories import ShopFactory

from .checks import assert_ledger_balanced
from .factories import StockLocationFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks and real concurrency need PostgreSQL (set DATABASE_URL); CI runs these",
    ),
]

BUYERS = 50
SEED = 20261122


def _race(count: int, work) -> list[tuple[str, object]]:
    return race(count, work, expected=(OutOfStock,))


_errors = race_errors


def _inventory_check_output() -> str:
    out = StringIO()
    call_command("inventory_check", stdout=out, stderr=StringIO())  # raises CommandError on drift
    return out.getvalue()


def test_fifty_buyers_race_for_ten_units_and_exactly_ten_win():
    """50 concurrent checkouts of 1 unit each for 10 units: 10 reservations, 40 clear OutOfStock
    errors naming the variant and "0 left", no deadlock; then the winners commit concurrently (each
    twice at once) and exactly 10 units are sold."""
    shop = ShopFactory()
    sarong = VariantFactory(product=ProductFactory(shop=shop, title="Indigo sarong"), options={"size": "M"})
    stock_receive(variant=sarong, quantity=10)

    started = time.monotonic()
    results = _race(
        BUYERS, lambda i: stock_reserve(shop=shop, reference=f"buyer-{i}", lines=[LineRequest(sarong.pk, 1)])
    )
    race_seconds = time.monotonic() - started

    assert _errors(results) == []
    winners = [i for i, (status, _r) in enumerate(results) if status == "ok"]
    losers = [exc for status, exc in results if status == "out"]
    assert len(winners) == 10 and len(losers) == 40
    for exc in losers:
        assert exc.message.startswith("Indigo sarong (M) is sold out (0 left).")
        assert exc.extra["shortages"] == [
            {"variant_id": sarong.pk, "name": "Indigo sarong (M)", "requested": 1, "available": 0}
        ]
    item = StockItem.objects.get(variant=sarong)
    assert (item.on_hand, item.reserved) == (10, 10)

    # Each winner's order is confirmed twice at the same moment (a double-delivered message).
    results = _race(20, lambda i: reservation_commit(reference=f"buyer-{winners[i // 2]}"))
    assert _errors(results) == []
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (0, 0)
    assert StockMovement.objects.filter(kind="sale").count() == 10
    assert Reservation.objects.filter(status="committed").count() == 10
    assert "no drift" in _inventory_check_output()
    assert_ledger_balanced()
    assert race_seconds < 10, f"the race took {race_seconds:.1f} s"


def test_fifty_buyers_with_overlapping_baskets_never_deadlock_or_oversell():
    """50 concurrent checkouts of random subsets of 5 variants (random quantities, lines in random
    order), stocked in two locations each, while two sweepers expire abandoned holds and buyers take
    those holds over: no deadlock, per-variant reserved equals the winning baskets, and after the
    winners commit or release concurrently the ledger balances."""
    rng = random.Random(SEED)
    shop = ShopFactory()
    warehouse = StockLocationFactory(shop=shop, name="Jurong warehouse")
    variants = [
        VariantFactory(product=ProductFactory(shop=shop, title=f"Batik scarf {n}"), options={"colour": c})
        for n, c in enumerate(["indigo", "ochre", "teal", "rose", "ash"])
    ]
    stock: dict[int, int] = {}
    for variant in variants:
        in_store, in_warehouse = rng.randint(3, 8), rng.randint(3, 8)
        stock_receive(variant=variant, quantity=in_store)
        stock_receive(variant=variant, quantity=in_warehouse, location=warehouse)
        stock[variant.pk] = in_store + in_warehouse
    # Abandoned checkouts whose expiry has passed but which nobody has swept yet.
    for n in range(5):
        stock_reserve(shop=shop, reference=f"abandoned-{n}", lines=[LineRequest(variants[n].pk, 2)])
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    baskets = []
    for _ in range(BUYERS):
        chosen = rng.sample(variants, rng.randint(2, 5))  # a random subset, in random order
        baskets.append([LineRequest(v.pk, rng.randint(1, 3)) for v in chosen])

    def buyer_or_sweeper(i: int):
        if i >= BUYERS:  # two sweepers run the beat task's service over and over during the race
            return [reservations_expire() for _ in range(5)]
        return stock_reserve(shop=shop, reference=f"buyer-{i}", lines=baskets[i])

    started = time.monotonic()
    results = _race(BUYERS + 2, buyer_or_sweeper)
    race_seconds = time.monotonic() - started

    deadlocks = [exc for status, exc in results if isinstance(exc, OperationalError)]
    assert deadlocks == []
    assert _errors(results) == []
    reservations_expire()  # whatever the race left of the abandoned holds
    assert set(Reservation.objects.filter(reference__startswith="abandoned").values_list("status", flat=True)) == {
        "expired"
    }

    won = [i for i in range(BUYERS) if results[i][0] == "ok"]
    lost = [i for i in range(BUYERS) if results[i][0] == "out"]
    assert won and lost and len(won) + len(lost) == BUYERS
    for i in lost:
        exc = results[i][1]
        basket_ids = {line.variant_id for line in baskets[i]}
        assert exc.shortages and {s.variant_id for s in exc.shortages} <= basket_ids
        for shortage in exc.shortages:
            assert shortage.name in exc.message and "left" in exc.message
            assert shortage.available < shortage.requested

    wanted = Counter()
    for i in won:
        for line in baskets[i]:
            wanted[line.variant_id] += line.quantity
    for variant in variants:
        levels = StockItem.objects.filter(variant=variant).aggregate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
        assert levels["on_hand"] == stock[variant.pk]
        assert levels["reserved"] == wanted[variant.pk] <= stock[variant.pk]
    assert "no drift" in _inventory_check_output()

    # The winners finish at the same moment: even ones pay, odd ones cancel.
    def finish(n: int):
        reference = f"buyer-{won[n]}"
        if n % 2:
            return reservation_release(reference=reference, reason="buyer cancelled")
        return reservation_commit(reference=reference)

    results = _race(len(won), finish)
    assert _errors(results) == []
    sold = Counter()
    for n, i in enumerate(won):
        if n % 2 == 0:
            for line in baskets[i]:
                sold[line.variant_id] += line.quantity
    for variant in variants:
        levels = StockItem.objects.filter(variant=variant).aggregate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
        assert (levels["on_hand"], levels["reserved"]) == (stock[variant.pk] - sold[variant.pk], 0)
    assert "no drift" in _inventory_check_output()
    assert_ledger_balanced()
    assert race_seconds < 10, f"the race took {race_seconds:.1f} s"

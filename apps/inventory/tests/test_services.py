"""The stock services: every kind of movement, refused input, transfers, reservations and expiry."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.catalog.tests.factories import ProductFactory, VariantFactory
from apps.inventory.errors import OutOfStock, ReservationConflict, ReservationExpired, ReservationNotFound, StockError
from apps.inventory.models import Reservation, StockItem, StockLocation, StockMovement
from apps.inventory.services import (
    LineRequest,
    reservation_commit,
    reservation_release,
    reservations_expire,
    stock_adjust,
    stock_location_create,
    stock_location_default,
    stock_location_make_default,
    stock_receive,
    stock_reserve,
    stock_return,
    stock_shrinkage,
    stock_transfer,
)
from apps.shops.tests.factories import ShopFactory

from .checks import assert_ledger_balanced
from .factories import StockLocationFactory

pytestmark = pytest.mark.django_db

Kind = StockMovement.Kind


def _item(variant, location=None) -> StockItem:
    location = location or StockLocation.objects.get(shop=variant.shop, is_default=True)
    return StockItem.objects.get(variant=variant, location=location)


def _state() -> list[tuple]:
    """Everything the services write, to show that a refused call changed nothing."""
    return [
        list(StockItem.objects.order_by("pk").values_list("pk", "on_hand", "reserved", "low_stock_threshold")),
        StockMovement.objects.count(),
        list(Reservation.objects.order_by("pk").values_list("pk", "status", "quantity")),
    ]


# --- locations ---------------------------------------------------------------------------------


def test_first_location_becomes_default_and_names_are_unique_per_shop():
    shop = ShopFactory()
    store = stock_location_create(shop=shop, name="Tiong Bahru store")
    warehouse = stock_location_create(shop=shop, name="Jurong warehouse", kind=StockLocation.Kind.WAREHOUSE)
    assert store.is_default and not warehouse.is_default
    with pytest.raises(StockError, match="already has a location called “jurong warehouse”"):
        stock_location_create(shop=shop, name="jurong warehouse")
    stock_location_create(shop=ShopFactory(), name="Jurong warehouse")  # another shop may use the name


def test_make_default_moves_the_flag_and_the_database_allows_one_default():
    shop = ShopFactory()
    store = stock_location_create(shop=shop, name="Store")
    warehouse = stock_location_create(shop=shop, name="Warehouse")
    stock_location_make_default(location=warehouse)
    assert list(StockLocation.objects.filter(shop=shop, is_default=True)) == [warehouse]
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLocation.objects.filter(pk=store.pk).update(is_default=True)


def test_default_location_is_made_once_when_a_shop_first_needs_it():
    shop = ShopFactory()
    first = stock_location_default(shop=shop)
    assert (first.name, first.is_default) == ("Main store", True)
    assert stock_location_default(shop=shop) == first


# --- receipts, returns, adjustments, shrinkage -------------------------------------------------


def test_receive_creates_the_item_at_the_default_location_with_a_receipt_movement(sarong):
    actor = UserFactory()
    movement = stock_receive(variant=sarong, quantity=12, actor=actor, reason="weekly delivery", reference="PO-7")
    item = _item(sarong)
    assert (item.on_hand, item.reserved, item.shop_id) == (12, 0, sarong.shop_id)
    assert (movement.kind, movement.quantity, movement.reserved_delta) == (Kind.RECEIPT, 12, 0)
    assert (movement.on_hand_after, movement.actor, movement.reason, movement.reference) == (
        12,
        actor,
        "weekly delivery",
        "PO-7",
    )
    stock_receive(variant=sarong, quantity=3)
    assert _item(sarong).on_hand == 15
    assert_ledger_balanced()


def test_return_puts_units_back_with_the_order_reference(sarong):
    stock_receive(variant=sarong, quantity=2)
    movement = stock_return(variant=sarong, quantity=1, reference="LB-1001", reason="wrong size")
    assert (movement.kind, movement.quantity, movement.reference) == (Kind.RETURN, 1, "LB-1001")
    assert _item(sarong).on_hand == 3
    assert_ledger_balanced()


def test_adjust_to_a_counted_quantity_or_by_a_change(sarong):
    stock_receive(variant=sarong, quantity=10)
    counted = stock_adjust(variant=sarong, counted=7, reason="stock count")
    assert (counted.kind, counted.quantity, counted.on_hand_after) == (Kind.ADJUSTMENT, -3, 7)
    by_delta = stock_adjust(variant=sarong, delta=2, reason="found in back room")
    assert (by_delta.quantity, _item(sarong).on_hand) == (2, 9)
    assert stock_adjust(variant=sarong, counted=9, reason="stock count") is None  # the count matches
    assert StockMovement.objects.filter(kind=Kind.ADJUSTMENT).count() == 2
    assert_ledger_balanced()


def test_adjust_needs_a_reason_and_exactly_one_of_counted_or_change(sarong):
    stock_receive(variant=sarong, quantity=5)
    before = _state()
    with pytest.raises(StockError, match="Give a reason"):
        stock_adjust(variant=sarong, counted=3, reason="  ")
    with pytest.raises(StockError, match="either the counted quantity or the change"):
        stock_adjust(variant=sarong, counted=3, delta=1, reason="count")
    with pytest.raises(StockError, match="either the counted quantity or the change"):
        stock_adjust(variant=sarong, reason="count")
    with pytest.raises(StockError, match="other than 0"):
        stock_adjust(variant=sarong, delta=0, reason="count")
    with pytest.raises(StockError, match="0 or more"):
        stock_adjust(variant=sarong, counted=-1, reason="count")
    with pytest.raises(StockError, match="only 5 on hand"):
        stock_adjust(variant=sarong, delta=-6, reason="count")
    assert _state() == before


def test_adjust_never_takes_on_hand_below_what_checkouts_hold(sarong):
    stock_receive(variant=sarong, quantity=5)
    stock_reserve(shop=sarong.shop, reference="chk-1", lines=[LineRequest(sarong.pk, 3)])
    with pytest.raises(StockError, match="cannot go below 3: that many units are held for checkouts"):
        stock_adjust(variant=sarong, counted=2, reason="stock count")
    stock_adjust(variant=sarong, counted=3, reason="stock count")
    assert (_item(sarong).on_hand, _item(sarong).reserved) == (3, 3)
    assert_ledger_balanced()


def test_shrinkage_writes_off_unreserved_units_only_and_needs_a_reason(sarong):
    stock_receive(variant=sarong, quantity=5)
    stock_reserve(shop=sarong.shop, reference="chk-1", lines=[LineRequest(sarong.pk, 2)])
    with pytest.raises(StockError, match="Give a reason"):
        stock_shrinkage(variant=sarong, quantity=1, reason="")
    with pytest.raises(StockError, match=r"only 3 available \(2 more are held for checkouts in progress\)"):
        stock_shrinkage(variant=sarong, quantity=4, reason="water damage")
    movement = stock_shrinkage(variant=sarong, quantity=3, reason="water damage")
    assert (movement.kind, movement.quantity, _item(sarong).on_hand) == (Kind.SHRINKAGE, -3, 2)
    assert_ledger_balanced()


def test_shrinkage_of_a_variant_never_stocked_is_refused(sarong):
    with pytest.raises(StockError, match="no stock of Indigo sarong \\(M\\) at Main store to write off"):
        stock_shrinkage(variant=sarong, quantity=1, reason="lost")


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "3", None, True, 1_000_001])
def test_quantities_must_be_positive_whole_numbers_and_nothing_changes_otherwise(sarong, quantity):
    stock_receive(variant=sarong, quantity=5)
    before = _state()
    for call in (
        lambda: stock_receive(variant=sarong, quantity=quantity),
        lambda: stock_return(variant=sarong, quantity=quantity),
        lambda: stock_shrinkage(variant=sarong, quantity=quantity, reason="lost"),
        lambda: stock_reserve(shop=sarong.shop, reference="chk", lines=[LineRequest(sarong.pk, quantity)]),
    ):
        with pytest.raises(StockError, match="whole number of units|more than 1,000,000"):
            call()
    assert _state() == before


def test_a_location_of_another_shop_is_refused(sarong):
    elsewhere = StockLocationFactory()
    with pytest.raises(StockError, match="location of another shop"):
        stock_receive(variant=sarong, quantity=1, location=elsewhere)
    assert not StockItem.objects.exists()


# --- transfers ---------------------------------------------------------------------------------


def test_transfer_moves_available_units_between_two_locations_of_the_shop(sarong):
    store = stock_location_default(shop=sarong.shop)
    warehouse = StockLocationFactory(shop=sarong.shop, name="Jurong warehouse")
    stock_receive(variant=sarong, quantity=10, location=warehouse)
    out, into = stock_transfer(variant=sarong, source=warehouse, destination=store, quantity=4, reference="TR-1")
    assert (out.kind, out.quantity, into.kind, into.quantity) == (Kind.TRANSFER_OUT, -4, Kind.TRANSFER_IN, 4)
    assert out.reason == into.reason == "Jurong warehouse → Main store"
    assert (_item(sarong, warehouse).on_hand, _item(sarong, store).on_hand) == (6, 4)
    assert_ledger_balanced()


def test_transfer_refuses_same_location_other_shops_and_reserved_units(sarong):
    store = stock_location_default(shop=sarong.shop)
    warehouse = StockLocationFactory(shop=sarong.shop)
    stock_receive(variant=sarong, quantity=5, location=store)
    stock_reserve(shop=sarong.shop, reference="chk", lines=[LineRequest(sarong.pk, 2)])
    before = _state()
    with pytest.raises(StockError, match="two different locations"):
        stock_transfer(variant=sarong, source=store, destination=store, quantity=1)
    with pytest.raises(StockError, match="another shop"):
        stock_transfer(variant=sarong, source=store, destination=StockLocationFactory(), quantity=1)
    with pytest.raises(StockError, match=r"Cannot move 4 .* only 3 available \(2 more are held"):
        stock_transfer(variant=sarong, source=store, destination=warehouse, quantity=4)
    with pytest.raises(StockError, match="no stock of .* at .* to move"):
        stock_transfer(variant=sarong, source=warehouse, destination=store, quantity=1)
    assert _state() == before


def test_transfer_is_all_or_nothing(sarong):
    """A failure after the source side was written leaves both locations as they were."""
    store = stock_location_default(shop=sarong.shop)
    warehouse = StockLocationFactory(shop=sarong.shop)
    stock_receive(variant=sarong, quantity=5, location=store)
    before = _state()

    def movements_written_then_items_fail(*args, **kwargs):
        assert StockMovement.objects.filter(kind=Kind.TRANSFER_OUT).exists()  # half of it is in the database
        raise IntegrityError("simulated failure")

    with (
        mock.patch("apps.inventory.services.low_stock_evaluate", side_effect=movements_written_then_items_fail),
        pytest.raises(IntegrityError),
    ):
        stock_transfer(variant=sarong, source=store, destination=warehouse, quantity=2)
    assert _state()[0][0] == before[0][0]
    assert StockMovement.objects.count() == before[1]
    assert not StockMovement.objects.filter(kind__in=[Kind.TRANSFER_IN, Kind.TRANSFER_OUT]).exists()
    assert_ledger_balanced()


# --- reservations ------------------------------------------------------------------------------


@pytest.fixture
def basket(sarong):
    """Two variants of one shop: the sarong (8 in the store) and a basket (2 in the store, 5 in a
    warehouse)."""
    shop = sarong.shop
    rattan = VariantFactory(product=ProductFactory(shop=shop, title="Rattan basket"), options={"size": "L"})
    warehouse = StockLocationFactory(shop=shop, name="Jurong warehouse")
    stock_receive(variant=sarong, quantity=8)
    stock_receive(variant=rattan, quantity=2)
    stock_receive(variant=rattan, quantity=5, location=warehouse)
    return shop, sarong, rattan, warehouse


def test_reserve_holds_every_line_default_location_first(basket, settings):
    shop, sarong, rattan, warehouse = basket
    settings.INVENTORY_RESERVATION_TTL_SECONDS = 300
    before = timezone.now()
    reservations = stock_reserve(
        shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 2), LineRequest(rattan.pk, 4)]
    )
    store = stock_location_default(shop=shop)
    assert sorted((r.variant_id, r.item.location_id, r.quantity) for r in reservations) == sorted(
        [(sarong.pk, store.pk, 2), (rattan.pk, store.pk, 2), (rattan.pk, warehouse.pk, 2)]
    )
    assert all(r.status == Reservation.Status.ACTIVE for r in reservations)
    expiry = reservations[0].expires_at
    assert before + timedelta(seconds=300) <= expiry <= timezone.now() + timedelta(seconds=300)
    assert (_item(rattan).reserved, _item(rattan, warehouse).reserved, _item(sarong).reserved) == (2, 2, 2)
    assert StockMovement.objects.filter(kind=Kind.RESERVATION, reference="chk-1").count() == 3
    assert_ledger_balanced()


def test_reserve_merges_lines_of_the_same_variant_and_takes_an_explicit_ttl(basket):
    shop, sarong, _rattan, _warehouse = basket
    reservations = stock_reserve(
        shop=shop,
        reference="chk-1",
        lines=[LineRequest(sarong.pk, 1), LineRequest(sarong.pk, 2)],
        ttl=timedelta(minutes=1),
    )
    assert [r.quantity for r in reservations] == [3]
    assert reservations[0].expires_at <= timezone.now() + timedelta(minutes=1)


def test_out_of_stock_names_each_short_variant_and_what_is_left_and_reserves_nothing(basket):
    shop, sarong, rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="other", lines=[LineRequest(rattan.pk, 7)])
    before = _state()
    with pytest.raises(OutOfStock) as caught:
        stock_reserve(shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 11), LineRequest(rattan.pk, 1)])
    error = caught.value
    assert "Only 8 left of Indigo sarong (M)." in error.message
    assert "Rattan basket (L) is sold out (0 left)." in error.message
    assert error.status_code == 409 and error.code == "out-of-stock"
    assert error.extra["shortages"] == [
        {"variant_id": sarong.pk, "name": "Indigo sarong (M)", "requested": 11, "available": 8},
        {"variant_id": rattan.pk, "name": "Rattan basket (L)", "requested": 1, "available": 0},
    ]
    assert _state() == before


def test_reserving_a_variant_of_another_shop_or_an_empty_basket_is_refused(basket):
    shop, _sarong, _rattan, _warehouse = basket
    foreign = VariantFactory()
    stock_receive(variant=foreign, quantity=5)
    with pytest.raises(StockError, match="does not sell item"):
        stock_reserve(shop=shop, reference="chk", lines=[LineRequest(foreign.pk, 1)])
    with pytest.raises(StockError, match="basket is empty"):
        stock_reserve(shop=shop, reference="chk", lines=[])
    with pytest.raises(StockError, match="checkout reference"):
        stock_reserve(shop=shop, reference=" ", lines=[LineRequest(foreign.pk, 1)])
    assert not Reservation.objects.exists()


def test_reserving_again_replaces_the_checkouts_hold(basket):
    """A changed basket (or a retried call) leaves exactly the new hold, never both."""
    shop, sarong, rattan, _warehouse = basket
    first = stock_reserve(shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 8)])
    second = stock_reserve(shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 5), LineRequest(rattan.pk, 1)])
    assert Reservation.objects.get(pk=first[0].pk).status == Reservation.Status.RELEASED
    assert {r.status for r in second} == {Reservation.Status.ACTIVE}
    assert _item(sarong).reserved == 5
    # A basket too large for the stock keeps the previous hold as it was.
    with pytest.raises(OutOfStock):
        stock_reserve(shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 9)])
    assert _item(sarong).reserved == 5
    assert_ledger_balanced()


def test_commit_sells_the_held_units_once_even_when_retried(basket):
    shop, sarong, rattan, warehouse = basket
    stock_reserve(shop=shop, reference="LB-1001", lines=[LineRequest(sarong.pk, 2), LineRequest(rattan.pk, 3)])
    committed = reservation_commit(reference="LB-1001")
    assert {r.status for r in committed} == {Reservation.Status.COMMITTED}
    sales = StockMovement.objects.filter(kind=Kind.SALE, reference="LB-1001")
    assert sorted(sales.values_list("quantity", "reserved_delta")) == [(-2, -2), (-2, -2), (-1, -1)]
    assert (_item(sarong).on_hand, _item(sarong).reserved) == (6, 0)
    assert (_item(rattan).on_hand, _item(rattan, warehouse).on_hand) == (0, 4)

    again = reservation_commit(reference="LB-1001")
    assert [r.pk for r in again] == [r.pk for r in committed]
    assert sales.count() == 3
    with pytest.raises(ReservationConflict, match="already completed"):
        stock_reserve(shop=shop, reference="LB-1001", lines=[LineRequest(sarong.pk, 1)])
    assert_ledger_balanced()


def test_release_gives_the_units_back_and_is_idempotent(basket):
    shop, sarong, _rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="chk-1", lines=[LineRequest(sarong.pk, 3)])
    released = reservation_release(reference="chk-1", reason="buyer cancelled")
    assert [(r.status, r.close_reason) for r in released] == [(Reservation.Status.RELEASED, "buyer cancelled")]
    assert (_item(sarong).on_hand, _item(sarong).reserved) == (8, 0)
    movement = StockMovement.objects.get(kind=Kind.RELEASE)
    assert (movement.reserved_delta, movement.reason, movement.reference) == (-3, "buyer cancelled", "chk-1")
    assert reservation_release(reference="chk-1", reason="buyer cancelled") == []
    assert reservation_release(reference="never-reserved", reason="cleanup") == []
    with pytest.raises(StockError, match="Give a reason"):
        reservation_release(reference="chk-1", reason="")
    with pytest.raises(ReservationExpired, match="ran out before the order was confirmed"):
        reservation_commit(reference="chk-1")
    assert_ledger_balanced()


def test_release_after_commit_leaves_the_sale_alone(basket):
    shop, sarong, _rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="LB-1", lines=[LineRequest(sarong.pk, 1)])
    reservation_commit(reference="LB-1")
    assert reservation_release(reference="LB-1", reason="late cancel") == []
    assert (_item(sarong).on_hand, _item(sarong).reserved) == (7, 0)


def test_commit_without_a_reservation_is_not_found():
    with pytest.raises(ReservationNotFound, match="No stock is reserved for checkout nope"):
        reservation_commit(reference="nope")


def test_expiry_releases_due_holds_only(basket):
    shop, sarong, rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="old", lines=[LineRequest(sarong.pk, 2), LineRequest(rattan.pk, 3)])
    stock_reserve(shop=shop, reference="new", lines=[LineRequest(sarong.pk, 1)], ttl=timedelta(hours=1))
    later = timezone.now() + timedelta(seconds=601)
    assert reservations_expire(now=later, batch_size=1) == 3  # batches of one until none is due
    assert set(Reservation.objects.filter(reference="old").values_list("status", flat=True)) == {"expired"}
    assert Reservation.objects.get(reference="new").status == Reservation.Status.ACTIVE
    assert (_item(sarong).reserved, _item(rattan).reserved) == (1, 0)
    assert StockMovement.objects.filter(kind=Kind.RELEASE, reason="reservation expired").count() == 3
    assert reservations_expire(now=later) == 0
    with pytest.raises(ReservationExpired):
        reservation_commit(reference="old")
    assert_ledger_balanced()


def test_a_hold_past_its_expiry_cannot_be_committed_even_before_the_sweep(basket):
    shop, sarong, _rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="slow", lines=[LineRequest(sarong.pk, 1)])
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ReservationExpired):
        reservation_commit(reference="slow")
    # Renewing the hold (reserving again) lets the checkout finish.
    stock_reserve(shop=shop, reference="slow", lines=[LineRequest(sarong.pk, 1)])
    assert len(reservation_commit(reference="slow")) == 1
    assert_ledger_balanced()


def test_a_checkout_short_of_stock_takes_over_expired_holds_not_yet_swept(basket):
    shop, sarong, _rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="abandoned", lines=[LineRequest(sarong.pk, 8)])
    with pytest.raises(OutOfStock):
        stock_reserve(shop=shop, reference="buyer", lines=[LineRequest(sarong.pk, 1)])
    Reservation.objects.filter(reference="abandoned").update(expires_at=timezone.now() - timedelta(seconds=1))
    stock_reserve(shop=shop, reference="buyer", lines=[LineRequest(sarong.pk, 1)])
    assert Reservation.objects.get(reference="abandoned").status == Reservation.Status.EXPIRED
    assert _item(sarong).reserved == 1
    assert_ledger_balanced()


def test_expiry_task_runs_the_service(basket, settings):
    from apps.inventory.tasks import reservations_expire_due

    shop, sarong, _rattan, _warehouse = basket
    stock_reserve(shop=shop, reference="old", lines=[LineRequest(sarong.pk, 2)], ttl=timedelta(seconds=1))
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reservations_expire_due.delay().get() == 1
    assert settings.CELERY_BEAT_SCHEDULE["inventory-reservations-expire"] == {
        "task": "inventory.reservations_expire",
        "schedule": 60.0,
    }


# --- the database keeps the invariants ---------------------------------------------------------


def test_database_refuses_negative_or_over_reserved_stock(sarong):
    stock_receive(variant=sarong, quantity=2)
    item = _item(sarong)
    for values in ({"on_hand": -1, "reserved": 0}, {"reserved": -1}, {"on_hand": 2, "reserved": 3}):
        with pytest.raises(IntegrityError), transaction.atomic():
            StockItem.objects.filter(pk=item.pk).update(**values)


def test_database_refuses_a_movement_whose_sign_does_not_match_its_kind(sarong):
    stock_receive(variant=sarong, quantity=2)
    item = _item(sarong)
    for kind, quantity, reserved in [(Kind.RECEIPT, -1, 0), (Kind.SALE, 1, 0), (Kind.RELEASE, 0, 1)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            StockMovement.objects.create(
                shop=item.shop,
                item=item,
                kind=kind,
                quantity=quantity,
                reserved_delta=reserved,
                on_hand_after=2,
                reserved_after=0,
            )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_movements_cannot_be_edited_but_deleting_the_actor_keeps_them(sarong):
    actor = UserFactory()
    movement = stock_receive(variant=sarong, quantity=2, actor=actor)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).update(quantity=5, on_hand_after=5)
    actor.delete()
    movement.refresh_from_db()
    assert (movement.quantity, movement.actor_id) == (2, None)


def test_deleting_a_shop_takes_its_stock_with_it_but_a_stocked_location_cannot_go_alone(sarong):
    from django.db.models import RestrictedError

    stock_receive(variant=sarong, quantity=2)
    stock_reserve(shop=sarong.shop, reference="chk", lines=[LineRequest(sarong.pk, 1)])
    with pytest.raises(RestrictedError):
        StockLocation.objects.get(shop=sarong.shop).delete()
    sarong.shop.delete()
    assert not StockItem.objects.exists() and not StockMovement.objects.exists() and not Reservation.objects.exists()


def test_reserve_and_commit_cost_the_same_few_queries_for_any_basket(basket, django_assert_num_queries):
    """The checkout path: lock the checkout's holds, lock the items (one query, by id), then one
    write each for reservations, movements and levels, whatever the number of lines."""
    shop, sarong, rattan, _warehouse = basket
    lines = [LineRequest(rattan.pk, 4), LineRequest(sarong.pk, 1)]  # three items: rattan spans two locations
    with django_assert_num_queries(2 + 5):  # + the savepoint and its release (the test runs in a transaction)
        stock_reserve(shop=shop, reference="chk-1", lines=lines)
    with django_assert_num_queries(2 + 6):
        reservation_commit(reference="chk-1")


def test_stock_sell_sells_at_once_without_a_hold_and_never_units_held_for_others(sarong):
    """An order confirmed when placed (pay on pickup) is sold straight away: one sale movement per
    item, nothing reserved; units held for other checkouts are not sold; all lines or none."""
    from apps.inventory.services import stock_sell

    stock_receive(variant=sarong, quantity=5)
    stock_reserve(shop=sarong.shop, reference="other", lines=[LineRequest(sarong.pk, 3)])

    with pytest.raises(OutOfStock, match="Only 2 left"):
        stock_sell(shop=sarong.shop, reference="LB-1", lines=[LineRequest(sarong.pk, 3)])
    movements = stock_sell(shop=sarong.shop, reference="LB-2", lines=[LineRequest(sarong.pk, 2)])

    item = _item(sarong)
    assert (item.on_hand, item.reserved) == (3, 3)
    assert [(m.kind, m.quantity, m.reserved_delta, m.reference) for m in movements] == [("sale", -2, 0, "LB-2")]
    assert_ledger_balanced()

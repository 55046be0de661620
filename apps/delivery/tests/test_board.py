"""The seller's delivery board: a day's slots with booked places and capacity left, each run's
stops in order with addresses, items, weights and courier; "Build now", "Courier left" and the
printable run sheet. Another shop's runs and slots are 404."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.urls import reverse

from apps.delivery.models import DeliveryRun, RunStop
from apps.delivery.selectors import shop_local_now
from apps.delivery.selectors_runs import delivery_board
from apps.delivery.services_runs import delivery_run_build

from .test_runs import book, delivering_shop, make_slot, signals  # noqa: F401  (signals: a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def yesterday_run(signals):  # noqa: F811
    """A shop whose 14:00–16:00 slot ran yesterday (its cut-off long past): a built run of three
    stops, and a 18:00–20:00 slot with one confirmed booking whose run is not built yet."""
    shop = delivering_shop()
    day = shop_local_now(shop=shop).date() - timedelta(days=1)
    slot = make_slot(shop, day=day, capacity=5)
    for i in range(3):
        book(slot, f"LB-Y{i}", day=day, place=i)
    book(slot, "LB-YHELD", day=day, status="held", place=3)
    run = delivery_run_build(slot=slot, date=day)
    evening = make_slot(shop, day=day, starts=time(18), ends=time(20), cutoff=time(16), capacity=2)
    book(evening, "LB-EVE", day=day, place=3)
    return shop, day, slot, evening, run


def _board(shop, day=None):
    url = reverse("delivery_board:board", args=[shop.slug])
    return f"{url}?date={day.isoformat()}" if day else url


def test_board_shows_slots_runs_and_stops(client, seller, yesterday_run, django_assert_max_num_queries):
    """The day's slots with booked and left places, the run's stops in route order with address,
    phone, items and weight, and its courier; a fixed number of queries."""
    shop, day, _slot, evening, run = yesterday_run
    seller(client, role="owner", shop=shop)
    with django_assert_max_num_queries(8):
        response = client.get(_board(shop, day))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-booked="4"' in html and 'data-capacity-left="1"' in html  # 3 confirmed + 1 held of 5
    assert "4 of 5 booked" in html and "1 awaiting payment" in html
    order = list(run.stops.order_by("sequence").values_list("booking__reference", flat=True))
    positions = [html.index(f'data-stop="{ref}"') for ref in order]
    assert positions == sorted(positions)
    assert "Carried by Kumar" in html and "+65 9000 0001" in html and "2 Kim Tian Road" in html
    assert 'data-unrouted="LB-EVE"' in html and "Build now" in html
    assert "Courier left" in html


def test_board_query_count_does_not_grow_with_the_day(client, seller, yesterday_run, django_assert_max_num_queries):
    """Twice the slots, bookings and runs: still the same number of queries."""
    shop, day, _slot, _evening, _run = yesterday_run
    for k in range(3):
        extra = make_slot(shop, day=day, starts=time(10 + k), ends=time(11 + k), cutoff=time(9 + k))
        for i in range(4):
            book(extra, f"LB-X{k}{i}", day=day, place=i)
        delivery_run_build(slot=extra, date=day)
    seller(client, role="owner", shop=shop)
    with django_assert_max_num_queries(8):
        assert client.get(_board(shop, day)).status_code == 200


def test_board_defaults_to_today_in_the_shops_time_zone(client, seller):
    """Without a date the board shows the shop's today (its own time zone)."""
    shop = delivering_shop(time_zone="America/Bogota")
    seller(client, role="owner", shop=shop)
    response = client.get(_board(shop))
    assert response.status_code == 200
    assert response.context["day"] == shop_local_now(shop=shop).date()
    assert "No delivery slots on this day" in response.content.decode()


def test_a_bad_date_is_a_clear_error_not_a_500(client, seller):
    """A date that is not a date shows today's board with an error next to the picker."""
    shop = delivering_shop()
    seller(client, role="owner", shop=shop)
    response = client.get(_board(shop) + "?date=2025-02-30")
    assert response.status_code == 200
    assert "is not a date" in response.content.decode()
    assert response.context["day"] == shop_local_now(shop=shop).date()


def test_build_now_builds_a_slot_past_its_cutoff(client, seller, yesterday_run):
    """ "Build now" builds the run of a slot past its cut-off and goes back to the board."""
    shop, day, _slot, evening, _run = yesterday_run
    seller(client, role="warehouse_staff", shop=shop)
    response = client.post(
        reverse("delivery_board:build", args=[shop.slug]), {"slot": evening.pk, "date": day.isoformat()}
    )
    assert response.status_code == 302 and response["Location"] == _board(shop, day)
    run = DeliveryRun.objects.get(slot=evening, date=day)
    assert list(run.stops.values_list("booking__reference", flat=True)) == ["LB-EVE"]


def test_build_now_before_the_cutoff_is_refused_with_a_message(client, seller, signals):  # noqa: F811
    """Before the cut-off the board says when the run can be built; nothing is built."""
    shop = delivering_shop()
    tomorrow = shop_local_now(shop=shop).date() + timedelta(days=1)
    slot = make_slot(shop, day=tomorrow)
    book(slot, "LB-T", day=tomorrow)
    seller(client, role="owner", shop=shop)
    response = client.post(
        reverse("delivery_board:build", args=[shop.slug]), {"slot": slot.pk, "date": tomorrow.isoformat()}, follow=True
    )
    assert "build its run after that" in response.content.decode()
    assert not DeliveryRun.objects.exists()


def test_build_now_with_missing_input_is_a_message(client, seller):
    """A build posted without a slot or date gives a message, not an error page."""
    shop = delivering_shop()
    seller(client, role="owner", shop=shop)
    url = reverse("delivery_board:build", args=[shop.slug])
    assert "Pick the day" in client.post(url, {}, follow=True).content.decode()
    assert "Pick the slot" in client.post(url, {"date": "2025-03-12", "slot": "x"}, follow=True).content.decode()


def test_courier_left_starts_the_run(client, seller, yesterday_run, signals):  # noqa: F811
    """ "Courier left" puts the run on the road and tells the orders app."""
    shop, day, _slot, _evening, run = yesterday_run
    seller(client, role="warehouse_staff", shop=shop)
    response = client.post(reverse("delivery_board:start", args=[shop.slug, run.pk]), follow=True)
    assert "left with the" in response.content.decode()
    run.refresh_from_db()
    assert run.status == DeliveryRun.Status.STARTED
    assert len(signals.of("run_started")) == 1


def test_starting_needs_the_fulfil_permission(client, seller, yesterday_run):
    """An inventory manager sees the board but gets 403 on "Courier left" (and no button)."""
    shop, day, _slot, _evening, run = yesterday_run
    seller(client, role="inventory_manager", shop=shop)
    html = client.get(_board(shop, day)).content.decode()
    assert "Courier left" not in html and "Build now" not in html
    assert client.post(reverse("delivery_board:start", args=[shop.slug, run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == DeliveryRun.Status.PLANNED


def test_run_sheet_prints_the_stops_in_order(client, seller, yesterday_run):
    """The run sheet lists the stops in order with address, phone, items and weights, with print
    styles and no script of its own."""
    shop, _day, _slot, _evening, run = yesterday_run
    seller(client, role="warehouse_staff", shop=shop)
    response = client.get(reverse("delivery_board:sheet", args=[shop.slug, run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    order = list(RunStop.objects.filter(run=run).order_by("sequence").values_list("booking__reference", flat=True))
    positions = [html.index(f'data-stop="{ref}"') for ref in order]
    assert positions == sorted(positions)
    assert "delivery/run_sheet.css" in html and "Kumar" in html and "3 stops" in html
    assert "6 items" in html  # 1 + 2 + 3


def test_another_shops_run_and_slot_are_404(client, seller, yesterday_run):
    """A member of shop A asking for shop B's run (sheet, start) or building B's slot gets 404 and
    nothing changes; shop B's board under A's membership is 404 too."""
    shop_b, day, _slot, evening, run = yesterday_run
    member = seller(client, role="owner")
    a = member.shop
    assert client.get(reverse("delivery_board:sheet", args=[a.slug, run.pk])).status_code == 404
    assert client.post(reverse("delivery_board:start", args=[a.slug, run.pk])).status_code == 404
    response = client.post(
        reverse("delivery_board:build", args=[a.slug]), {"slot": evening.pk, "date": day.isoformat()}
    )
    assert response.status_code == 404
    assert client.get(_board(shop_b, day)).status_code == 404
    run.refresh_from_db()
    assert run.status == DeliveryRun.Status.PLANNED
    assert not DeliveryRun.objects.filter(slot=evening).exists()


def test_delivery_board_selector_counts(yesterday_run):
    """The board's numbers: booked counts held and confirmed, capacity left never below zero,
    and "build" is offered only past the cut-off for bookings on no run."""
    shop, day, slot, evening, run = yesterday_run
    board = delivery_board(shop=shop, date=day)
    morning, eve = board.slots
    assert (morning.slot, morning.booked, morning.capacity_left, morning.run) == (slot, 4, 1, run)
    assert not morning.can_build and morning.can_start
    assert (eve.slot, eve.booked, eve.capacity_left, eve.run) == (evening, 1, 1, None)
    assert eve.can_build and [b.reference for b in eve.unrouted] == ["LB-EVE"]

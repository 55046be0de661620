"""Delivery runs: built at the slot's cut-off from its confirmed bookings (stops in route order,
a courier assigned, buyers and courier emailed), started when the courier leaves (the orders app
is told), and worked stop by stop until the run is finished.

The orders app above listens to the delivery signals; these tests look at the delivery app alone,
so its receivers are swapped for a recorder (``signals`` fixture)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from apps.delivery import services_runs
from apps.delivery.errors import DeliveryError
from apps.delivery.models import Courier, DeliveryRun, DeliverySlot, DeliveryZone, RunStop, SlotBooking
from apps.delivery.routing import route_order
from apps.delivery.services_runs import (
    delivery_run_build,
    delivery_run_start,
    delivery_runs_build_due,
    run_stop_get,
    run_stop_mark,
)
from apps.delivery.signals import delivery_run_started, delivery_stop_done, slot_booking_released
from apps.shops.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db

SG = ZoneInfo("Asia/Singapore")
WEDNESDAY = date(2025, 3, 12)
AFTER_CUTOFF = datetime(2025, 3, 12, 12, 5, tzinfo=SG)  # the slot below closes at 12:00

# Around the shop in Tiong Bahru (1.2842, 103.8324).
PLACES = [
    ("Ana Tan", "1.300000", "103.850000", "238801"),
    ("Ben Lim", "1.286000", "103.835000", "160001"),
    ("Chen Wei", "1.320000", "103.880000", "339001"),
    ("Devi Raj", "1.290000", "103.840000", "168001"),
]


# --- helpers (also used by test_board.py) ------------------------------------------------------


def delivering_shop(*, time_zone: str = "Asia/Singapore", couriers=("Kumar",), **shop_fields):
    shop = ShopFactory(time_zone=time_zone, **shop_fields)
    DeliveryZone.objects.create(shop=shop, radius_km=Decimal("10"), fee=Decimal("5.00"))
    for name in couriers:
        Courier.objects.create(shop=shop, name=name, phone="+65 8000 0000", email=f"{name.lower()}@couriers.example")
    return shop


def make_slot(shop, *, day: date = WEDNESDAY, starts=time(14), ends=time(16), cutoff=time(12), capacity=10):
    return DeliverySlot.objects.create(
        shop=shop, weekday=day.weekday(), starts=starts, ends=ends, cutoff=cutoff, capacity=capacity
    )


def book(slot, reference: str, *, day: date = WEDNESDAY, status="confirmed", place=0, email=True, **fields):
    recipient, lat, lon, postcode = PLACES[place % len(PLACES)]
    address = {
        "recipient": recipient,
        "phone": f"+65 9000 00{place:02d}",
        "lines": [f"{place + 1} Kim Tian Road", "#05-01"],
        "postcode": postcode,
        "city": "Singapore",
        "country": "SG",
        "lat": lat,
        "lon": lon,
    }
    if email:
        address["email"] = f"buyer-{reference.lower()}@example.com"
    values = {
        "slot": slot,
        "shop": slot.shop,
        "date": day,
        "reference": reference,
        "status": status,
        "currency": slot.shop.currency,
        "address": address,
        "latitude": Decimal(lat),
        "longitude": Decimal(lon),
        "weight_grams": 1200 + place,
        "items": place + 1,
        **fields,
    }
    return SlotBooking.objects.create(**values)


class SignalRecorder:
    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, signal_name):
        def receiver(sender, **kwargs):
            self.sent.append((signal_name, kwargs))

        return receiver

    def of(self, name: str) -> list[dict]:
        return [kwargs for signal_name, kwargs in self.sent if signal_name == name]


@pytest.fixture
def signals():
    """Record the delivery signals (and keep the orders app's receivers out of these tests)."""
    recorder = SignalRecorder()
    patches = []
    for name, signal in (
        ("run_started", delivery_run_started),
        ("stop_done", delivery_stop_done),
        ("released", slot_booking_released),
    ):
        patch = mock.patch.object(signal, "receivers", [])
        patch.start()
        patches.append(patch)
        signal.connect(recorder(name), weak=False)
    yield recorder
    for patch in patches:
        patch.stop()


def emails_to(mailoutbox, address: str):
    return [m for m in mailoutbox if address in m.to]


@pytest.fixture
def day_with_bookings(signals):
    shop = delivering_shop()
    slot = make_slot(shop)
    bookings = [book(slot, f"LB-{i}", place=i) for i in range(4)]
    return shop, slot, bookings


# --- building -----------------------------------------------------------------------------------


def test_build_routes_the_confirmed_bookings_and_assigns_the_courier(
    day_with_bookings, mailoutbox, django_capture_on_commit_callbacks
):
    """At the cut-off the slot's confirmed bookings become stops in route order from the shop;
    held and released bookings, other days and other slots stay out; the route length is kept."""
    shop, slot, bookings = day_with_bookings
    book(slot, "LB-HELD", status="held", place=1)
    book(slot, "LB-GONE", status="released", place=2)
    book(slot, "LB-THU", day=WEDNESDAY + timedelta(days=7), place=3)
    book(make_slot(shop, starts=time(18), ends=time(20), cutoff=time(16)), "LB-EVENING", place=0)

    with django_capture_on_commit_callbacks(execute=True):
        run = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)

    expected = route_order(
        start=(float(shop.latitude), float(shop.longitude)),
        points=[(float(b.latitude), float(b.longitude)) for b in bookings],
    )
    stops = list(run.stops.order_by("sequence").select_related("booking"))
    assert [s.booking.reference for s in stops] == [bookings[i].reference for i in expected]
    assert [s.sequence for s in stops] == [1, 2, 3, 4]
    assert {s.status for s in stops} == {RunStop.Status.PENDING}
    assert run.status == DeliveryRun.Status.PLANNED
    assert run.courier.name == "Kumar"
    assert run.built_at == AFTER_CUTOFF
    assert Decimal("3") < run.route_km < Decimal("30")
    assert (run.slot, run.date, run.shop) == (slot, WEDNESDAY, shop)


def test_build_is_idempotent(day_with_bookings, mailoutbox, django_capture_on_commit_callbacks):
    """Building the same slot and day again returns the same run with the same stops and sends no
    email twice; the database itself refuses a second run for one slot and day."""
    _shop, slot, _bookings = day_with_bookings
    with django_capture_on_commit_callbacks(execute=True):
        first = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        again = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF + timedelta(minutes=1))
    assert again.pk == first.pk
    assert DeliveryRun.objects.count() == 1 and RunStop.objects.count() == 4
    assert len(mailoutbox) == sent
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryRun.objects.create(shop=first.shop, slot=slot, date=WEDNESDAY, built_at=AFTER_CUTOFF)


def test_booking_confirmed_after_the_cutoff_joins_the_planned_run(day_with_bookings):
    """A booking paid just after the cut-off joins the run (re-routed) while it has not left; once
    the courier left, the run stays as it is."""
    _shop, slot, _bookings = day_with_bookings
    late = book(slot, "LB-LATE", status="held", place=1)
    run = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)
    assert run.stops.count() == 4

    SlotBooking.objects.filter(pk=late.pk).update(status=SlotBooking.Status.CONFIRMED)
    assert delivery_runs_build_due(now=AFTER_CUTOFF + timedelta(minutes=2)) == 1
    assert sorted(run.stops.values_list("sequence", flat=True)) == [1, 2, 3, 4, 5]
    assert run.stops.filter(booking=late).exists()

    delivery_run_start(run=run, actor_label="Kumar")
    book(slot, "LB-TOO-LATE", place=2)
    assert delivery_runs_build_due(now=AFTER_CUTOFF + timedelta(minutes=3)) == 0
    assert run.stops.count() == 5


def test_build_refused_before_cutoff_or_on_another_weekday(day_with_bookings):
    """A run is not built while the slot still takes orders, nor for a day the slot does not run;
    nothing is created."""
    _shop, slot, _bookings = day_with_bookings
    with pytest.raises(DeliveryError, match="takes orders until 12:00") as exc:
        delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF - timedelta(minutes=10))
    assert exc.value.code == services_runs.RUN_NOT_DUE
    with pytest.raises(DeliveryError, match="does not run on 2025-03-13"):
        delivery_run_build(slot=slot, date=WEDNESDAY + timedelta(days=1), now=AFTER_CUTOFF + timedelta(days=1))
    assert not DeliveryRun.objects.exists()


def test_no_confirmed_booking_no_run(signals):
    """A slot with only held bookings has no run to build."""
    slot = make_slot(delivering_shop())
    book(slot, "LB-HELD", status="held")
    assert delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF) is None
    assert not DeliveryRun.objects.exists()


def test_courier_with_fewest_runs_that_day_is_assigned(signals):
    """Each new run goes to the active courier with the fewest runs that day (ties by name); an
    inactive courier gets none; a day's count does not carry to another day."""
    shop = delivering_shop(couriers=("Aziz", "Bala", "Zed"))
    Courier.objects.filter(name="Zed").update(active=False)
    slots = [make_slot(shop, starts=time(h), ends=time(h + 1), cutoff=time(h - 1)) for h in (14, 15, 16)]
    for i, slot in enumerate(slots):
        book(slot, f"LB-{i}", place=i)
    now = datetime(2025, 3, 12, 17, 0, tzinfo=SG)
    couriers = [delivery_run_build(slot=slot, date=WEDNESDAY, now=now).courier.name for slot in slots]
    assert couriers == ["Aziz", "Bala", "Aziz"]


def test_run_without_active_courier_is_built_but_cannot_start(signals):
    """With no active courier the run is still built (the board says so), and starting it is
    refused until one is added; then it starts with that courier."""
    shop = delivering_shop(couriers=())
    slot = make_slot(shop)
    book(slot, "LB-1")
    run = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)
    assert run.courier is None
    with pytest.raises(DeliveryError, match="add one in the delivery settings") as exc:
        delivery_run_start(run=run, actor_label="owner@example.com")
    assert exc.value.code == services_runs.NO_COURIER
    run.refresh_from_db()
    assert run.status == DeliveryRun.Status.PLANNED and not signals.of("run_started")
    Courier.objects.create(shop=shop, name="Late Lee", phone="+65 8111 1111")
    assert delivery_run_start(run=run, actor_label="owner@example.com").courier.name == "Late Lee"


def test_stops_without_coordinates_go_last(signals):
    """A booking whose address has no coordinates is delivered last (its place is unknown)."""
    slot = make_slot(delivering_shop())
    book(slot, "LB-NOWHERE", place=0, latitude=None, longitude=None)
    book(slot, "LB-NEAR", place=1)
    run = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)
    assert list(run.stops.order_by("sequence").values_list("booking__reference", flat=True)) == [
        "LB-NEAR",
        "LB-NOWHERE",
    ]


# --- emails -------------------------------------------------------------------------------------


def test_build_emails_each_buyer_the_window_and_the_courier_the_run_sheet(
    day_with_bookings, mailoutbox, django_capture_on_commit_callbacks
):
    """Each buyer with an email is told the window; the courier gets the run sheet: stops in
    order with names, addresses, phones, items and weights. Nothing leaves before the commit."""
    _shop, slot, bookings = day_with_bookings
    book(slot, "LB-NOMAIL", place=3, email=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)
    assert mailoutbox == [] and len(callbacks) == 1  # one task writes the emails, after the commit
    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()
    assert len(mailoutbox) == 5  # the 4 buyers with an email, and the courier

    buyer_mail = emails_to(mailoutbox, "buyer-lb-0@example.com")
    assert len(buyer_mail) == 1
    assert "arrives between 14:00 and 16:00" in buyer_mail[0].subject
    assert "LB-0" in buyer_mail[0].body and "Ana Tan" in buyer_mail[0].body
    assert not [m for m in mailoutbox if "nomail" in " ".join(m.to)]

    (sheet,) = emails_to(mailoutbox, "kumar@couriers.example")
    assert sheet.subject.startswith("Run sheet:")
    body = sheet.body
    order = list(run.stops.order_by("sequence").values_list("booking__reference", flat=True))
    positions = [body.index(f"Order {ref}\n") for ref in order]
    assert positions == sorted(positions)
    assert "5 stops" in body
    assert "+65 9000 0002" in body and "3 Kim Tian Road" in body and "3 items, 1202 g" in body


def test_emails_are_not_sent_when_the_build_rolls_back(
    day_with_bookings, mailoutbox, django_capture_on_commit_callbacks
):
    """A build undone by an error after it queued its emails sends none of them."""
    _shop, slot, _bookings = day_with_bookings
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)
        raise RuntimeError("boom")
    assert mailoutbox == [] and not DeliveryRun.objects.exists()


# --- time zones ---------------------------------------------------------------------------------


def test_runs_built_at_each_shops_own_cutoff(signals):
    """At one frozen instant (Wed 12 March 2025, 04:30 UTC), the job builds exactly the runs whose
    cut-off has passed on each shop's own clock: Singapore (12:30, Wednesday) and Bogotá
    (23:30 on Tuesday)."""
    now = datetime(2025, 3, 12, 4, 30, tzinfo=ZoneInfo("UTC"))
    tuesday = date(2025, 3, 11)

    sg = delivering_shop(time_zone="Asia/Singapore")
    sg_due = make_slot(sg, starts=time(14), ends=time(16), cutoff=time(12))  # 12:00 < 12:30
    sg_not_yet = make_slot(sg, starts=time(18), ends=time(20), cutoff=time(13))  # 13:00 > 12:30
    sg_tuesday = make_slot(sg, day=tuesday, starts=time(14), ends=time(16), cutoff=time(12))
    book(sg_due, "SG-1")
    book(sg_not_yet, "SG-2")
    book(sg_tuesday, "SG-3", day=tuesday)  # yesterday in Singapore: not today's job

    bog = delivering_shop(time_zone="America/Bogota", currency="COP")
    bog_due = make_slot(bog, day=tuesday, starts=time(23, 30), ends=time(23, 59), cutoff=time(23))
    bog_not_yet = make_slot(bog, day=tuesday, starts=time(23, 45), ends=time(23, 59), cutoff=time(23, 45))
    bog_wednesday = make_slot(bog, starts=time(9), ends=time(11), cutoff=time(8))  # tomorrow in Bogotá
    book(bog_due, "CO-1", day=tuesday)
    book(bog_not_yet, "CO-2", day=tuesday)
    book(bog_wednesday, "CO-3")

    assert delivery_runs_build_due(now=now) == 2
    built = set(DeliveryRun.objects.values_list("slot_id", "date"))
    assert built == {(sg_due.pk, WEDNESDAY), (bog_due.pk, tuesday)}
    assert delivery_runs_build_due(now=now) == 0  # nothing new: nothing built twice

    # At 23:50 in Bogotá its 23:45 slot is due (Singapore, at 12:50, still waits for 13:00)…
    assert delivery_runs_build_due(now=now + timedelta(minutes=20)) == 1
    assert DeliveryRun.objects.filter(slot=bog_not_yet, date=tuesday).exists()
    # …and at 13:05 in Singapore its 13:00 one; Bogotá's Wednesday slot waits for its 08:00.
    assert delivery_runs_build_due(now=now + timedelta(minutes=35)) == 1
    assert DeliveryRun.objects.filter(slot=sg_not_yet, date=WEDNESDAY).exists()
    assert not DeliveryRun.objects.filter(slot__in=[bog_wednesday, sg_tuesday]).exists()


def test_task_builds_due_runs(signals):
    """The beat task runs the same job (eagerly here) and returns how many runs it built."""
    from apps.delivery.tasks import runs_build_due

    slot = make_slot(delivering_shop())
    book(slot, "LB-1")
    with mock.patch("apps.delivery.services_runs.timezone.now", return_value=AFTER_CUTOFF):
        assert runs_build_due.delay().get() == 1
    assert DeliveryRun.objects.filter(slot=slot, date=WEDNESDAY).exists()


# --- on the road --------------------------------------------------------------------------------


@pytest.fixture
def built_run(day_with_bookings):
    _shop, slot, _bookings = day_with_bookings
    return delivery_run_build(slot=slot, date=WEDNESDAY, now=AFTER_CUTOFF)


def test_start_sends_the_order_numbers_and_tells_the_buyers(
    built_run, signals, mailoutbox, django_capture_on_commit_callbacks
):
    """When the courier leaves, the run is on the road, ``delivery_run_started`` carries the order
    numbers in route order (for the orders app), and each buyer hears the order is on its way.
    Starting again changes nothing and sends nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        run = delivery_run_start(run=built_run, actor_label="owner@example.com")
    assert run.status == DeliveryRun.Status.STARTED and run.started_at is not None
    (sent,) = signals.of("run_started")
    expected = list(built_run.stops.order_by("sequence").values_list("booking__reference", flat=True))
    assert sent["references"] == expected and sent["run"].pk == built_run.pk
    assert sent["actor_label"] == "owner@example.com"
    on_its_way = [m for m in mailoutbox if "is on its way" in m.subject]
    assert len(on_its_way) == 4
    assert "Kumar" in on_its_way[0].body

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        delivery_run_start(run=built_run, actor_label="owner@example.com")
    assert len(signals.of("run_started")) == 1 and mailoutbox == []


def test_orders_given_up_after_the_build_are_left_out_when_the_run_starts(built_run, signals):
    """A booking released after the run was built (order cancelled) is dropped from the run and
    not sent out for delivery."""
    gone = built_run.stops.order_by("sequence").first().booking
    SlotBooking.objects.filter(pk=gone.pk).update(status=SlotBooking.Status.RELEASED)
    delivery_run_start(run=built_run, actor_label="owner@example.com")
    assert gone.reference not in signals.of("run_started")[0]["references"]
    assert built_run.stops.count() == 3


def test_marking_stops_delivered_or_failed_and_finishing_the_run(
    built_run, signals, mailoutbox, django_capture_on_commit_callbacks
):
    """Each stop marked sends ``delivery_stop_done`` and emails its buyer; a failed one keeps its
    reason; the last one done finishes the run."""
    delivery_run_start(run=built_run, actor_label="owner@example.com")
    references = list(built_run.stops.order_by("sequence").values_list("booking__reference", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        first = run_stop_mark(reference=references[0], delivered=True, actor_label="Kumar")
    assert first.status == RunStop.Status.DELIVERED and first.done_at is not None
    (mail,) = emails_to(mailoutbox, f"buyer-{references[0].lower()}@example.com")[-1:]
    assert "was delivered" in mail.subject

    with django_capture_on_commit_callbacks(execute=True):
        failed = run_stop_mark(reference=references[1], delivered=False, reason="  Nobody home  ", actor_label="Kumar")
    assert failed.status == RunStop.Status.FAILED and failed.reason == "Nobody home"
    fail_mail = emails_to(mailoutbox, f"buyer-{references[1].lower()}@example.com")[-1]
    assert "could not deliver" in fail_mail.subject and "Nobody home" in fail_mail.body
    done = signals.of("stop_done")
    assert [(d["reference"], d["delivered"], d["reason"]) for d in done] == [
        (references[0], True, ""),
        (references[1], False, "Nobody home"),
    ]
    built_run.refresh_from_db()
    assert built_run.status == DeliveryRun.Status.STARTED

    for reference in references[2:]:
        run_stop_mark(reference=reference, delivered=True, actor_label="Kumar")
    built_run.refresh_from_db()
    assert built_run.status == DeliveryRun.Status.FINISHED and built_run.finished_at is not None
    with pytest.raises(DeliveryError, match="finished"):
        delivery_run_start(run=built_run, actor_label="owner@example.com")


def test_proof_photo_is_kept(built_run, signals):
    """A photo sent with the outcome is stored on the stop."""
    delivery_run_start(run=built_run, actor_label="owner@example.com")
    reference = built_run.stops.first().booking.reference
    stop = run_stop_mark(
        reference=reference, delivered=True, photo=ContentFile(b"\x89PNG proof", name="door.png"), actor_label="K"
    )
    assert stop.photo.name.startswith("delivery/proof/") and stop.photo.read() == b"\x89PNG proof"


def test_failed_needs_a_reason(built_run, signals):
    """A failed delivery without a reason is refused, and nothing changes."""
    delivery_run_start(run=built_run, actor_label="owner@example.com")
    reference = built_run.stops.first().booking.reference
    with pytest.raises(DeliveryError, match="Say why") as exc:
        run_stop_mark(reference=reference, delivered=False, reason="   ", actor_label="Kumar")
    assert exc.value.code == services_runs.REASON_REQUIRED
    assert RunStop.objects.get(booking__reference=reference).status == RunStop.Status.PENDING
    assert not signals.of("stop_done")


def test_marking_twice(built_run, signals):
    """The same outcome twice is a no-op (one signal); changing a final outcome is refused with a
    clear error, and the first outcome stands."""
    delivery_run_start(run=built_run, actor_label="owner@example.com")
    reference = built_run.stops.first().booking.reference
    run_stop_mark(reference=reference, delivered=True, actor_label="Kumar")
    run_stop_mark(reference=reference, delivered=True, actor_label="Kumar")
    assert len(signals.of("stop_done")) == 1
    with pytest.raises(DeliveryError, match="already marked delivered") as exc:
        run_stop_mark(reference=reference, delivered=False, reason="Wrong door", actor_label="Kumar")
    assert exc.value.code == services_runs.STOP_ALREADY_DONE
    assert RunStop.objects.get(booking__reference=reference).status == RunStop.Status.DELIVERED


def test_marking_before_the_run_left_or_an_unknown_order_is_refused(built_run, signals):
    """A stop cannot be done before its run left; an order on no run is named in the error."""
    reference = built_run.stops.first().booking.reference
    with pytest.raises(DeliveryError, match="has not left yet") as exc:
        run_stop_mark(reference=reference, delivered=True, actor_label="Kumar")
    assert exc.value.code == services_runs.RUN_NOT_STARTED
    with pytest.raises(DeliveryError, match="LB-404 is on no delivery run") as exc:
        run_stop_mark(reference="LB-404", delivered=True, actor_label="Kumar")
    assert exc.value.code == services_runs.STOP_NOT_FOUND
    assert not signals.of("stop_done")


def test_a_receiver_refusing_the_outcome_undoes_the_stop(built_run, signals, mailoutbox):
    """When the orders app refuses the move (its receiver raises), the stop stays to deliver and
    the buyer is not emailed."""
    delivery_run_start(run=built_run, actor_label="owner@example.com")
    reference = built_run.stops.first().booking.reference

    def refuse(sender, **kwargs):
        raise DeliveryError("The order cannot be delivered now.")

    delivery_stop_done.connect(refuse, weak=False)
    try:
        with pytest.raises(DeliveryError):
            run_stop_mark(reference=reference, delivered=True, actor_label="Kumar")
    finally:
        delivery_stop_done.disconnect(refuse)
    assert RunStop.objects.get(booking__reference=reference).status == RunStop.Status.PENDING


def test_run_stop_get(built_run):
    """A stop is found by its order number, with its run and booking; an unknown number is None."""
    reference = built_run.stops.first().booking.reference
    stop = run_stop_get(reference=reference)
    assert stop.run == built_run and stop.booking.reference == reference
    assert run_stop_get(reference="LB-404") is None

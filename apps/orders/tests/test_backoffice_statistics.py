"""Back-office statistics on small data sets with known times: orders per hour and day (platform time
zone), time spent in each status (average and 90th percentile), dispatch-time compliance per day and
per shop, and the server-side SVG charts that show them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from defusedxml.ElementTree import fromstring as defused_fromstring
from django.urls import reverse
from django.utils import timezone

from apps.orders import charts
from apps.orders import selectors_backoffice as sel
from apps.orders.models import Order, OrderEvent
from apps.shops.tests.factories import ShopFactory

from .test_backoffice import add_event, make_order, staff_client  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SGT = ZoneInfo("Asia/Singapore")
NOW = datetime(2026, 3, 20, 12, 30, tzinfo=SGT)
H = timedelta(hours=1)


def _journey(order: Order, start: datetime, steps: list[tuple[str, float]]) -> None:
    """Status changes of ``order``: each (status, hours after ``start``)."""
    previous = ""
    for status, hours in steps:
        add_event(order, source=previous, to=status, at=start + timedelta(hours=hours))
        previous = status


# --- orders per hour and day -----------------------------------------------------------------------


def test_orders_per_hour_count_the_last_48_hours_by_channel_and_status():
    make_order(channel="web", placed_at=NOW - timedelta(minutes=20))  # 12:10, this hour
    make_order(channel="pos", status="accepted", placed_at=NOW - timedelta(minutes=40))  # 11:50
    make_order(channel="web", placed_at=NOW - timedelta(minutes=85))  # 11:05
    make_order(channel="web", placed_at=NOW - timedelta(hours=48, minutes=31))  # 47 hours before 12:00: out

    by_channel = sel.orders_per_hour(now=NOW, by="channel")
    assert len(by_channel.buckets) == 48
    assert by_channel.buckets[-1] == datetime(2026, 3, 20, 12, 0, tzinfo=SGT)
    assert by_channel.buckets[0] == datetime(2026, 3, 18, 13, 0, tzinfo=SGT)
    assert by_channel.counts["web"][-2:] == [1, 1] and by_channel.counts["pos"][-2:] == [1, 0]
    assert sum(by_channel.totals) == 3

    by_status = sel.orders_per_hour(now=NOW, by="status")
    assert by_status.counts["paid"][-2:] == [1, 1] and by_status.counts["accepted"][-2:] == [1, 0]


def test_orders_per_day_use_platform_days():
    """00:10 in Singapore on the 20th is still the 19th in UTC: it counts on the 20th."""
    make_order(channel="web", placed_at=datetime(2026, 3, 20, 0, 10, tzinfo=SGT))
    make_order(channel="kiosk", placed_at=datetime(2026, 3, 20, 11, 0, tzinfo=SGT))
    make_order(channel="web", placed_at=datetime(2026, 3, 19, 23, 50, tzinfo=SGT))
    make_order(channel="web", placed_at=datetime(2026, 2, 18, 23, 50, tzinfo=SGT))  # the day before the first: out

    daily = sel.orders_per_day(now=NOW, by="channel")
    assert len(daily.buckets) == 30
    assert daily.buckets[-1] == datetime(2026, 3, 20, 0, 0, tzinfo=SGT)
    assert daily.buckets[0] == datetime(2026, 2, 19, 0, 0, tzinfo=SGT)  # 29 days before the 20th
    assert daily.counts["web"][-2:] == [1, 1] and daily.counts["kiosk"][-1] == 1
    assert sum(daily.totals) == 3


# --- time in each status ---------------------------------------------------------------------------


@pytest.fixture
def three_journeys():
    """Three orders with known times; a note in between changes nothing."""
    start = NOW - timedelta(days=2)
    first, second, third = (make_order(placed_at=start) for _i in range(3))
    _journey(first, start, [("paid", 0), ("accepted", 1), ("packed", 3), ("ready_for_pickup", 4)])
    _journey(second, start, [("paid", 0), ("accepted", 2), ("packed", 3)])
    _journey(third, start, [("paid", 0), ("accepted", 6)])
    OrderEvent.objects.create(
        order=second, kind="note", actor_kind="staff", actor_label="ops", created_at=start + timedelta(hours=2.5)
    )
    old = make_order(placed_at=NOW - timedelta(days=40))
    _journey(old, NOW - timedelta(days=40), [("paid", 0), ("accepted", 100)])
    return first, second, third


def test_time_in_each_status_average_and_90th_percentile(three_journeys):
    """paid: 1 h, 2 h, 6 h → average 3 h, p90 5.2 h; accepted: 2 h, 1 h (the third is still there) →
    1.5 h and 1.9 h; packed: 1 h (one still packed). Orders older than 30 days do not count."""
    found = {d.status: d for d in sel.state_durations(now=NOW)}
    assert list(found) == ["paid", "accepted", "packed"]
    assert (found["paid"].stays, found["paid"].average_seconds, found["paid"].p90_seconds) == (3, 3 * 3600, 5.2 * 3600)
    assert found["accepted"].stays == 2
    assert found["accepted"].average_seconds == pytest.approx(1.5 * 3600)
    assert found["accepted"].p90_seconds == pytest.approx(1.9 * 3600)
    assert (found["packed"].stays, found["packed"].average_seconds, found["packed"].p90_seconds) == (1, 3600, 3600)


def test_the_python_fallback_gives_the_same_figures(three_journeys):
    """The SQLite path (stays read and summarised in Python) agrees with the PostgreSQL query."""
    from django.db import connection

    python = sel.state_durations_python(since=NOW - timedelta(days=30))
    assert [(d.status, d.stays) for d in python] == [("paid", 3), ("accepted", 2), ("packed", 1)]
    if connection.vendor == "postgresql":
        sql = sel.state_durations(now=NOW)
        for a, b in zip(sql, python, strict=True):
            assert a.status == b.status and a.stays == b.stays
            assert a.average_seconds == pytest.approx(b.average_seconds)
            assert a.p90_seconds == pytest.approx(b.p90_seconds)


def test_percentile_interpolates_like_postgresql():
    assert sel.percentile_cont([1, 2, 6], 0.9) == pytest.approx(5.2)
    assert sel.percentile_cont([5], 0.9) == 5
    assert sel.percentile_cont([], 0.9) == 0


# --- dispatch-time compliance --------------------------------------------------------------------


@pytest.fixture
def dispatch_data():
    quick = ShopFactory(name="Quick Shop", slug="quick", dispatch_hours=24)
    slow = ShopFactory(name="Slow <b>Shop</b>", slug="slow", dispatch_hours=2)
    day = datetime(2026, 3, 18, 10, 0, tzinfo=SGT)
    on_time = make_order(shop=quick, placed_at=day, status="ready_for_pickup")
    _journey(on_time, day, [("paid", 0), ("accepted", 1), ("packed", 3), ("ready_for_pickup", 4)])
    late = make_order(shop=slow, placed_at=day, status="out_for_delivery", fulfilment="delivery")
    _journey(late, day, [("paid", 0), ("accepted", 1), ("packed", 2), ("out_for_delivery", 3)])
    cancelled = make_order(shop=quick, placed_at=day, status="cancelled")
    _journey(cancelled, day, [("paid", 0), ("cancelled", 1)])
    overdue = make_order(shop=slow, placed_at=NOW - 5 * H, status="packed")  # due at 09:30 today, not dispatched
    _journey(overdue, NOW - 5 * H, [("paid", 0), ("accepted", 1), ("packed", 2)])
    within = make_order(shop=slow, placed_at=NOW - H, status="paid")  # still has an hour
    _journey(within, NOW - H, [("paid", 0)])
    return quick, slow


def test_dispatch_compliance_per_day(dispatch_data):
    """On the 18th: one on time (4 h of 24), one late (3 h of 2), a cancelled one not counted. Today:
    one overdue and undispatched is late, one still within its time is not counted yet."""
    days = dict(sel.dispatch_compliance_per_day(now=NOW))
    assert len(days) == 30
    on_18th = days[datetime(2026, 3, 18).date()]
    assert (on_18th.on_time, on_18th.late, on_18th.share) == (1, 1, 0.5)
    today = days[NOW.date()]
    assert (today.on_time, today.late, today.share) == (0, 1, 0.0)
    assert days[datetime(2026, 3, 19).date()].share is None


def test_the_shops_that_dispatch_late_most_often(dispatch_data):
    quick, slow = dispatch_data
    offenders = sel.dispatch_offenders(now=NOW)
    assert [(row.shop_slug, row.compliance.late, row.compliance.on_time) for row in offenders] == [("slow", 2, 0)]
    assert offenders[0].dispatch_hours == 2


# --- the page and the charts -------------------------------------------------------------------------


def test_the_statistics_page_shows_charts_and_exact_figures(staff_client, django_assert_max_num_queries):  # noqa: F811
    """Real times relative to now: the page's tables carry the exact averages, the compliance and the
    offending shop (its name escaped in the table and in the SVG), at a fixed number of queries."""
    now = timezone.now()
    slow = ShopFactory(name="Slow <script>alert(1)</script>", slug="slow", dispatch_hours=2)
    start = now - timedelta(days=1)
    for hours in (1, 2, 6):
        order = make_order(shop=slow, placed_at=start, status="accepted")
        _journey(order, start, [("paid", 0), ("accepted", hours)])
    late = make_order(shop=slow, placed_at=start, status="out_for_delivery", fulfilment="delivery")
    _journey(late, start, [("paid", 0), ("accepted", 1), ("packed", 2), ("out_for_delivery", 3)])

    with django_assert_max_num_queries(9):
        response = staff_client.get(reverse("orders_backoffice:statistics"))
    page = response.content.decode()
    assert page.count("<svg") == 7
    assert '<title id="orders-hour-channel-title">' in page and '<title id="dispatch-offenders-title">' in page
    # paid: 1, 2, 6 and 1 h → average 2.5 h; p90 of [1, 1, 2, 6] = 2 + 0.7 × 4 = 4.8 h.
    assert 'data-average-seconds="9000"' in page and 'data-p90-seconds="17280"' in page
    assert 'data-shop="slow"' in page
    assert "<script>alert(1)</script>" not in page
    assert "Slow &lt;script&gt;alert(1)&lt;/script&gt;" in page.split('id="dispatch-offenders"', 1)[1]


def test_the_statistics_page_with_no_orders(staff_client):  # noqa: F811
    page = staff_client.get(reverse("orders_backoffice:statistics")).content.decode()
    assert "No order was due for dispatch in the last 30 days." in page
    assert "No shop dispatched late in the last 30 days." in page


def test_charts_escape_every_text_and_label_each_bar():
    svg = charts.bar_chart(
        chart_id="c1",
        title='Orders & "refunds" <b>',
        labels=["<i>Mon</i>", "Tue"],
        series=[charts.Series("<script>x</script>", [3, 0]), charts.Series("Web", [1, 2])],
        y_label="Orders",
    )
    assert "<script>" not in svg and "<i>" not in svg and "<b>" not in svg
    assert '<title id="c1-title">Orders &amp; &quot;refunds&quot; &lt;b&gt;</title>' in svg
    assert "<title>&lt;i&gt;Mon&lt;/i&gt; · &lt;script&gt;x&lt;/script&gt;: 3</title>" in svg
    assert "<title>Tue · Web: 2</title>" in svg
    assert svg.count("<rect") == 3 + 2  # three bars with a value, two legend keys
    assert 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    root = defused_fromstring(str(svg))  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_line_chart_breaks_where_there_is_no_data():
    svg = charts.line_chart(
        chart_id="c2", title="Share", labels=["a", "b", "c", "d"], series=[charts.Series("On time", [50, None, 75, 100])],
        y_max=100,
    )  # fmt: skip
    assert svg.count("<circle") == 3 and svg.count("<polyline") == 1
    assert "<title>c: 75</title>" in svg


def test_axis_maximum_is_a_round_number():
    assert [charts.nice_ceiling(v) for v in (0, 3, 7, 12, 26, 480)] == [1, 5, 10, 20, 50, 500]

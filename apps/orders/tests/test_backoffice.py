"""The back office for platform staff: who gets in, order search, an order's page with its timeline and
staff moves, the dead-letter and rejected queues with fix-and-re-push, batch files and warnings."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import StaffFactory, UserFactory, totp_device_for
from apps.orders.models import Order, OrderEvent, OrderFile, OrderIntake, OrderWarning
from apps.shops.tests.factories import ShopFactory

from .factories import stocked_variant

pytestmark = pytest.mark.django_db

SGT = ZoneInfo("Asia/Singapore")
_numbers = itertools.count(1)


def make_order(
    *,
    shop=None,
    status: str = Order.Status.PAID,
    channel: str = "web",
    placed_at: datetime | None = None,
    buyer=None,
    customer_email: str = "",
    fulfilment: str = "pickup",
    total: str = "20.00",
    number: str | None = None,
) -> Order:
    """An order as it stands, without going through checkout (the back office only reads it)."""
    return Order.objects.create(
        number=number or f"LB{next(_numbers):08d}",
        shop=shop or ShopFactory(),
        buyer=buyer,
        customer_email=customer_email,
        status=status,
        channel=channel,
        fulfilment=fulfilment,
        payment_method="pay_on_pickup",
        currency="SGD",
        subtotal=Decimal(total),
        total=Decimal(total),
        placed_at=placed_at or timezone.now(),
    )


def add_event(order: Order, *, to: str, at: datetime, source: str = "", actor_label: str = "LocalBazaar", **kw):
    return OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.TRANSITION,
        from_status=source,
        to_status=to,
        actor_kind=kw.pop("actor_kind", "system"),
        actor=kw.pop("actor", None),
        actor_label=actor_label,
        channel=kw.pop("channel", "web"),
        reason=kw.pop("reason", ""),
        created_at=at,
    )


@pytest.fixture
def staff_client(client, login_verified):
    staff = StaffFactory(email="ops@localbazaar.test")
    login_verified(client, staff)
    client.staff = staff
    return client


def bo(name, *args):
    return reverse(f"orders_backoffice:{name}", args=args)


# --- who gets in ---------------------------------------------------------------------------------

PAGES = [
    ("backoffice", ()),
    ("orders_backoffice:orders", ()),
    ("orders_backoffice:intakes", ()),
    ("orders_backoffice:files", ()),
    ("orders_backoffice:warnings", ()),
    ("orders_backoffice:statistics", ()),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, name, args):
    """Someone not signed in is asked to sign in and comes back to the page afterwards."""
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login")) and "next=" in response["Location"]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_signed_in_non_staff_get_not_found(client, login_verified, name, args):
    """A buyer or seller (even with MFA) does not learn the back office exists: 404."""
    login_verified(client, UserFactory())
    assert client.get(reverse(name, args=args)).status_code == 404


def test_non_staff_cannot_open_an_order_or_move_it(client, login_verified):
    """Order pages and staff moves are 404 for non-staff, and nothing changes."""
    order = make_order(status=Order.Status.PAID)
    login_verified(client, UserFactory())
    assert client.get(bo("order", order.number)).status_code == 404
    assert client.post(bo("transition", order.number), {"to": "accepted"}).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_staff_without_mfa_set_up_are_sent_to_set_it_up(client):
    """Staff signed in with only a password are sent to set up two-factor authentication."""
    client.force_login(StaffFactory())
    response = client.get(bo("orders"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:mfa-setup"))


def test_staff_whose_session_is_not_verified_must_enter_a_code(client):
    """Staff with an authenticator but an unverified session are sent to enter a code first."""
    staff = StaffFactory()
    totp_device_for(staff)
    client.force_login(staff)
    for url in (reverse("backoffice"), bo("orders"), bo("statistics")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:mfa-verify"))


def test_the_pages_stay_closed_without_mfa_even_outside_the_protected_prefixes(client, settings):
    """Should ``/backoffice/`` drop out of the middleware's list, the pages still refuse a session
    that has not passed MFA (403) instead of opening."""
    settings.MFA_PROTECTED_PATH_PREFIXES = ["/admin/"]
    staff = StaffFactory()
    totp_device_for(staff)
    client.force_login(staff)
    assert client.get(bo("orders")).status_code == 403
    order = make_order(status=Order.Status.PAID)
    assert client.post(bo("transition", order.number), {"to": "accepted"}).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_staff_with_mfa_verified_get_in(staff_client, name, args):
    """Staff whose session passed MFA see every back-office page."""
    assert staff_client.get(reverse(name, args=args)).status_code == 200


def test_the_landing_page_links_to_every_area(staff_client):
    page = staff_client.get(reverse("backoffice")).content.decode()
    for name in ("orders", "intakes", "files", "warnings", "statistics"):
        assert f'href="{bo(name)}"' in page


# --- order search --------------------------------------------------------------------------------


def _numbers_in(response) -> set[str]:
    html = response.content.decode()
    return {chunk.split('"', 1)[0] for chunk in html.split('data-order="')[1:]}


def test_search_filters_by_number_email_shop_status_channel(staff_client):
    """Each criterion narrows the list to the orders that match it."""
    kampong = ShopFactory(name="Kampong Crafts", slug="kampong")
    tiong = ShopFactory(name="Tiong Bahru Bakery", slug="tiong-bahru-bakery")
    mei = UserFactory(email="mei.tan@example.com")
    a = make_order(shop=kampong, buyer=mei, status=Order.Status.PAID, channel="web", number="LBAAAA0001")
    b = make_order(shop=tiong, customer_email="walkin@shop.example", status=Order.Status.ACCEPTED, channel="pos")
    c = make_order(shop=tiong, status=Order.Status.CANCELLED, channel="batch")

    assert _numbers_in(staff_client.get(bo("orders"))) == {a.number, b.number, c.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"number": "lbaaaa"})) == {a.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"email": "MEI.TAN"})) == {a.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"email": "walkin@"})) == {b.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"shop": "kampong"})) == {a.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"shop": "bahru bak"})) == {b.number, c.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"status": "accepted"})) == {b.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"channel": "batch"})) == {c.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"shop": "tiong-bahru-bakery", "channel": "pos"})) == {b.number}


def test_date_range_is_in_the_platform_time_zone(staff_client):
    """A day typed in the form is a Singapore calendar day: 00:30 SGT on the 2nd is on the 2nd even
    though it is still the 1st in UTC; both ends are included."""
    first_late = make_order(placed_at=datetime(2026, 3, 1, 23, 30, tzinfo=SGT))
    second_early = make_order(placed_at=datetime(2026, 3, 2, 0, 30, tzinfo=SGT))
    second_late = make_order(placed_at=datetime(2026, 3, 2, 23, 59, tzinfo=SGT))
    make_order(placed_at=datetime(2026, 3, 3, 0, 0, tzinfo=SGT))

    one_day = {"placed_from": "2026-03-02", "placed_to": "2026-03-02"}
    assert _numbers_in(staff_client.get(bo("orders"), one_day)) == {second_early.number, second_late.number}
    assert _numbers_in(staff_client.get(bo("orders"), {"placed_to": "2026-03-01"})) == {first_late.number}


def test_bad_search_input_gives_form_errors_not_a_crash(staff_client):
    """An unknown status, a malformed date or a range backwards are explained on the form."""
    response = staff_client.get(bo("orders"), {"status": "teleported", "placed_from": "2026-13-45"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert "Enter a valid date" in response.content.decode()
    response = staff_client.get(bo("orders"), {"placed_from": "2026-03-05", "placed_to": "2026-03-01"})
    assert "Choose a day on or after the first day." in response.content.decode()
    assert _numbers_in(response) == set()


def test_search_pages_cost_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    """60 orders of 60 shops and buyers: the first page of 50 costs the same few queries."""
    for _i in range(60):
        make_order(buyer=UserFactory())
    with django_assert_max_num_queries(4):
        response = staff_client.get(bo("orders"))
    assert len(_numbers_in(response)) == 50
    assert len(_numbers_in(staff_client.get(bo("orders"), {"page": 2}))) == 10


# --- one order -----------------------------------------------------------------------------------


def test_the_order_page_shows_summary_lines_and_the_full_timeline(staff_client):
    shop = ShopFactory(name="Kampong Crafts")
    order = make_order(shop=shop, status=Order.Status.ACCEPTED, customer_email="walkin@shop.example")
    variant = stocked_variant(shop=shop, units=0, title="Rattan basket", sku="RAT-1")
    order.lines.create(
        variant=variant, sku="RAT-1", title="Rattan basket", unit_price=Decimal("20.00"), quantity=1,
        line_total=Decimal("20.00"),
    )  # fmt: skip
    t0 = timezone.now() - timedelta(hours=3)
    add_event(order, to="paid", at=t0, reason="placed")
    add_event(
        order, source="paid", to="accepted", at=t0 + timedelta(hours=1), actor_kind="member",
        actor_label="owner@kampong.example", channel="seller", reason="stock checked",
    )  # fmt: skip
    OrderWarning.objects.create(kind="discount", order=order, shop=shop, key=f"d-{order.pk}", message="Big discount")

    page = staff_client.get(bo("order", order.number)).content.decode()
    assert "Kampong Crafts" in page and "Rattan basket" in page and "RAT-1" in page
    assert "walkin@shop.example" in page and "Big discount" in page
    assert page.count('data-event="transition"') == 2
    assert "owner@kampong.example" in page and "stock checked" in page and "seller" in page
    assert "Paid → Accepted" in page
    # Staff may pack, cancel (with a reason) from accepted.
    assert 'value="packed"' in page and 'value="cancelled"' in page and 'value="delivered"' not in page


def test_the_order_page_shows_the_payment_refunds_and_documents(staff_client):
    from apps.orders.models import OrderDocument, OrderRefund
    from apps.payments.models import Payment, Refund

    order = make_order(status=Order.Status.COMPLETED, total="40.00")
    payment = Payment.objects.create(
        reference=order.number, method="pay_on_pickup", amount="40.00", currency="SGD", status="partially_refunded"
    )
    Refund.objects.create(
        payment=payment, kind="manual", amount="5.00", currency="SGD", status="succeeded", reason="chipped lid",
        reference=f"{order.number}-r1",
    )  # fmt: skip
    OrderRefund.objects.create(order=order, reference=f"{order.number}-r1", amount="5.00", reason="chipped lid")
    OrderDocument.objects.create(
        order=order, shop=order.shop, kind="invoice", year=2026, sequence=7, number="INV-2026-000007",
        currency="SGD", tax_rate="0.0900", net="36.70", tax="3.30", gross="40.00", issued_at=timezone.now(),
    )  # fmt: skip
    page = staff_client.get(bo("order", order.number)).content.decode()
    assert f"Payment {order.number}" in page and "Partially refunded" in page
    assert "chipped lid" in page and "By hand" in page
    assert "INV-2026-000007" in page and "Tax invoice" in page


def test_an_unknown_order_number_is_not_found(staff_client):
    assert staff_client.get(bo("order", "LBNOSUCH1")).status_code == 404


def test_staff_move_an_order_and_the_timeline_records_it(staff_client):
    """A staff move goes through the state machine: the event names the staff member, the
    back office as the channel, and the reason."""
    order = make_order(status=Order.Status.PAID)
    response = staff_client.post(bo("transition", order.number), {"to": "accepted", "reason": "shop asked us"})
    assert response.status_code == 302 and response["Location"] == bo("order", order.number)
    order.refresh_from_db()
    assert order.status == Order.Status.ACCEPTED
    event = order.events.get()
    assert (event.from_status, event.to_status, event.actor_kind, event.channel, event.reason) == (
        "paid",
        "accepted",
        "staff",
        "backoffice",
        "shop asked us",
    )
    assert event.actor == staff_client.staff and event.actor_label == "ops@localbazaar.test"
    page = staff_client.get(bo("order", order.number)).content.decode()
    assert "is now Accepted" in page and "backoffice" in page


def test_an_illegal_move_is_refused_with_a_message_and_changes_nothing(staff_client):
    order = make_order(status=Order.Status.PAID)
    response = staff_client.post(bo("transition", order.number), {"to": "delivered"}, follow=True)
    assert f"Order {order.number} is Paid: it cannot become Delivered." in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and not order.events.exists()


def test_a_move_that_needs_a_reason_asks_for_one(staff_client):
    order = make_order(status=Order.Status.PAID)
    response = staff_client.post(bo("transition", order.number), {"to": "cancelled", "reason": " "}, follow=True)
    assert f"Give a reason for moving order {order.number} to Cancelled." in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_made_up_status_is_refused_with_a_message(staff_client):
    order = make_order(status=Order.Status.PAID)
    response = staff_client.post(bo("transition", order.number), {"to": "teleported"}, follow=True)
    assert response.status_code == 200
    assert "Choose the status to move the order to." in response.content.decode()


def test_the_order_page_costs_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    order = make_order(status=Order.Status.ACCEPTED)
    t0 = timezone.now() - timedelta(days=1)
    for i in range(20):
        add_event(order, to="accepted", source="paid", at=t0 + timedelta(minutes=i), actor=UserFactory())
        OrderWarning.objects.create(
            kind="discount", order=order, key=f"w{i}", message="x", acknowledged_by=UserFactory()
        )
    with django_assert_max_num_queries(10):
        assert staff_client.get(bo("order", order.number)).status_code == 200


# --- the dead-letter queue -----------------------------------------------------------------------


def _payload(shop, variant, *, ref="POS-1001", quantity=1, price="10.00"):
    return {
        "shop": shop.slug,
        "channel": "pos",
        "external_ref": ref,
        "currency": "SGD",
        "customer": {"name": "Walk-in", "email": "walkin@shop.example"},
        "fulfilment": "pickup",
        "payment": "paid",
        "lines": [{"sku": variant.sku, "quantity": quantity, "unit_price": price}],
    }


def make_intake(*, shop=None, status=OrderIntake.Status.DEAD_LETTER, ref="POS-1001", payload=None, **kw):
    shop = shop or ShopFactory()
    return OrderIntake.objects.create(
        channel=kw.pop("channel", "pos"),
        external_ref=ref,
        shop=shop,
        payload=payload if payload is not None else {"external_ref": ref},
        status=status,
        step=kw.pop("step", OrderIntake.Step.RESERVE),
        attempts=kw.pop("attempts", 10),
        last_error=kw.pop("last_error", "OperationalError: could not connect to server"),
        **kw,
    )


def test_the_dead_letter_queue_lists_failed_step_error_attempts_and_age(staff_client):
    shop = ShopFactory(name="Tiong Bahru Bakery")
    dead = make_intake(shop=shop, ref="POS-DEAD-1", step=OrderIntake.Step.PAYMENT)
    rejected = make_intake(
        shop=shop, ref="POS-BAD-1", status=OrderIntake.Status.REJECTED, last_error="lines[0].sku: unknown SKU"
    )
    make_intake(shop=shop, ref="POS-OK-1", status=OrderIntake.Status.DONE)

    page = staff_client.get(bo("intakes")).content.decode()
    assert f'data-intake="{dead.pk}"' in page and f'data-intake="{rejected.pk}"' not in page
    assert "POS-DEAD-1" in page and "POS-OK-1" not in page
    assert "Payment" in page and "could not connect to server" in page and "Tiong Bahru Bakery" in page
    assert ">10<" in page  # attempts

    page = staff_client.get(bo("intakes"), {"tab": "rejected"}).content.decode()
    assert f'data-intake="{rejected.pk}"' in page and "unknown SKU" in page and "POS-DEAD-1" not in page


def test_the_intake_page_shows_the_payload_as_editable_json(staff_client):
    intake = make_intake(payload={"external_ref": "POS-1001", "note": "<b>fragile</b>"})
    page = staff_client.get(bo("intake", intake.pk)).content.decode()
    assert "<textarea" in page and "&quot;note&quot;: &quot;&lt;b&gt;fragile&lt;/b&gt;&quot;" in page


def test_invalid_json_is_a_form_error_and_nothing_changes(staff_client):
    intake = make_intake()
    response = staff_client.post(bo("intake", intake.pk), {"payload": '{"external_ref": "POS-1001",'})
    assert response.status_code == 400
    assert "This is not valid JSON" in response.content.decode()
    response = staff_client.post(bo("intake", intake.pk), {"payload": "[1, 2]"})
    assert "The order must be a JSON object" in response.content.decode()
    intake.refresh_from_db()
    assert intake.status == OrderIntake.Status.DEAD_LETTER and intake.pushes == 0


def test_fix_and_re_push_sends_the_corrected_order_through_again(staff_client, django_capture_on_commit_callbacks):
    """A rejected order with a wrong quantity is fixed in the textarea and re-pushed: the intake takes
    the new payload, starts over (received, no attempts, no error) and its processing is queued."""
    shop = ShopFactory()
    variant = stocked_variant(shop=shop, price="10.00", units=5, sku="KAYA-1")
    bad = _payload(shop, variant, quantity=50)
    intake = make_intake(shop=shop, payload=bad, status=OrderIntake.Status.REJECTED, step=OrderIntake.Step.RESERVE)
    fixed = _payload(shop, variant, quantity=2)
    with django_capture_on_commit_callbacks() as queued:
        response = staff_client.post(bo("intake", intake.pk), {"payload": json.dumps(fixed)})
    assert response.status_code == 302 and response["Location"] == bo("intake", intake.pk)
    assert len(queued) == 1  # the pipeline, after commit
    intake.refresh_from_db()
    assert intake.payload == fixed and intake.pushes == 1
    assert (intake.status, intake.attempts, intake.last_error) == (OrderIntake.Status.RECEIVED, 0, "")
    page = staff_client.get(bo("intake", intake.pk)).content.decode()
    assert "was pushed through again" in page and 'data-status="received"' in page


def test_a_fix_that_is_still_wrong_is_explained_and_nothing_changes(staff_client):
    shop = ShopFactory()
    variant = stocked_variant(shop=shop, units=5, sku="KAYA-1")
    intake = make_intake(shop=shop, payload=_payload(shop, variant), status=OrderIntake.Status.REJECTED)
    still_bad = _payload(shop, variant)
    still_bad["lines"][0]["sku"] = "NO-SUCH-SKU"
    response = staff_client.post(bo("intake", intake.pk), {"payload": json.dumps(still_bad)})
    assert response.status_code == 400
    assert "NO-SUCH-SKU" in response.content.decode()
    intake.refresh_from_db()
    assert intake.status == OrderIntake.Status.REJECTED and intake.pushes == 0


def test_bulk_re_push_of_the_ticked_orders(staff_client, django_capture_on_commit_callbacks):
    """Ticked dead letters go through again (queued once each); those not ticked stay in the queue."""
    shop = ShopFactory()
    variant = stocked_variant(shop=shop, units=10, sku="KAYA-1")
    first = make_intake(shop=shop, ref="POS-1", payload=_payload(shop, variant, ref="POS-1"))
    second = make_intake(shop=shop, ref="POS-2", payload=_payload(shop, variant, ref="POS-2"))
    left = make_intake(shop=shop, ref="POS-3", payload=_payload(shop, variant, ref="POS-3"))
    with django_capture_on_commit_callbacks() as queued:
        response = staff_client.post(
            bo("intakes-repush"), {"intake": [first.pk, second.pk], "tab": "dead_letter"}, follow=True
        )
    assert "2 incoming orders were pushed through again." in response.content.decode()
    assert len(queued) == 2
    statuses = dict(OrderIntake.objects.values_list("external_ref", "status"))
    assert statuses == {"POS-1": "received", "POS-2": "received", "POS-3": "dead_letter"}
    html = response.content.decode()
    assert f'data-intake="{left.pk}"' in html and f'data-intake="{first.pk}"' not in html


def test_bulk_re_push_with_nothing_ticked_says_so(staff_client):
    response = staff_client.post(bo("intakes-repush"), {"intake": ["x"]}, follow=True)
    assert "Tick the incoming orders to push through again." in response.content.decode()


def test_the_queue_costs_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    for i in range(30):
        make_intake(ref=f"POS-{i}")
    with django_assert_max_num_queries(5):
        page = staff_client.get(bo("intakes")).content.decode()
    assert page.count('data-intake="') == 30


# --- batch files ---------------------------------------------------------------------------------


def test_a_bad_file_is_refused_with_the_reason(staff_client):
    """A file that is neither XML nor JSON is refused with the service's message on the form, and
    nothing is stored."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("orders.txt", b"hello, these are not orders", content_type="text/plain")
    response = staff_client.post(bo("files"), {"file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="file-errors"' in html and "XML" in html.split('id="file-errors"', 1)[1].split("</small>", 1)[0]
    assert not OrderFile.objects.exists()


def test_uploading_without_a_file_asks_for_one(staff_client):
    response = staff_client.post(bo("files"), {})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_an_uploaded_file_is_queued_and_its_page_shows_the_report(staff_client, django_capture_on_commit_callbacks):
    """The file is stored under the staff member's name and queued for reading; once read, its page
    shows the counters, the progress bar and a report row per order with the reasons of rejects."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.orders.services_files import order_file_process

    shop = ShopFactory()
    variant = stocked_variant(shop=shop, units=10, sku="KAYA-1")
    unknown = _payload(shop, variant, ref="F-2")
    unknown["lines"][0]["sku"] = "NO-SUCH-SKU"
    content = json.dumps({"orders": [_payload(shop, variant, ref="F-1"), unknown]})
    upload = SimpleUploadedFile("orders.json", content.encode(), content_type="application/json")
    with django_capture_on_commit_callbacks() as queued:
        response = staff_client.post(bo("files"), {"file": upload})
    order_file = OrderFile.objects.get()
    assert response.status_code == 302 and response["Location"] == bo("file", order_file.pk)
    assert len(queued) == 1
    assert order_file.uploaded_by == staff_client.staff and order_file.uploaded_by_label == "ops@localbazaar.test"

    order_file_process(order_file=order_file)
    page = staff_client.get(bo("file", order_file.pk)).content.decode()
    assert "orders.json" in page and '<progress value="2" max="2"' in page
    assert 'data-outcome="accepted"' in page and 'data-outcome="rejected"' in page and "NO-SUCH-SKU" in page
    listing = staff_client.get(bo("files")).content.decode()
    assert f'data-file="{order_file.pk}"' in listing and "ops@localbazaar.test" in listing


def test_an_unknown_file_is_not_found(staff_client):
    assert staff_client.get(bo("file", 999999)).status_code == 404


# --- warnings ------------------------------------------------------------------------------------


def test_warnings_list_open_first_filter_by_kind_and_acknowledge(staff_client):
    shop = ShopFactory()
    order = make_order(shop=shop)
    seen = OrderWarning.objects.create(
        kind="discount", order=order, shop=shop, key="k1", message="Seen already", acknowledged_at=timezone.now()
    )
    late = OrderWarning.objects.create(kind="not_dispatched", order=order, shop=shop, key="k2", message="Late!")
    pricey = OrderWarning.objects.create(kind="price_deviation", order=order, shop=shop, key="k3", message="Pricey")

    page = staff_client.get(bo("warnings")).content.decode()
    assert "Late!" in page and "Pricey" in page and "Seen already" not in page
    page = staff_client.get(bo("warnings"), {"show": "all"}).content.decode()
    assert page.index("Pricey") < page.index("Seen already") and page.index("Late!") < page.index("Seen already")
    page = staff_client.get(bo("warnings"), {"kind": "not_dispatched"}).content.decode()
    assert "Late!" in page and "Pricey" not in page

    response = staff_client.post(
        bo("warning-acknowledge", late.pk), {"next": bo("warnings") + "?kind=not_dispatched"}, follow=True
    )
    assert "Warning acknowledged." in response.content.decode()
    late.refresh_from_db()
    assert late.acknowledged_at is not None and late.acknowledged_by == staff_client.staff
    assert order.events.filter(kind=OrderEvent.Kind.WARNING, actor_kind="staff").exists()
    assert f'data-warning="{late.pk}"' not in staff_client.get(bo("warnings")).content.decode()
    assert seen.pk and pricey.pk


def test_acknowledging_twice_or_an_unknown_warning(staff_client):
    shop = ShopFactory()
    warning = OrderWarning.objects.create(kind="discount", shop=shop, key="k1", message="Once")
    staff_client.post(bo("warning-acknowledge", warning.pk))
    first = OrderWarning.objects.get(pk=warning.pk).acknowledged_at
    staff_client.post(bo("warning-acknowledge", warning.pk))
    assert OrderWarning.objects.get(pk=warning.pk).acknowledged_at == first
    assert staff_client.post(bo("warning-acknowledge", 999999)).status_code == 404


def test_warnings_page_costs_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    for i in range(25):
        shop = ShopFactory()
        OrderWarning.objects.create(kind="discount", order=make_order(shop=shop), shop=shop, key=f"k{i}", message="x")
    with django_assert_max_num_queries(4):
        page = staff_client.get(bo("warnings")).content.decode()
    assert page.count('data-warning="') == 25

"""Tax documents: the invoice (receipt) and credit notes with prices with and without tax, gapless
numbers per shop, kind and year (also under concurrency), emailed once with the PDF attached after
the order is paid or confirmed; the dispatch guide with the parcel's weight; HTML and PDF doors for
the seller and the buyer, each scoped to its own orders."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.core.money import Money
from apps.core.tests.concurrency import race, race_errors
from apps.orders.actors import Actor
from apps.orders.documents_pdf import document_pdf
from apps.orders.errors import DocumentError
from apps.orders.models import DocumentSequence, Order, OrderDocument, OrderEvent, OrderLine
from apps.orders.selectors_documents import discount_allocate, dispatch_guide_view, tax_split
from apps.orders.services import cart_add, cart_get_or_create, checkout_place, order_transition
from apps.orders.services_documents import (
    credit_note_issue,
    invoice_email_send,
    invoice_issue,
)
from apps.orders.signals import order_refunded
from apps.shops.tests.factories import ShopFactory

from .factories import buyer_with_address, stocked_variant

_numbers = itertools.count(1)
YEAR = timezone.localtime(timezone.now()).year


def make_order(
    *,
    shop=None,
    buyer=None,
    status: str = Order.Status.PAID,
    lines=(("10.00", 1),),
    discount: str = "0",
    channel: str = "web",
    fulfilment: str = "pickup",
    weights=None,
    titles=None,
) -> Order:
    """An order written straight to the database (no signals, nothing queued): each test decides
    what happens to it."""
    shop = shop or ShopFactory()
    buyer = buyer if buyer is not None else UserFactory()
    subtotal = sum((Decimal(price) * quantity for price, quantity in lines), Decimal(0))
    order = Order.objects.create(
        number=f"LBT{next(_numbers):07d}",
        shop=shop,
        buyer=buyer,
        status=status,
        channel=channel,
        fulfilment=fulfilment,
        payment_method="card",
        currency=shop.currency,
        subtotal=subtotal,
        discount=Decimal(discount),
        total=subtotal - Decimal(discount),
        address={
            "recipient": "Mei Tan",
            "phone": "+65 9123 4567",
            "lines": ["1 Tiong Bahru Road"],
            "postcode": "168898",
            "city": "Singapore",
            "country": "SG",
        },
        placed_at=timezone.now(),
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                sku=f"SKU-{i}",
                title=(titles or {}).get(i, f"Kaya jar {i}"),
                unit_price=Decimal(price),
                quantity=quantity,
                line_total=Decimal(price) * quantity,
                weight_grams=(weights or {}).get(i, 0),
            )
            for i, (price, quantity) in enumerate(lines)
        ]
    )
    return order


def pickup_checkout(shop, *, price="20.00", quantity=1, key="k"):
    buyer, address = buyer_with_address()
    cart = cart_get_or_create(user=buyer)
    cart_add(cart=cart, variant=stocked_variant(shop=shop, price=price, units=5), quantity=quantity)
    return checkout_place(
        buyer=buyer,
        cart=cart,
        address=address.snapshot(),
        payment_method="pay_on_pickup",
        idempotency_key=key,
        expected_total=Decimal(price) * quantity,
    )


# --- tax maths -------------------------------------------------------------------------------------


def test_nine_percent_gst_splits_109_into_100_net_and_9_tax():
    """Catalog prices include tax: 109.00 at 9% GST is 100.00 without tax and 9.00 of GST."""
    assert tax_split(gross=Decimal("109.00"), rate=Decimal("0.09"), currency="SGD") == (
        Decimal("100.00"),
        Decimal("9.00"),
    )


def test_the_net_amount_is_rounded_half_up_to_the_minor_unit():
    """1.17 at 4% is exactly 1.125 net: half-up gives 1.13 (banker's rounding would give 1.12);
    yen have no minor unit: 1000 at 10% is 909 + 91."""
    assert tax_split(gross=Decimal("1.17"), rate=Decimal("0.04"), currency="SGD") == (Decimal("1.13"), Decimal("0.04"))
    assert tax_split(gross=Decimal("1000"), rate=Decimal("0.10"), currency="JPY") == (Decimal("909"), Decimal("91"))


def test_a_discount_is_shared_over_the_lines_to_the_cent():
    """Shares are in proportion and add up to the discount exactly."""
    shares = discount_allocate(
        amounts=[Decimal("10.00"), Decimal("10.00"), Decimal("10.00")], discount=Decimal("1.00"), currency="SGD"
    )
    assert sum(shares) == Decimal("1.00") and sorted(shares) == [Decimal("0.33"), Decimal("0.33"), Decimal("0.34")]


@pytest.mark.django_db
def test_the_invoice_splits_each_line_and_its_lines_add_up_exactly_to_the_totals():
    """Three lines of 10.00 at 9%: 9.17 + 0.83 each, totals 27.51 + 2.49 = 30.00 (the sum of the
    lines, not the total split again, which would say 27.52)."""
    order = make_order(shop=ShopFactory(country="SG"), lines=[("10.00", 1), ("5.00", 2), ("10.00", 1)])

    invoice = invoice_issue(order=order)

    assert (invoice.net, invoice.tax, invoice.gross) == (Decimal("27.51"), Decimal("2.49"), Decimal("30.00"))
    assert invoice.tax_rate == Decimal("0.09") and invoice.currency == "SGD"
    lines = invoice.data["lines"]
    assert [(row["net"], row["tax"], row["gross"]) for row in lines] == [("9.17", "0.83", "10.00")] * 3
    assert lines[1]["quantity"] == 2 and lines[1]["unit_price"] == "5.00"
    assert invoice.data["tax_label"] == "GST" and invoice.data["gross"] == "30.00"
    assert sum(Decimal(row["net"]) + Decimal(row["tax"]) for row in lines) == order.total


@pytest.mark.django_db
@override_settings(ORDER_TAX_RATES={"MX": "0.16"}, ORDER_TAX_LABELS={"MX": "IVA"})
def test_the_rate_and_name_of_the_tax_follow_the_shops_country_and_a_discount_is_taken_off_the_lines():
    """A Mexican shop's invoice shows IVA at 16%; the order's discount lowers each line's gross."""
    order = make_order(
        shop=ShopFactory(country="MX", currency="MXN"), lines=[("100.00", 1), ("16.00", 1)], discount="11.60"
    )

    invoice = invoice_issue(order=order)

    assert invoice.data["tax_label"] == "IVA" and invoice.tax_rate == Decimal("0.16")
    assert [row["discount"] for row in invoice.data["lines"]] == ["10.00", "1.60"]
    assert [row["gross"] for row in invoice.data["lines"]] == ["90.00", "14.40"]
    assert (invoice.net, invoice.tax, invoice.gross) == (Decimal("90.00"), Decimal("14.40"), Decimal("104.40"))
    assert invoice.gross == order.total and invoice.data["discount"] == "11.60"


@pytest.mark.django_db
def test_a_country_without_a_rate_has_no_tax():
    order = make_order(shop=ShopFactory(country="ZZ"), lines=[("12.00", 1)])
    invoice = invoice_issue(order=order)
    assert (invoice.net, invoice.tax, invoice.data["tax_label"]) == (Decimal("12.00"), Decimal("0.00"), "Tax")


# --- issuing and numbering -------------------------------------------------------------------------


@pytest.mark.django_db
def test_issuing_the_invoice_twice_returns_the_first_and_records_it_once_on_the_timeline():
    """Idempotent: one invoice per order, one number taken, one timeline event."""
    order = make_order()
    first = invoice_issue(order=order)
    second = invoice_issue(order=order)

    assert first.pk == second.pk
    assert first.number == f"INV-{order.shop_id:04d}-{YEAR}-000001"
    assert DocumentSequence.objects.get(shop=order.shop, kind="invoice").last == 1
    events = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.DOCUMENT)
    assert [event.data["document"] for event in events] == [first.number]


@pytest.mark.django_db
def test_numbers_are_gapless_per_shop_and_each_shop_counts_its_own():
    shop, other = ShopFactory(), ShopFactory()
    numbers = [invoice_issue(order=make_order(shop=shop)).sequence for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert invoice_issue(order=make_order(shop=other)).sequence == 1


@pytest.mark.django_db
def test_an_unpaid_order_gets_no_invoice_and_its_failed_issue_uses_no_number():
    """Awaiting payment: a clear error, and the next invoice still gets number 1."""
    shop = ShopFactory()
    with pytest.raises(DocumentError, match="once it is paid or confirmed"):
        invoice_issue(order=make_order(shop=shop, status=Order.Status.PENDING_PAYMENT))
    assert invoice_issue(order=make_order(shop=shop)).sequence == 1


@pytest.mark.django_db
def test_numbering_starts_again_each_year_in_the_shops_time_zone():
    """31 December 23:30 in Singapore is still 2025; 00:30 on 1 January is 2026's first invoice."""
    shop = ShopFactory(time_zone="Asia/Singapore")
    with mock.patch("django.utils.timezone.now", return_value=datetime(2025, 12, 31, 15, 30, tzinfo=UTC)):
        late = [invoice_issue(order=make_order(shop=shop)) for _ in range(2)]
    with mock.patch("django.utils.timezone.now", return_value=datetime(2025, 12, 31, 16, 30, tzinfo=UTC)):
        new_year = invoice_issue(order=make_order(shop=shop))

    assert [doc.number for doc in late] == [
        f"INV-{shop.pk:04d}-2025-000001",
        f"INV-{shop.pk:04d}-2025-000002",
    ]
    assert (new_year.year, new_year.sequence, new_year.number) == (2026, 1, f"INV-{shop.pk:04d}-2026-000001")


@pytest.mark.django_db
def test_an_issued_invoice_keeps_its_contents_when_the_shop_changes():
    order = make_order(shop=ShopFactory(name="Kopi Corner"))
    invoice = invoice_issue(order=order)
    order.shop.name = "Renamed"
    order.shop.save()
    invoice.refresh_from_db()
    assert invoice.data["seller"]["name"] == "Kopi Corner"
    assert invoice.data["buyer"]["name"] == "Mei Tan" and invoice.data["order"]["number"] == order.number


# --- credit notes ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_partial_refund_gets_a_credit_note_with_its_own_numbers_once_per_refund():
    """10.90 of 32.70 back: a credit note of 10.00 + 0.90 GST referring to the invoice; the same
    refund again returns the same note; the next refund is CN 2."""
    order = make_order(lines=[("10.90", 3)])
    invoice = invoice_issue(order=order)

    note = credit_note_issue(order=order, refund_reference="R-1", amount=Money("10.90", "SGD"), reason="dented")
    again = credit_note_issue(order=order, refund_reference="R-1", amount=Money("10.90", "SGD"), reason="dented")
    second = credit_note_issue(order=order, refund_reference="R-2", amount=Money("1.00", "SGD"), reason="late")

    assert note.pk == again.pk
    assert note.number == f"CN-{order.shop_id:04d}-{YEAR}-000001" and second.sequence == 2
    assert (note.net, note.tax, note.gross) == (Decimal("10.00"), Decimal("0.90"), Decimal("10.90"))
    assert note.data["invoice_number"] == invoice.number and note.data["reason"] == "dented"
    assert invoice.sequence == 1  # the credit notes did not take invoice numbers


@pytest.mark.django_db
def test_a_credit_note_issues_the_invoice_first_when_there_is_none_and_refuses_bad_amounts():
    order = make_order(lines=[("20.00", 1)])
    note = credit_note_issue(order=order, refund_reference="R-9", amount=Money("5.00", "SGD"), reason="")
    assert note.data["invoice_number"] == OrderDocument.objects.get(order=order, kind="invoice").number
    with pytest.raises(DocumentError, match="in SGD"):
        credit_note_issue(order=order, refund_reference="R-10", amount=Money("5.00", "MYR"), reason="")
    with pytest.raises(DocumentError, match="between 0.01 and"):
        credit_note_issue(order=order, refund_reference="R-11", amount=Money("25.00", "SGD"), reason="")


@pytest.mark.django_db
def test_a_refund_queues_its_credit_note_after_commit_and_emails_it_to_the_buyer(
    django_capture_on_commit_callbacks,
):
    order = make_order(lines=[("30.00", 1)])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_refunded.send(sender=Order, order=order, amount=Money("12.00", "SGD"), reference="R-42", reason="broken")
        assert not OrderDocument.objects.filter(kind="credit_note").exists()  # not inside the refund's transaction
    assert callbacks

    note = OrderDocument.objects.get(kind="credit_note", refund_reference="R-42")
    assert note.gross == Decimal("12.00") and note.emailed_at is not None
    sent = [m for m in mail.outbox if note.number in m.subject]
    assert len(sent) == 1 and sent[0].to == [order.buyer.email]
    assert sent[0].attachments[0][0] == f"{note.number}.pdf"


@pytest.mark.django_db
def test_a_seller_refund_gives_the_buyer_a_credit_note(client, seller, fake_stripe, django_capture_on_commit_callbacks):
    """Through the seller's refund form on a card order (against the fake Stripe)."""
    from apps.orders.services import one_click_buy, one_click_settings_update
    from apps.payments.tests.test_stripe_integration import save_card

    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    buyer, address = buyer_with_address()
    one_click_settings_update(user=buyer, enabled=True, address=address, card=save_card(fake_stripe, buyer))
    variant = stocked_variant(shop=shop, price="30.00", units=5)
    with django_capture_on_commit_callbacks(execute=True):
        order = one_click_buy(
            buyer=buyer, variant=variant, quantity=1, idempotency_key=f"1c-{buyer.pk}-{variant.pk}-0"
        ).checkout.orders.get()
    invoice = OrderDocument.objects.get(order=order, kind="invoice")  # paid: invoiced after commit

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("orders_seller:refund", args=[shop.slug, order.number]),
            {"amount": "10.90", "reason": "scratched", "refund_key": "a"},
        )

    note = OrderDocument.objects.get(order=order, kind="credit_note")
    assert (note.net, note.tax, note.gross) == (Decimal("10.00"), Decimal("0.90"), Decimal("10.90"))
    assert note.data["invoice_number"] == invoice.number
    assert [m.to for m in mail.outbox if note.number in m.subject] == [[buyer.email]]


# --- invoice after confirmation, emailed once ---------------------------------------------------


@pytest.mark.django_db
def test_the_invoice_is_emailed_once_with_its_pdf_attached(django_capture_on_commit_callbacks):
    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        assert invoice_email_send(order=order) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert invoice_email_send(order=order) is False

    invoice = OrderDocument.objects.get(order=order)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [order.buyer.email] and invoice.number in message.subject
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype) == (f"{invoice.number}.pdf", "application/pdf") and content.startswith(b"%PDF")
    assert reverse("orders:invoice", args=[order.number]) in message.body
    assert invoice.emailed_at is not None
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.EMAIL).count() == 1


@pytest.mark.django_db
def test_a_pay_on_pickup_order_is_invoiced_after_its_checkout_commits(django_capture_on_commit_callbacks):
    """Placing the order only queues the work; the invoice is issued and emailed after commit."""
    shop = ShopFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = pickup_checkout(shop, price="21.80").checkout.orders.get()
    assert not OrderDocument.objects.exists()  # nothing inside the checkout's transaction

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()

    invoice = OrderDocument.objects.get(order=order, kind="invoice")
    assert (invoice.net, invoice.tax) == (Decimal("20.00"), Decimal("1.80"))
    assert [m.attachments[0][0] for m in mail.outbox if invoice.number in m.subject] == [f"{invoice.number}.pdf"]


@pytest.mark.django_db
def test_a_web_order_is_invoiced_when_paid_but_an_external_channels_order_is_left_to_the_pipeline(
    django_capture_on_commit_callbacks,
):
    web = make_order(status=Order.Status.PENDING_PAYMENT)
    pos = make_order(status=Order.Status.PENDING_PAYMENT, channel="pos")
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order=web, to=Order.Status.PAID, actor=Actor.system())
        order_transition(order=pos, to=Order.Status.PAID, actor=Actor.system())

    assert list(OrderDocument.objects.values_list("order_id", flat=True)) == [web.pk]


# --- concurrency ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL; CI runs these")
def test_twenty_invoices_issued_at_once_take_numbers_one_to_twenty():
    """Twenty threads, each with its own connection, issue the invoices of twenty orders of one
    shop at the same moment (the year's sequence row made by one of them): no gap, no duplicate."""
    shop = ShopFactory()
    orders = [make_order(shop=shop) for _ in range(20)]

    results = race(20, lambda i: invoice_issue(order=orders[i]).sequence)

    assert race_errors(results) == []
    assert sorted(result for _status, result in results) == list(range(1, 21))
    assert sorted(OrderDocument.objects.filter(shop=shop).values_list("sequence", flat=True)) == list(range(1, 21))
    assert DocumentSequence.objects.get(shop=shop, kind="invoice").last == 20


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL; CI runs these")
def test_the_same_invoice_issued_ten_times_at_once_is_one_invoice():
    order = make_order()

    results = race(10, lambda i: invoice_issue(order=order).number)

    assert race_errors(results) == []
    assert {result for _status, result in results} == {f"INV-{order.shop_id:04d}-{YEAR}-000001"}
    assert OrderDocument.objects.filter(order=order).count() == 1


# --- PDF and dispatch guide ------------------------------------------------------------------------


@pytest.mark.django_db
def test_pdfs_render_chinese_shop_and_product_names():
    """A shop and products named in Chinese (and Korean, Japanese) render with a CJK font, no crash."""
    from apps.orders.documents_pdf import dispatch_guide_pdf, document_pdf

    shop = ShopFactory(name="老街咖啡店", address_line1="牛车水 12号")
    order = make_order(shop=shop, titles={0: "凤梨酥 礼盒", 1: "김치 & かつお節 <b>"}, lines=[("8.00", 1), ("4.00", 2)])
    invoice = invoice_issue(order=order)
    note = credit_note_issue(order=order, refund_reference="R-中", amount=Money("4.00", "SGD"), reason="破损")

    for pdf in (
        document_pdf(document=invoice),
        document_pdf(document=note),
        dispatch_guide_pdf(guide=dispatch_guide_view(order=order)),
    ):
        assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf
    assert b"HYSMyeongJo-Medium" in document_pdf(document=invoice)


@pytest.mark.django_db
def test_the_dispatch_guide_weighs_the_parcel_and_says_where_it_goes():
    """Weight: each line's weight × quantity; delivery shows the buyer's address, pickup the shop's."""
    order = make_order(lines=[("5.00", 3), ("2.00", 2)], weights={0: 250, 1: 120}, fulfilment="delivery")
    guide = dispatch_guide_view(order=order)
    assert guide.weight_grams == 3 * 250 + 2 * 120 == 990 and guide.weight_kg == Decimal("0.990")
    assert [(line.sku, line.quantity) for line in guide.lines] == [("SKU-0", 3), ("SKU-1", 2)]
    assert guide.recipient == "Mei Tan" and "1 Tiong Bahru Road" in guide.address_lines

    pickup = dispatch_guide_view(order=make_order(fulfilment="pickup"))
    assert pickup.is_pickup and pickup.address_lines[0] == "78 Yong Siak Street"


# --- doors -----------------------------------------------------------------------------------------


def seller_url(name, shop, *args):
    return reverse(f"orders_seller:{name}", args=[shop.slug, *args])


@pytest.mark.django_db
def test_the_seller_sees_the_invoice_credit_notes_and_dispatch_guide_as_pages_and_pdfs(
    client, seller, django_assert_max_num_queries
):
    shop = ShopFactory()
    seller(client, role="warehouse_staff", shop=shop)
    order = make_order(shop=shop, lines=[("10.90", 2)], weights={0: 300})
    invoice = invoice_issue(order=order)
    note = credit_note_issue(order=order, refund_reference="R-1", amount=Money("5.45", "SGD"), reason="dented")

    with django_assert_max_num_queries(12):
        page = client.get(seller_url("invoice", shop, order.number))
    assert page.status_code == 200
    html = page.content.decode()
    assert invoice.number in html and 'data-total="tax"' in html and "GST 9%" in html
    pdf = client.get(seller_url("invoice-pdf", shop, order.number))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert note.number in client.get(seller_url("credit-note", shop, order.number, note.pk)).content.decode()
    assert client.get(seller_url("credit-note-pdf", shop, order.number, note.pk)).content.startswith(b"%PDF")
    guide = client.get(seller_url("dispatch-guide", shop, order.number)).content.decode()
    assert 'data-weight-grams="600"' in guide and "SKU-0" in guide
    assert client.get(seller_url("dispatch-guide-pdf", shop, order.number)).content.startswith(b"%PDF")
    detail = client.get(seller_url("detail", shop, order.number)).content.decode()
    assert f'data-document="{invoice.number}"' in detail and f'data-document="{note.number}"' in detail


@pytest.mark.django_db
def test_another_shops_order_and_another_orders_credit_note_are_404_for_the_seller(client, seller):
    shop, other = ShopFactory(), ShopFactory()
    seller(client, role="owner", shop=shop)
    theirs = make_order(shop=other)
    invoice_issue(order=theirs)
    mine = make_order(shop=shop)
    invoice_issue(order=mine)
    their_note = credit_note_issue(order=theirs, refund_reference="R-x", amount=Money("1.00", "SGD"), reason="")

    for name in ("invoice", "invoice-pdf", "dispatch-guide", "dispatch-guide-pdf"):
        assert client.get(seller_url(name, shop, theirs.number)).status_code == 404, name
        assert client.get(seller_url(name, other, theirs.number)).status_code == 404, name  # not their member
    assert client.get(seller_url("credit-note", shop, mine.number, their_note.pk)).status_code == 404
    assert client.get(seller_url("credit-note-pdf", shop, mine.number, their_note.pk)).status_code == 404


@pytest.mark.django_db
def test_an_invoice_not_issued_yet_is_a_page_saying_when_it_will_be(client, seller):
    shop = ShopFactory()
    seller(client, role="owner", shop=shop)
    order = make_order(shop=shop, status=Order.Status.PENDING_PAYMENT)
    page = client.get(seller_url("invoice", shop, order.number))
    assert page.status_code == 404 and "once it is paid or confirmed" in page.content.decode()
    assert client.get(seller_url("invoice-pdf", shop, order.number)).status_code == 404


@pytest.mark.django_db
def test_the_buyer_sees_their_own_invoice_and_nobody_elses(client):
    buyer = UserFactory()
    order = make_order(buyer=buyer)
    invoice = invoice_issue(order=order)
    note = credit_note_issue(order=order, refund_reference="R-1", amount=Money("1.00", "SGD"), reason="")
    stranger_order = make_order()
    invoice_issue(order=stranger_order)

    assert client.get(reverse("orders:invoice", args=[order.number])).status_code == 302  # sign in first
    client.force_login(buyer)
    page = client.get(reverse("orders:invoice", args=[order.number]))
    assert page.status_code == 200 and invoice.number in page.content.decode()
    assert client.get(reverse("orders:invoice-pdf", args=[order.number])).content.startswith(b"%PDF")
    assert client.get(reverse("orders:credit-note-pdf", args=[order.number, note.pk])).status_code == 200
    assert (
        f'data-document="{invoice.number}"' in client.get(reverse("orders:order", args=[order.number])).content.decode()
    )

    assert client.get(reverse("orders:invoice", args=[stranger_order.number])).status_code == 404
    assert client.get(reverse("orders:invoice-pdf", args=[stranger_order.number])).status_code == 404


@pytest.mark.django_db
def test_the_invoice_task_retries_when_the_database_is_briefly_away():
    """A transient error (the database or mail server away) is retried; the invoice is issued once."""
    from django.db import OperationalError

    from apps.orders import services_documents
    from apps.orders.tasks import order_invoice_deliver

    order = make_order()
    real = services_documents.invoice_deliver
    calls = []

    def flaky(*, order_id):
        calls.append(order_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return real(order_id=order_id)

    conf = order_invoice_deliver.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False  # let the eager run take the retry instead of raising it
    try:
        with mock.patch.object(services_documents, "invoice_deliver", flaky):
            result = order_invoice_deliver.apply(kwargs={"order_id": order.pk})
    finally:
        conf.task_eager_propagates = propagates

    assert result.successful(), result.traceback
    assert len(calls) == 3 and OrderDocument.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_the_shops_tax_registration_number_is_on_its_invoices(client, seller):
    """A GST-registered shop's tax invoice names its registration number, on the page and in the
    PDF's frozen contents; a shop without one shows none."""
    shop = ShopFactory(tax_id="M2-1234567-8")
    invoice = invoice_issue(order=make_order(shop=shop))
    assert invoice.data["seller"]["tax_id"] == "M2-1234567-8"
    seller(client, role="manager", shop=shop)
    page = client.get(reverse("orders_seller:invoice", args=[shop.slug, invoice.order.number])).content.decode()
    assert "Tax registration: M2-1234567-8" in page
    assert document_pdf(document=invoice).startswith(b"%PDF")
    plain = invoice_issue(order=make_order())
    assert plain.data["seller"]["tax_id"] == ""


@pytest.mark.django_db
def test_the_seller_sets_the_dispatch_time_and_tax_number_in_the_shop_settings(client, seller):
    from apps.shops.forms import ShopSettingsForm

    membership = seller(client, role="owner")
    shop = membership.shop
    form = ShopSettingsForm(instance=shop)
    assert {"dispatch_hours", "tax_id"} <= set(form.fields)
    data = {**{k: v for k, v in form.initial.items() if v is not None}, "dispatch_hours": 0, "tax_id": "M2-1"}
    bad = ShopSettingsForm(data=data, instance=shop)
    assert not bad.is_valid() and "dispatch_hours" in bad.errors
    left_empty = ShopSettingsForm(data={**data, "dispatch_hours": ""}, instance=shop)
    left_empty.is_valid()
    assert "dispatch_hours" not in left_empty.errors and left_empty.cleaned_data["dispatch_hours"] == 24


@pytest.mark.django_db
def test_an_order_refunded_without_ever_being_invoiced_gets_no_credit_note():
    """A payment that arrived after the order was cancelled (its items sold out) is refunded: the
    order was never paid or confirmed, so there is no invoice to credit and the task says so instead
    of failing."""
    from apps.orders.services_documents import credit_note_deliver

    order = make_order(status=Order.Status.CANCELLED)

    outcome = credit_note_deliver(
        order_id=order.pk, refund_reference=f"{order.number}-auto", amount=Money("10.00", "SGD"), reason="sold out"
    )

    assert outcome == "never invoiced: no credit note"
    assert not order.documents.exists()

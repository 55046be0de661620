"""Writes for an order's tax documents: the tax invoice (receipt) and a credit note per refund.

Numbers have no gaps and no duplicates per shop, kind and calendar year (the year in the shop's
time zone): the ``DocumentSequence`` row of (shop, kind, year) is locked (``select_for_update``)
and incremented in the transaction that creates the document, so a failed issue gives its number
back and two issues at once take turns. The format is ``<PREFIX>-<SHOP>-<YEAR>-<SEQUENCE>``:

- ``INV-0042-2026-000001``: invoice 1 of 2026 of shop 42 (the shop's id, at least 4 digits);
- ``CN-0042-2026-000001``: its first credit note of 2026.

A document's contents (seller, buyer, lines with net, tax and gross, totals, discount, currency,
order number, dates) are frozen in ``OrderDocument.data`` when issued; later edits to the shop or
the order do not change an issued document. Issuing is idempotent: one invoice per order, one
credit note per refund reference.

When they are issued: a web or 1-Click order gets its invoice once it is paid (card) or confirmed
(pay on pickup), by a Celery task queued after commit (``invoice_deliver_queue``, connected in
``OrdersConfig.ready``); external channels' orders get theirs from the intake pipeline, which calls
:func:`invoice_issue` and :func:`invoice_email_send`. Every refund queues a credit note
(``credit_note_deliver_queue``). Nothing here runs inside the checkout request.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core.money import Money
from apps.core.services import email_send
from apps.core.tasks_base import enqueue_on_commit

from .actors import Actor
from .errors import DocumentError
from .models import EXTERNAL_CHANNELS, DocumentSequence, Order, OrderDocument, OrderEvent
from .selectors_documents import (
    address_lines,
    discount_allocate,
    invoice_get,
    shop_address_lines,
    tax_label_for_country,
    tax_rate_for_country,
    tax_split,
)
from .services import order_event_record

Kind = OrderDocument.Kind
S = Order.Status

NUMBER_PREFIXES = {Kind.INVOICE: "INV", Kind.CREDIT_NOTE: "CN"}
# Money was taken (or will be at the counter) in these: the order is invoiced.
INVOICEABLE = frozenset(
    {
        S.PAID,
        S.CONFIRMED,
        S.ACCEPTED,
        S.PACKED,
        S.READY_FOR_PICKUP,
        S.OUT_FOR_DELIVERY,
        S.DELIVERY_FAILED,
        S.DELIVERED,
        S.COMPLETED,
        S.RETURNED,
        S.REFUNDED,
    }
)
# A status change to one of these queues the invoice of a web or 1-Click order.
INVOICE_ON = frozenset({S.PAID, S.CONFIRMED})


def document_number(*, kind: str, shop_id: int, year: int, sequence: int) -> str:
    """``INV-0042-2026-000001``: kind, shop, year and the place in the year's sequence."""
    return f"{NUMBER_PREFIXES[kind]}-{shop_id:04d}-{year}-{sequence:06d}"


def _year_of(moment: datetime, shop) -> int:
    try:
        zone = ZoneInfo(shop.time_zone)
    except (ValueError, KeyError):
        zone = ZoneInfo(settings.TIME_ZONE)
    return timezone.localtime(moment, zone).year


def _sequence_take(*, shop, kind: str, year: int) -> int:
    """The next number of (shop, kind, year), under the sequence row's lock (held until the caller's
    transaction ends). The first document of a year makes the row; two first documents at once
    both try, the unique constraint lets one in and ``get_or_create`` finds it for the other."""
    sequence, _created = DocumentSequence.objects.select_for_update().get_or_create(shop=shop, kind=kind, year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return sequence.last


def _invoiceable(order: Order) -> bool:
    if order.status in INVOICEABLE:
        return True
    # A cancelled order was paid (or confirmed) before if its timeline says so.
    return (
        order.status == S.CANCELLED
        and OrderEvent.objects.filter(order=order, to_status__in=(S.PAID, S.CONFIRMED)).exists()
    )


def _party_seller(shop) -> dict:
    return {
        "name": shop.name,
        "address": shop_address_lines(shop),
        "country": shop.country,
        "email": shop.email,
        "phone": shop.phone,
        "tax_id": shop.tax_id,
    }


def _party_buyer(order: Order) -> dict:
    address = order.address or {}
    buyer = order.buyer if order.buyer_id else None
    return {
        "name": address.get("recipient") or order.customer_name or (buyer.display_name if buyer else ""),
        "email": order.contact_email,
        "phone": address.get("phone") or order.customer_phone,
        "address": address_lines(address),
    }


def _money_str(amount: Decimal, currency: str) -> str:
    return str(Money(amount, currency).amount)


def _invoice_contents(order: Order, *, rate: Decimal, issued_at: datetime) -> tuple[dict, dict[str, Decimal]]:
    """The invoice's frozen contents, and its totals (net, tax, gross).

    Each line's gross is what the buyer paid for it: its line total less its share of the order's
    discount. Anything the order charges beyond its lines (a fee) is a line of its own."""
    currency = order.currency
    lines = list(order.lines.all())
    gross_lines = [line.line_total for line in lines]
    extra = order.total - (order.subtotal - order.discount)
    discount = order.discount - min(extra, Decimal(0))  # a total below subtotal - discount: more off
    shares = discount_allocate(amounts=gross_lines, discount=discount, currency=currency)
    rows = []
    for line, gross, share in zip(lines, gross_lines, shares, strict=True):
        net, tax = tax_split(gross=gross - share, rate=rate, currency=currency)
        rows.append(
            {
                "sku": line.sku,
                "title": line.title,
                "options": ", ".join(str(v) for v in (line.options or {}).values()),
                "quantity": line.quantity,
                "unit_price": _money_str(line.unit_price, currency),
                "unit_price_net": _money_str(line.unit_price / (Decimal(1) + rate), currency),
                "line_total": _money_str(gross, currency),
                "discount": _money_str(share, currency),
                "net": _money_str(net, currency),
                "tax": _money_str(tax, currency),
                "gross": _money_str(gross - share, currency),
            }
        )
    if extra > 0:
        net, tax = tax_split(gross=extra, rate=rate, currency=currency)
        rows.append(
            {
                "sku": "",
                "title": _("Delivery and other charges"),
                "options": "",
                "quantity": 1,
                "unit_price": _money_str(extra, currency),
                "unit_price_net": _money_str(net, currency),
                "line_total": _money_str(extra, currency),
                "discount": _money_str(Decimal(0), currency),
                "net": _money_str(net, currency),
                "tax": _money_str(tax, currency),
                "gross": _money_str(extra, currency),
            }
        )
    totals = {
        "net": sum((Decimal(row["net"]) for row in rows), Decimal(0)),
        "tax": sum((Decimal(row["tax"]) for row in rows), Decimal(0)),
        "gross": sum((Decimal(row["gross"]) for row in rows), Decimal(0)),
    }
    data = {
        "seller": _party_seller(order.shop),
        "buyer": _party_buyer(order),
        "order": {
            "number": order.number,
            "placed_at": order.placed_at.isoformat(),
            "channel": order.channel,
            "fulfilment": order.fulfilment,
            "payment_method": order.payment_method,
            # Loyalty points paid part of the total (a means of payment: the prices and tax stand).
            "points_used": order.points_used,
            "points_value": _money_str(order.points_value, currency),
        },
        "currency": currency,
        "tax_label": tax_label_for_country(order.shop.country),
        "tax_rate": str(rate),
        "lines": rows,
        "subtotal": _money_str(order.subtotal + max(extra, Decimal(0)), currency),
        "discount": _money_str(discount, currency),
        "net": _money_str(totals["net"], currency),
        "tax": _money_str(totals["tax"], currency),
        "gross": _money_str(totals["gross"], currency),
        "issued_at": issued_at.isoformat(),
    }
    return data, totals


def _document_create(
    *, order: Order, kind: str, rate: Decimal, totals: dict, data: dict, issued_at: datetime, refund_reference=""
) -> OrderDocument:
    year = _year_of(issued_at, order.shop)
    sequence = _sequence_take(shop=order.shop, kind=kind, year=year)
    number = document_number(kind=kind, shop_id=order.shop_id, year=year, sequence=sequence)
    document = OrderDocument(
        order=order,
        shop=order.shop,
        kind=kind,
        year=year,
        sequence=sequence,
        number=number,
        refund_reference=refund_reference,
        currency=order.currency,
        tax_rate=rate,
        net=totals["net"],
        tax=totals["tax"],
        gross=totals["gross"],
        data={**data, "number": number},
        issued_at=issued_at,
    )
    # The database's unique constraints decide (the order's row lock makes them hold): no extra reads.
    document.full_clean(exclude=["order", "shop"], validate_unique=False, validate_constraints=False)
    document.save()
    order_event_record(
        order=order,
        kind=OrderEvent.Kind.DOCUMENT,
        actor=Actor.system(),
        reason=str(Kind(kind).label),
        via="documents",
        data={"document": number, "kind": kind, "gross": str(document.gross), "currency": order.currency},
    )
    return document


def _order_locked(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("shop", "buyer").get(pk=order.pk)


@transaction.atomic
def invoice_issue(*, order: Order) -> OrderDocument:
    """Issue the tax invoice of ``order`` (or return the one it has): its next gapless number, and
    its contents frozen, each line split into net and tax at the shop country's rate. Recorded on
    the order's timeline. Raises :class:`DocumentError` while the order is not paid or confirmed."""
    order = _order_locked(order)  # one issue per order at a time: the second finds the first's invoice
    existing = invoice_get(order=order)
    if existing is not None:
        return existing
    if not _invoiceable(order):
        raise DocumentError(
            _("Order %(number)s is %(status)s: its invoice is issued once it is paid or confirmed.")
            % {"number": order.number, "status": order.get_status_display()}
        )
    issued_at = timezone.now()
    rate = tax_rate_for_country(order.shop.country)
    data, totals = _invoice_contents(order, rate=rate, issued_at=issued_at)
    data["title"] = str(Kind.INVOICE.label)
    return _document_create(order=order, kind=Kind.INVOICE, rate=rate, totals=totals, data=data, issued_at=issued_at)


@transaction.atomic
def credit_note_issue(*, order: Order, refund_reference: str, amount: Money, reason: str) -> OrderDocument:
    """Issue the credit note of one refund of ``order`` (or return the one already issued for
    ``refund_reference``): ``amount`` (tax included) split into net and tax at the invoice's rate,
    with its own gapless numbering. The order's invoice is issued first if it has none yet (a credit
    note always corrects an invoice)."""
    refund_reference = (refund_reference or "").strip()
    if not refund_reference:
        raise DocumentError(_("A credit note needs the reference of its refund."))
    order = _order_locked(order)
    existing = OrderDocument.objects.filter(kind=Kind.CREDIT_NOTE, refund_reference=refund_reference).first()
    if existing is not None:
        if existing.order_id != order.pk:
            raise DocumentError(_("Refund %(reference)s belongs to another order.") % {"reference": refund_reference})
        return existing
    if amount.currency != order.currency:
        raise DocumentError(
            _("Order %(number)s is in %(currency)s: credit it in %(currency)s.")
            % {"number": order.number, "currency": order.currency}
        )
    if amount.amount <= 0 or amount.amount > order.total:
        raise DocumentError(
            _("A credit note on order %(number)s is for between 0.01 and %(total)s.")
            % {"number": order.number, "total": Money(order.total, order.currency)}
        )
    invoice = invoice_issue(order=order)
    rate = invoice.tax_rate
    net, tax = tax_split(gross=amount.amount, rate=rate, currency=order.currency)
    gross = _money_str(amount.amount, order.currency)
    issued_at = timezone.now()
    reason = (reason or "").strip()[:300]
    data = {
        "title": str(Kind.CREDIT_NOTE.label),
        "seller": _party_seller(order.shop),
        "buyer": _party_buyer(order),
        "order": invoice.data.get("order", {"number": order.number}),
        "invoice_number": invoice.number,
        "invoice_issued_at": invoice.issued_at.isoformat(),
        "refund_reference": refund_reference,
        "reason": reason,
        "currency": order.currency,
        "tax_label": invoice.data.get("tax_label") or tax_label_for_country(order.shop.country),
        "tax_rate": str(rate),
        "lines": [
            {
                "sku": "",
                "title": _("Refund on invoice %(number)s") % {"number": invoice.number}
                + (f": {reason}" if reason else ""),
                "options": "",
                "quantity": 1,
                "unit_price": gross,
                "unit_price_net": _money_str(net, order.currency),
                "line_total": gross,
                "discount": _money_str(Decimal(0), order.currency),
                "net": _money_str(net, order.currency),
                "tax": _money_str(tax, order.currency),
                "gross": gross,
            }
        ],
        "subtotal": gross,
        "discount": _money_str(Decimal(0), order.currency),
        "net": _money_str(net, order.currency),
        "tax": _money_str(tax, order.currency),
        "gross": gross,
        "issued_at": issued_at.isoformat(),
    }
    return _document_create(
        order=order,
        kind=Kind.CREDIT_NOTE,
        rate=rate,
        totals={"net": net, "tax": tax, "gross": amount.amount},
        data=data,
        issued_at=issued_at,
        refund_reference=refund_reference,
    )


# --- email ---------------------------------------------------------------------------------------


def document_pdf_filename(document: OrderDocument) -> str:
    return f"{document.number}.pdf"


def _document_link(document: OrderDocument) -> str:
    """The buyer's page for the document (only a signed-in buyer can open it)."""
    order = document.order
    if not order.buyer_id:
        return ""
    if document.kind == Kind.INVOICE:
        path = reverse("orders:invoice", args=[order.number])
    else:
        path = reverse("orders:credit-note", args=[order.number, document.pk])
    return settings.SITE_URL + path


def document_email_send(*, document: OrderDocument) -> bool:
    """Email ``document`` in the customer's language (see :func:`_document_email_send`)."""
    order = (
        Order.objects.select_related("buyer").only("buyer__preferred_language", "buyer_id").get(pk=document.order_id)
    )
    with translation.override(order.contact_language):
        return _document_email_send(document=document)


@transaction.atomic
def _document_email_send(*, document: OrderDocument) -> bool:
    """Email ``document`` (its PDF attached, a link to its page) to the order's contact, once:
    False, and nothing sent, when it was emailed before or the order has no email address."""
    from .documents_pdf import document_pdf

    document = (
        OrderDocument.objects.select_for_update(of=("self",))
        .select_related("order__buyer", "order__shop")
        .get(pk=document.pk)
    )
    order = document.order
    if document.emailed_at is not None or not order.contact_email:
        return False
    context = {
        "document": document,
        "data": document.data,
        "order": order,
        "link": _document_link(document),
        "is_invoice": document.kind == Kind.INVOICE,
    }
    if document.kind == Kind.INVOICE:
        subject = _("Your tax invoice %(document)s for order %(number)s") % {
            "document": document.number,
            "number": order.number,
        }
    else:
        subject = _("Credit note %(document)s for your order %(number)s") % {
            "document": document.number,
            "number": order.number,
        }
    email_send(
        to=[order.contact_email],
        subject=subject,
        body=render_to_string("orders/email/document.txt", context),
        html_body=render_to_string("orders/email/document.html", context),
        attachments=[(document_pdf_filename(document), document_pdf(document=document), "application/pdf")],
    )
    document.emailed_at = timezone.now()
    document.save(update_fields=["emailed_at", "updated_at"])
    order_event_record(
        order=order,
        kind=OrderEvent.Kind.EMAIL,
        actor=Actor.system(),
        reason=subject[:500],
        via="documents",
        data={"document": document.number, "to": order.contact_email},
    )
    return True


def invoice_email_send(*, order: Order) -> bool:
    """Email the order's invoice to its buyer (issuing it first if needed), once: a second call
    sends nothing and returns False."""
    return document_email_send(document=invoice_issue(order=order))


# --- after commit, in Celery -------------------------------------------------------------------


def invoice_deliver(*, order_id: int) -> str:
    """Issue and email the invoice of an order (the Celery task's work). Safe to run again."""
    order = Order.objects.select_related("shop", "buyer").filter(pk=order_id).first()
    if order is None:
        return "no such order"
    if not _invoiceable(order):
        return "not invoiceable"
    invoice = invoice_issue(order=order)
    return f"{invoice.number} emailed" if document_email_send(document=invoice) else f"{invoice.number} kept"


def credit_note_deliver(*, order_id: int, refund_reference: str, amount: Money, reason: str) -> str:
    """Issue and email the credit note of one refund (the Celery task's work). Safe to run again."""
    order = Order.objects.select_related("shop", "buyer").filter(pk=order_id).first()
    if order is None:
        return "no such order"
    if invoice_get(order=order) is None and not _invoiceable(order):
        # Paid only after it was cancelled (the items had sold out): never invoiced, so there is
        # nothing to credit; the refund email tells the buyer.
        return "never invoiced: no credit note"
    note = credit_note_issue(order=order, refund_reference=refund_reference, amount=amount, reason=reason)
    return f"{note.number} emailed" if document_email_send(document=note) else f"{note.number} kept"


def invoice_deliver_queue(*, order: Order, status: str) -> bool:
    """Queue the invoice of a web or 1-Click order that became paid or confirmed (sent after
    commit, never inside the request that placed or paid it). Orders of external channels get
    theirs from the intake pipeline."""
    if status not in INVOICE_ON or order.channel in EXTERNAL_CHANNELS:
        return False
    from .tasks import order_invoice_deliver

    enqueue_on_commit(order_invoice_deliver, order_id=order.pk)
    return True


def credit_note_deliver_queue(*, order: Order, refund_reference: str, amount: Money, reason: str) -> None:
    """Queue the credit note of a refund just made (sent after commit)."""
    from .tasks import order_credit_note_deliver

    enqueue_on_commit(
        order_credit_note_deliver,
        order_id=order.pk,
        refund_reference=refund_reference,
        amount=str(amount.amount),
        currency=amount.currency,
        reason=(reason or "")[:300],
    )

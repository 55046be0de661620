"""Reads for an order's tax documents (invoice, credit notes) and its dispatch guide.

Tax: catalog prices include the sales tax of the shop's country (``settings.ORDER_TAX_RATES``,
named by ``settings.ORDER_TAX_LABELS``). A gross amount splits into ``net = gross / (1 + rate)``,
rounded half-up to the currency's minor unit, and ``tax = gross - net``; an invoice splits each
line on its own and adds the lines up, so the lines always add up exactly to the totals.

Documents are shown from the figures frozen in ``OrderDocument.data`` when they were issued, never
from the order as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.http import Http404

from apps.core.money import currency_exponent

from .models import Fulfilment, Order, OrderDocument

DEFAULT_TAX_LABEL = "Tax"


# --- tax ------------------------------------------------------------------------------------------


def tax_rate_for_country(country: str) -> Decimal:
    """The sales tax rate of a country as a fraction (``Decimal("0.09")`` for Singapore); 0 where
    the settings name none."""
    return Decimal(str(settings.ORDER_TAX_RATES.get((country or "").upper(), "0")))


def tax_label_for_country(country: str) -> str:
    """What the tax is called on the country's invoices ("GST", "IVA"…; "Tax" by default)."""
    return settings.ORDER_TAX_LABELS.get((country or "").upper(), DEFAULT_TAX_LABEL)


def tax_rate_percent(rate: Decimal) -> str:
    """``Decimal("0.09")`` as ``"9"``, ``Decimal("0.10")`` as ``"10"``, ``Decimal("0.075")`` as ``"7.5"``."""
    return format((Decimal(rate) * 100).normalize(), "f")


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def tax_split(*, gross: Decimal, rate: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(net, tax) of a tax-inclusive ``gross`` amount: net rounded half-up to the currency's minor
    unit, tax the rest, so ``net + tax == gross`` exactly."""
    quantum = _quantum(currency)
    gross = Decimal(gross).quantize(quantum, rounding=ROUND_HALF_UP)
    net = (gross / (Decimal(1) + rate)).quantize(quantum, rounding=ROUND_HALF_UP)
    return net, gross - net


def discount_allocate(*, amounts: list[Decimal], discount: Decimal, currency: str) -> list[Decimal]:
    """Share ``discount`` over ``amounts`` in proportion, in the currency's minor unit, so that the
    shares add up to exactly ``discount`` (the last cents go to the largest remainders)."""
    quantum = _quantum(currency)
    total = sum(amounts, Decimal(0))
    if not discount or not total:
        return [Decimal(0).quantize(quantum) for _ in amounts]
    discount = min(Decimal(discount), total)
    exact = [amount * discount / total for amount in amounts]
    shares = [share.quantize(quantum, rounding="ROUND_DOWN") for share in exact]
    left = int((discount.quantize(quantum) - sum(shares, Decimal(0))) / quantum)
    by_remainder = sorted(range(len(amounts)), key=lambda i: (exact[i] - shares[i], -i), reverse=True)
    for i in by_remainder[:left]:
        shares[i] += quantum
    return shares


# --- documents ------------------------------------------------------------------------------------


def invoice_get(*, order: Order) -> OrderDocument | None:
    """The order's tax invoice, or None while it is not issued."""
    return OrderDocument.objects.filter(order=order, kind=OrderDocument.Kind.INVOICE).first()


def credit_notes_for_order(*, order: Order) -> list[OrderDocument]:
    """The order's credit notes, oldest first."""
    return list(
        OrderDocument.objects.filter(order=order, kind=OrderDocument.Kind.CREDIT_NOTE).order_by("issued_at", "pk")
    )


def documents_for_order(*, order: Order) -> list[OrderDocument]:
    """The order's invoice and credit notes, in the order they were issued."""
    return list(OrderDocument.objects.filter(order=order).order_by("issued_at", "pk"))


def credit_note_get_for_order(*, order: Order, document_id: int) -> OrderDocument:
    """One credit note of ``order``; 404 for another order's document (or an invoice)."""
    document = OrderDocument.objects.filter(order=order, kind=OrderDocument.Kind.CREDIT_NOTE, pk=document_id).first()
    if document is None:
        raise Http404("No such credit note.")
    return document


# --- the dispatch guide (packing slip) ------------------------------------------------------------


@dataclass(frozen=True)
class DispatchLine:
    sku: str
    title: str
    options: str
    quantity: int
    weight_grams: int  # of one unit

    @property
    def total_weight_grams(self) -> int:
        return self.weight_grams * self.quantity


@dataclass(frozen=True)
class DispatchGuide:
    """What the packer needs: the items, the parcel's weight and where the parcel goes (or that it
    is collected at the shop). Not numbered: it is not a tax document."""

    order_number: str
    shop_name: str
    placed_at: object
    fulfilment: str
    fulfilment_label: str
    recipient: str
    phone: str
    email: str
    address_lines: list[str]
    note: str
    lines: list[DispatchLine] = field(default_factory=list)

    @property
    def is_pickup(self) -> bool:
        return self.fulfilment == Fulfilment.PICKUP

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def weight_grams(self) -> int:
        return sum(line.total_weight_grams for line in self.lines)

    @property
    def weight_kg(self) -> Decimal:
        return (Decimal(self.weight_grams) / 1000).quantize(Decimal("0.001"))


def _options_text(options: dict) -> str:
    return ", ".join(str(value) for value in (options or {}).values())


def address_lines(address: dict) -> list[str]:
    """An address snapshot (``accounts.Address.snapshot`` or an external order's) as printable
    lines."""
    address = address or {}
    lines = [str(line) for line in address.get("lines") or [] if line]
    place = " ".join(str(part) for part in (address.get("city"), address.get("postcode")) if part)
    if place:
        lines.append(place)
    if address.get("country"):
        lines.append(str(address["country"]))
    return lines


def shop_address_lines(shop) -> list[str]:
    lines = [shop.address_line1, shop.address_line2, " ".join(p for p in (shop.city, shop.postcode) if p), shop.country]
    return [line for line in lines if line]


def dispatch_guide_view(*, order: Order) -> DispatchGuide:
    """The packing slip of ``order``: its lines with SKUs, quantities and weights, the parcel's
    weight (each line's ``weight_grams × quantity``), and the delivery address or the pickup
    counter. Lines come from ``order.lines`` (prefetched by the order getters)."""
    address = order.address or {}
    buyer = order.buyer if order.buyer_id else None
    recipient = address.get("recipient") or order.customer_name or (buyer.display_name if buyer else "")
    where = shop_address_lines(order.shop) if order.fulfilment == Fulfilment.PICKUP else address_lines(address)
    return DispatchGuide(
        order_number=order.number,
        shop_name=order.shop.name,
        placed_at=order.placed_at,
        fulfilment=order.fulfilment,
        fulfilment_label=str(order.get_fulfilment_display()),
        recipient=recipient,
        phone=address.get("phone") or order.customer_phone,
        email=order.contact_email,
        address_lines=where,
        note=order.note,
        lines=[
            DispatchLine(
                sku=line.sku,
                title=line.title,
                options=_options_text(line.options),
                quantity=line.quantity,
                weight_grams=line.weight_grams,
            )
            for line in order.lines.all()
        ],
    )


def document_context(*, document: OrderDocument) -> dict:
    """What the HTML page of an issued document shows, from its frozen contents."""
    data = dict(document.data)
    data["lines"] = [
        {**line, "has_discount": bool(Decimal(line.get("discount") or "0"))} for line in data.get("lines", [])
    ]
    return {
        "document": document,
        "data": data,
        "rate_percent": tax_rate_percent(Decimal(data.get("tax_rate") or "0")),
        "has_discount": bool(Decimal(data.get("discount") or "0")),
    }

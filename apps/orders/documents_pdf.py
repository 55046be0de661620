"""PDF versions of an order's documents (tax invoice, credit note, dispatch guide), drawn with
ReportLab (pure Python, installs from PyPI, no system libraries).

Latin text uses Helvetica; Chinese, Japanese and Korean text (shop and product names, addresses)
switches to ReportLab's built-in CID fonts (``STSong-Light``, ``HeiseiMin-W3``,
``HYSMyeongJo-Medium``), which PDF readers supply themselves, so nothing is embedded and nothing
needs installing. A character no font has shows as a blank, never an error.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from xml.sax.saxutils import escape

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from apps.core.money import format_money

from .models import OrderDocument
from .selectors_documents import DispatchGuide, tax_rate_percent

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
FONT_CHINESE = "STSong-Light"
FONT_JAPANESE = "HeiseiMin-W3"
FONT_KOREAN = "HYSMyeongJo-Medium"


@cache
def _cid_fonts() -> None:
    for name in (FONT_CHINESE, FONT_JAPANESE, FONT_KOREAN):
        pdfmetrics.registerFont(UnicodeCIDFont(name))


def _is_hangul(char: str) -> bool:
    code = ord(char)
    return 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F


def _is_kana(char: str) -> bool:
    return 0x3040 <= ord(char) <= 0x30FF


def _wide_font(text: str) -> str:
    if any(_is_hangul(c) for c in text):
        return FONT_KOREAN
    if any(_is_kana(c) for c in text):
        return FONT_JAPANESE
    return FONT_CHINESE


def markup(text) -> str:
    """``text`` as Paragraph markup: escaped, with every run of characters Helvetica lacks set in
    a CJK font (Chinese by default, Japanese when the text has kana, Korean when it has Hangul)."""
    text = str(text if text is not None else "")
    wide = _wide_font(text)
    out, run, in_wide = [], [], False
    for char in text:
        needs_wide = ord(char) > 0x24F and not (0x2000 <= ord(char) <= 0x206F)  # general punctuation stays
        if needs_wide != in_wide and run:
            chunk = escape("".join(run))
            out.append(f'<font name="{wide}">{chunk}</font>' if in_wide else chunk)
            run = []
        in_wide = needs_wide
        run.append(char)
    if run:
        chunk = escape("".join(run))
        out.append(f'<font name="{wide}">{chunk}</font>' if in_wide else chunk)
    return "".join(out).replace("\n", "<br/>")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#444444")),
        "num": ParagraphStyle("num", parent=base, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=base, fontName=FONT_BOLD),
        "head_num": ParagraphStyle("head_num", parent=base, fontName=FONT_BOLD, alignment=TA_RIGHT),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20),
    }


def _p(text, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped, CJK runs in a CJK font)."""
    return Paragraph(markup(text), style)


def _money(amount, currency: str) -> str:
    return format_money(Decimal(str(amount)), currency, get_language() or "en")


def _when(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return ""
    return date_format(localtime(moment), "DATE_FORMAT")


def _build(story: list, *, title: str) -> bytes:
    _cid_fonts()
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="LocalBazaar",
    )
    doc.build(story)
    return buffer.getvalue()


def _table(rows: list[list], widths: list[float], *, header_rows: int = 1, footer_rows: int = 0) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    commands = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, header_rows - 1), 0.6, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if footer_rows:
        commands.append(("LINEABOVE", (0, -footer_rows), (-1, -footer_rows), 0.6, colors.black))
    table.setStyle(TableStyle(commands))
    return table


def _party(heading: str, party: dict, style: dict) -> list:
    lines = [party.get("name", ""), *party.get("address", []), party.get("email", ""), party.get("phone", "")]
    if party.get("tax_id"):
        lines.append(_("Tax registration: %(number)s") % {"number": party["tax_id"]})
    text = "<br/>".join(markup(line) for line in lines if line)
    return [_p(heading, style["head"]), Paragraph(text, style["base"])]


def document_pdf(*, document: OrderDocument) -> bytes:
    """The invoice or credit note as a PDF, drawn from the contents frozen when it was issued."""
    data = document.data
    style = _styles()
    currency = data.get("currency", document.currency)
    label = data.get("tax_label", "Tax")
    rate_percent = tax_rate_percent(Decimal(data.get("tax_rate") or "0"))
    title = data.get("title") or str(document.get_kind_display())
    order = data.get("order", {})

    facts = [
        [_p(_("Number"), style["head"]), Paragraph(escape(document.number), style["base"])],
        [_p(_("Issued"), style["head"]), Paragraph(_when(data.get("issued_at")), style["base"])],
        [_p(_("Order"), style["head"]), Paragraph(escape(order.get("number", "")), style["base"])],
        [_p(_("Ordered"), style["head"]), Paragraph(_when(order.get("placed_at")), style["base"])],
    ]
    if data.get("invoice_number"):
        facts.append([_p(_("Invoice"), style["head"]), Paragraph(escape(data["invoice_number"]), style["base"])])
    if data.get("reason"):
        facts.append([_p(_("Reason"), style["head"]), Paragraph(markup(data["reason"]), style["base"])])

    head = [
        _p(_("Item"), style["head"]),
        _p(_("Qty"), style["head_num"]),
        _p(_("Unit price"), style["head_num"]),
        _p(_("Without %(tax)s") % {"tax": label}, style["head_num"]),
        _p(f"{label} {rate_percent}%", style["head_num"]),
        _p(_("With %(tax)s") % {"tax": label}, style["head_num"]),
    ]
    rows = [head]
    for line in data.get("lines", []):
        item = markup(line.get("title", ""))
        if line.get("options"):
            item += f" ({markup(line['options'])})"
        if line.get("sku"):
            item += f'<br/><font size="7">{escape(line["sku"])}</font>'
        if Decimal(line.get("discount") or "0"):
            item += "<br/>" + markup(_("less discount %(amount)s") % {"amount": _money(line["discount"], currency)})
        rows.append(
            [
                Paragraph(item, style["base"]),
                Paragraph(str(line.get("quantity", "")), style["num"]),
                Paragraph(_money(line.get("unit_price", "0"), currency), style["num"]),
                Paragraph(_money(line.get("net", "0"), currency), style["num"]),
                Paragraph(_money(line.get("tax", "0"), currency), style["num"]),
                Paragraph(_money(line.get("gross", "0"), currency), style["num"]),
            ]
        )
    footer = []
    if Decimal(data.get("discount") or "0"):
        footer.append(
            [
                _p(_("Discount"), style["head"]),
                "",
                "",
                "",
                "",
                _p("-" + _money(data["discount"], currency), style["num"]),
            ]
        )
    footer.append(
        [
            _p(_("Total"), style["head"]),
            "",
            "",
            Paragraph(_money(data.get("net", document.net), currency), style["head_num"]),
            Paragraph(_money(data.get("tax", document.tax), currency), style["head_num"]),
            Paragraph(_money(data.get("gross", document.gross), currency), style["head_num"]),
        ]
    )
    rows.extend(footer)

    story = [
        Paragraph(markup(title), style["title"]),
        Spacer(1, 4 * mm),
        Table(
            [
                [
                    _party(pgettext("document party", "From"), data.get("seller", {}), style),
                    _party(_("To"), data.get("buyer", {}), style),
                ]
            ],
            colWidths=[90 * mm, 90 * mm],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
        ),
        Spacer(1, 4 * mm),
        Table(facts, colWidths=[30 * mm, 150 * mm], style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")])),
        Spacer(1, 6 * mm),
        _table(rows, [70 * mm, 12 * mm, 25 * mm, 25 * mm, 23 * mm, 25 * mm], footer_rows=len(footer)),
        Spacer(1, 4 * mm),
        _p(
            _("Prices include %(tax)s at %(rate)s%%. Amounts in %(currency)s.")
            % {"tax": label, "rate": rate_percent, "currency": currency},
            style["small"],
        ),
    ]
    order_facts = data.get("order", {})
    if order_facts.get("points_used"):
        story.append(
            _p(
                _("Paid in part with %(points)s LocalBazaar loyalty points worth %(value)s.")
                % {"points": order_facts["points_used"], "value": _money(order_facts["points_value"], currency)},
                style["small"],
            )
        )
    return _build(story, title=f"{title} {document.number}")


def dispatch_guide_pdf(*, guide: DispatchGuide) -> bytes:
    """The packing slip as a PDF: items with SKUs and quantities, the parcel's weight, and where it
    goes (or that it is collected at the shop)."""
    style = _styles()
    where = "<br/>".join(markup(line) for line in [guide.recipient, *guide.address_lines, guide.phone] if line)
    rows = [
        [
            _p(_("SKU"), style["head"]),
            _p(_("Item"), style["head"]),
            _p(_("Qty"), style["head_num"]),
            _p(_("Weight each (g)"), style["head_num"]),
            _p(_("Weight (g)"), style["head_num"]),
            _p(_("Packed"), style["head"]),
        ]
    ]
    for line in guide.lines:
        item = markup(line.title) + (f" ({markup(line.options)})" if line.options else "")
        rows.append(
            [
                Paragraph(escape(line.sku), style["base"]),
                Paragraph(item, style["base"]),
                Paragraph(str(line.quantity), style["num"]),
                Paragraph(str(line.weight_grams), style["num"]),
                Paragraph(str(line.total_weight_grams), style["num"]),
                _p("[ ]", style["base"]),
            ]
        )
    rows.append(
        [
            _p(_("Parcel"), style["head"]),
            "",
            Paragraph(str(guide.units), style["head_num"]),
            "",
            Paragraph(str(guide.weight_grams), style["head_num"]),
            "",
        ]
    )
    heading = _("Pickup at the shop") if guide.is_pickup else _("Deliver to")
    story = [
        _p(_("Dispatch guide"), style["title"]),
        Paragraph(markup(guide.shop_name), style["base"]),
        Spacer(1, 4 * mm),
        Table(
            [
                [_p(_("Order"), style["head"]), Paragraph(escape(guide.order_number), style["base"])],
                [_p(_("Ordered"), style["head"]), Paragraph(_when(guide.placed_at), style["base"])],
                [_p(_("Fulfilment"), style["head"]), Paragraph(markup(guide.fulfilment_label), style["base"])],
                [_p(heading, style["head"]), Paragraph(where, style["base"])],
                [
                    _p(_("Parcel weight"), style["head"]),
                    Paragraph(escape(f"{guide.weight_kg} kg ({guide.weight_grams} g)"), style["base"]),
                ],
                *([[_p(_("Note"), style["head"]), Paragraph(markup(guide.note), style["base"])]] if guide.note else []),
            ],
            colWidths=[35 * mm, 145 * mm],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
        ),
        Spacer(1, 6 * mm),
        _table(rows, [30 * mm, 80 * mm, 14 * mm, 22 * mm, 20 * mm, 14 * mm], footer_rows=1),
    ]
    return _build(story, title=f"{_('Dispatch guide')} {guide.order_number}")

"""Reads of batch order files: lists, a tenant-checked getter, the report's rows and its CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from apps.shops.models import Shop

from .models import OrderFile, OrderIntake

REPORT_CSV_COLUMNS = ("position", "external_ref", "shop", "outcome", "errors", "intake_id", "intake_status", "order")
# Spreadsheets run a cell that starts with one of these as a formula; the file's text is untrusted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def order_files_list(*, shop: Shop | None = None) -> QuerySet[OrderFile]:
    """Files newest first; only ``shop``'s when given (None: every file, for platform staff)."""
    qs = OrderFile.objects.select_related("shop", "uploaded_by").defer("report").order_by("-created_at", "-id")
    if shop is not None:
        qs = qs.filter(shop=shop)
    return qs


def order_file_get(*, pk: int, shop: Shop | None = None) -> OrderFile:
    """One file; ``Http404`` when there is none or, with ``shop``, when it is not that shop's."""
    qs = OrderFile.objects.select_related("shop", "uploaded_by").filter(pk=pk)
    if shop is not None:
        qs = qs.filter(shop=shop)
    order_file = qs.first()
    if order_file is None:
        raise Http404(_("No such order file."))
    return order_file


def order_file_progress(*, order_file: OrderFile) -> int:
    """How far processing has gone, 0–100 (100 once processed or failed)."""
    if order_file.status in (OrderFile.Status.PROCESSED, OrderFile.Status.FAILED):
        return 100
    if not order_file.total:
        return 0
    done = order_file.accepted + order_file.duplicates + order_file.rejected
    return min(100, done * 100 // order_file.total)


def order_file_report_rows(*, order_file: OrderFile, outcome: str = "") -> list[dict[str, Any]]:
    """The report's rows in file order (only those with ``outcome`` when given), each with where its
    incoming order is now: ``intake_status`` (e.g. ``done``, ``rejected`` by the pipeline,
    ``dead_letter``), the pipeline's ``intake_errors`` and the ``order`` number once made. One query."""
    rows = [row for row in order_file.report if not outcome or row.get("outcome") == outcome]
    intake_ids = {row["intake_id"] for row in rows if row.get("intake_id")}
    intakes = {
        intake["pk"]: intake
        for intake in OrderIntake.objects.filter(pk__in=intake_ids).values("pk", "status", "errors", "order__number")
    }
    out = []
    for row in rows:
        intake = intakes.get(row.get("intake_id")) or {}
        out.append(
            {
                **row,
                "intake_status": intake.get("status", ""),
                "intake_errors": intake.get("errors") or [],
                "order": intake.get("order__number") or "",
            }
        )
    return out


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _errors_text(errors: list[dict[str, str]]) -> str:
    return "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message")) for e in errors
    )


def order_file_report_csv(order_file: OrderFile) -> str:
    """The report as CSV (one row per order in the file, a header first), safe to open in a
    spreadsheet: cells that would run as formulas are quoted with a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_CSV_COLUMNS)
    for row in order_file_report_rows(order_file=order_file):
        writer.writerow(
            [
                _cell(row.get("position")),
                _cell(row.get("external_ref")),
                _cell(row.get("shop")),
                _cell(row.get("outcome")),
                _cell(_errors_text([*row.get("errors", []), *row.get("intake_errors", [])])),
                _cell(row.get("intake_id")),
                _cell(row.get("intake_status")),
                _cell(row.get("order")),
            ]
        )
    return buffer.getvalue()

"""Spreadsheet files sellers upload and download: reading a CSV upload with errors a seller can act
on, and writing reports that spreadsheets open safely. Used by the catalog's product imports and
the inventory's stock counts."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.files import File
from django.http import HttpResponse
from django.utils.translation import gettext as _

from .errors import ApplicationError


class CsvFileError(ApplicationError):
    """The file cannot be read at all (wrong type, encoding, columns, size)."""

    code = "csv-file-error"


@dataclass
class CsvRow:
    line: int
    cells: dict[str, str]
    extra_cells: bool = False


@dataclass
class CsvSheet:
    columns: list[str]
    rows: list[CsvRow]


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def csv_upload_read(upload: File, *, max_bytes: int) -> tuple[str, bytes]:
    """The upload's file name and bytes; CsvFileError unless it is a non-empty ``.csv`` file of at
    most ``max_bytes``."""
    name = os.path.basename(upload.name or "")
    if not name.lower().endswith(".csv"):
        raise CsvFileError(_("Upload a .csv file (in your spreadsheet choose “Save as” → “CSV UTF-8”)."))
    too_big = _("The file is too big (the limit is %(mb)s MB). Split it into smaller files.") % {
        "mb": max_bytes // (1024 * 1024)
    }
    if upload.size is not None and upload.size > max_bytes:
        raise CsvFileError(too_big)
    raw = b"".join(upload.chunks())
    if len(raw) > max_bytes:
        raise CsvFileError(too_big)
    if not raw.strip():
        raise CsvFileError(_("The file is empty: its first line must name the columns (see the format)."))
    return name, raw


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(
            _(
                "The file is UTF-16 text, not UTF-8. "
                "In your spreadsheet choose “Save as” → “CSV UTF-8” and upload that file."
            )
        )
    if raw.startswith(b"PK\x03\x04") or b"\x00" in raw[:8192]:
        raise CsvFileError(
            _(
                "This is not a CSV text file (it looks like a spreadsheet or other binary file). "
                "In your spreadsheet choose “Save as” → “CSV UTF-8” and upload that file."
            )
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            _(
                "The file is not UTF-8 text (line %(line)s has a character in another encoding). "
                "In your spreadsheet choose “Save as” → “CSV UTF-8” and upload that file."
            )
            % {"line": line}
        ) from exc


def csv_sheet_read(raw: bytes, *, required: Sequence[str], max_rows: int, rows_noun: str) -> CsvSheet:
    """Decode and parse a CSV file whose first line names the columns (case, spaces and dashes
    don't matter). CsvFileError when it cannot be read at all: not UTF-8 text, not CSV, a required
    column missing or repeated, no rows, more than ``max_rows``. ``rows_noun`` names the rows in
    messages ("products", "counts"). Blank lines are skipped; each row keeps the line it starts on."""
    reader = csv.reader(io.StringIO(_decode(raw), newline=""))
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise CsvFileError(_("The file is empty: its first line must name the columns (see the format)."))
        columns = [_normalise_header(cell) for cell in header]
        _check_columns(columns, required)
        rows: list[CsvRow] = []
        last_line = reader.line_num
        for record in reader:
            # A quoted cell may span lines: report the line the record starts on.
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            cells = {column: (record[i].strip() if i < len(record) else "") for i, column in enumerate(columns)}
            extra = any(cell.strip() for cell in record[len(columns) :])
            rows.append(CsvRow(line=line, cells=cells, extra_cells=extra))
            if len(rows) > max_rows:
                raise CsvFileError(
                    _("The file has more than %(max)s rows. Split it into smaller files.") % {"max": max_rows}
                )
    except csv.Error as exc:
        raise CsvFileError(
            _("The file is not valid CSV (line %(line)s: %(error)s).") % {"line": reader.line_num, "error": exc}
        ) from exc
    if not rows:
        raise CsvFileError(_("The file has a header line but no %(rows)s below it.") % {"rows": rows_noun})
    return CsvSheet(columns=columns, rows=rows)


def _check_columns(columns: list[str], required: Sequence[str]) -> None:
    named = [c for c in columns if c]
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise CsvFileError(
            _("These columns appear more than once: %(columns)s. Keep one of each.") % {"columns": ", ".join(repeated)}
        )
    missing = [c for c in required if c not in columns]
    if not missing:
        return
    message = _("The file is missing required columns: %(columns)s. The first line must name the columns.") % {
        "columns": ", ".join(missing)
    }
    if len(columns) == 1 and (";" in columns[0] or "\t" in columns[0]):
        message += " " + _("Separate the columns with commas, not semicolons or tabs.")
    raise CsvFileError(message)


def spreadsheet_safe(value) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def ascii_filename(stem: str, *, fallback: str = "report") -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in stem).strip("-.")
    return cleaned[:80] or fallback


def csv_problems_response(*, original_name: str, errors: Iterable[dict], fallback: str) -> HttpResponse:
    """A CSV download of a file's problems (line, column, message) named after the uploaded file."""
    stem = os.path.splitext(original_name or fallback)[0] or fallback
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{ascii_filename(stem, fallback=fallback)}-errors.csv"'
    response.write("\ufeff")  # so spreadsheets open it as UTF-8
    writer = csv.writer(response)
    writer.writerow([_("line"), _("column"), _("message")])
    for error in errors:
        writer.writerow([error.get("line") or "", error.get("column") or "", spreadsheet_safe(error.get("message"))])
    return response

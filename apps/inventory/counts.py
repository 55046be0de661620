"""Stock counts from a CSV file: what was counted on the shelves, turned into adjustments.

The file has one line per SKU (and location): ``sku,counted`` and optionally ``location`` (the name of
one of the shop's locations; empty means the location chosen at upload, else the default one).
:func:`stock_count_create` checks and stores the upload and queues ``inventory.stock_count_run``
after commit; :func:`stock_count_process` (that task, or ``manage.py`` callers) checks every line
and sets each item's on-hand to what was counted through :func:`services.stock_adjust` with the
reason "stock count" and the reference ``COUNT-<id>``, one transaction per line. Lines that match
the books change nothing; bad lines are reported by line and column and change nothing. Running a
count again is harmless: an item already at its counted level is left alone.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.catalog.models import Variant
from apps.core.csv_files import CsvFileError, CsvSheet, csv_sheet_read, csv_upload_read
from apps.core.tasks_base import enqueue_on_commit
from apps.shops.models import Shop

from .errors import StockError
from .models import StockCountImport, StockLocation
from .services import MAX_UNITS_PER_CHANGE, stock_adjust, stock_location_default

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
REQUIRED_COLUMNS = ("sku", "counted")
COUNT_REASON = "stock count"
PROGRESS_EVERY_ROWS = 50
PROGRESS_EVERY_SECONDS = 1.0
Status = StockCountImport.Status


def _problem(line: int | None, column: str, message: str) -> dict[str, Any]:
    return {"line": line, "column": column, "message": message}


@transaction.atomic
def stock_count_create(
    *, shop: Shop, created_by: Any, upload: File, location: StockLocation | None = None, enqueue: bool = True
) -> StockCountImport:
    """Check an uploaded count file, store it and queue its processing (after commit). Raises
    StockError with a message the seller can act on when the file cannot be used at all."""
    if location is not None and location.shop_id != shop.pk:
        raise StockError(_("Choose one of your own locations."))
    try:
        name, raw = csv_upload_read(upload, max_bytes=MAX_UPLOAD_BYTES)
        sheet = csv_sheet_read(raw, required=REQUIRED_COLUMNS, max_rows=MAX_ROWS, rows_noun=_("counts"))
    except CsvFileError as exc:
        raise StockError(exc.message) from exc
    count = StockCountImport(
        shop=shop, created_by=created_by, location=location, original_name=name[:200], total_rows=len(sheet.rows)
    )
    count.file.save(f"{shop.pk}-{uuid.uuid4().hex}.csv", ContentFile(raw), save=False)
    count.full_clean(exclude=["created_by", "location"])
    count.save()
    if enqueue:
        from .tasks import stock_count_run

        enqueue_on_commit(stock_count_run, count_id=count.pk)
    return count


def stock_count_summary(count: StockCountImport) -> dict[str, Any]:
    return {
        "count_id": count.pk,
        "status": str(count.status),
        "total_rows": count.total_rows,
        "processed_rows": count.processed_rows,
        "adjusted_rows": count.adjusted_rows,
        "unchanged_rows": count.unchanged_rows,
        "rows_with_errors": len({e.get("line") for e in count.errors or [] if e.get("line") is not None}),
    }


def _claim(count_id: int) -> tuple[StockCountImport | None, bool]:
    """Lock the count and mark it RUNNING; (count, False) when it has already finished. A count
    found RUNNING was left so by a lost worker and starts over (lines already applied are now equal
    to the books and change nothing)."""
    with transaction.atomic():
        count = (
            StockCountImport.objects.select_for_update(of=("self",))
            .select_related("shop", "created_by", "location")
            .filter(pk=count_id)
            .first()
        )
        if count is None or count.status in (Status.DONE, Status.FAILED):
            return count, False
        count.status = Status.RUNNING
        count.processed_rows = count.adjusted_rows = count.unchanged_rows = 0
        count.errors = []
        count.finished_at = None
        count.save()
        return count, True


def _language(count: StockCountImport) -> str:
    return getattr(count.created_by, "preferred_language", "") or settings.LANGUAGE_CODE


def stock_count_process(*, count_id: int) -> dict[str, Any]:
    """Apply a stock count file line by line (see the module docstring); returns its summary."""
    count, claimed = _claim(count_id)
    if count is None:
        logger.warning("stock count %s no longer exists", count_id)
        return {"count_id": count_id, "status": "missing"}
    if not claimed:
        return stock_count_summary(count)
    with translation.override(_language(count)):
        try:
            with count.file.open("rb") as handle:
                sheet = csv_sheet_read(handle.read(), required=REQUIRED_COLUMNS, max_rows=MAX_ROWS, rows_noun="counts")
        except (CsvFileError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, CsvFileError) else _("The uploaded file can no longer be read.")
            count.status = Status.FAILED
            count.errors = [_problem(None, "", message)]
            count.finished_at = timezone.now()
            count.save()
            return stock_count_summary(count)
        problems = _apply(count, sheet)
    count.errors = sorted(problems, key=lambda p: (p["line"] or 0, p["column"]))
    count.status = Status.DONE
    count.finished_at = timezone.now()
    count.save()
    logger.info("stock count %s done: %s", count.pk, stock_count_summary(count))
    return stock_count_summary(count)


def stock_count_fail(*, count_id: int) -> None:
    """Mark a count FAILED after its task gave up (e.g. ran out of time)."""
    count = StockCountImport.objects.filter(pk=count_id).select_related("created_by").first()
    if count is None or count.status == Status.DONE:
        return
    with translation.override(_language(count)):
        text = _("The count stopped unexpectedly. Upload the file again: lines already applied will not change twice.")
    count.status = Status.FAILED
    count.errors = [*(count.errors or []), _problem(None, "", text)]
    count.finished_at = timezone.now()
    count.save(update_fields=["status", "errors", "finished_at", "updated_at"])


def _parse_counted(raw: str) -> int:
    if not re.fullmatch(r"-?\d+", raw, flags=re.ASCII):
        raise ValueError(_("“%(value)s” is not a count: write a whole number such as 12.") % {"value": raw})
    value = int(raw)
    if value < 0:
        raise ValueError(_("A count cannot be negative."))
    if value > MAX_UNITS_PER_CHANGE:
        raise ValueError(_("This count is too large (at most %(max)s).") % {"max": f"{MAX_UNITS_PER_CHANGE:,}"})
    return value


def _apply(count: StockCountImport, sheet: CsvSheet) -> list[dict[str, Any]]:
    shop = count.shop
    skus = {row.cells.get("sku", "") for row in sheet.rows}
    variants = {v.sku: v for v in Variant.objects.filter(shop=shop, sku__in=skus).select_related("product", "shop")}
    locations = {loc.name.casefold(): loc for loc in StockLocation.objects.filter(shop=shop)}
    fallback = count.location or stock_location_default(shop=shop)
    seen: dict[tuple[int, int | None], int] = {}
    problems: list[dict[str, Any]] = []
    saved_at, saved_rows = time.monotonic(), 0
    for row in sheet.rows:
        sku, counted_raw = row.cells.get("sku", ""), row.cells.get("counted", "")
        location_name = row.cells.get("location", "")
        row_problems = []
        variant = variants.get(sku)
        if not sku:
            row_problems.append(_problem(row.line, "sku", _("The SKU is missing.")))
        elif variant is None:
            row_problems.append(
                _problem(row.line, "sku", _("No product of your shop has the SKU “%(sku)s”.") % {"sku": sku})
            )
        location = fallback
        if location_name:
            location = locations.get(location_name.casefold())
            if location is None:
                row_problems.append(
                    _problem(
                        row.line,
                        "location",
                        _("“%(name)s” is not one of your locations (%(names)s).")
                        % {"name": location_name, "names": ", ".join(loc.name for loc in locations.values())},
                    )
                )
        counted = None
        try:
            counted = _parse_counted(counted_raw)
        except ValueError as exc:
            row_problems.append(_problem(row.line, "counted", str(exc)))
        if variant is not None and not row_problems:
            key = (variant.pk, location.pk if location else None)
            if key in seen:
                row_problems.append(
                    _problem(
                        row.line,
                        "sku",
                        _("“%(sku)s” is counted twice at this location (first on line %(line)s): keep one line.")
                        % {"sku": sku, "line": seen[key]},
                    )
                )
            seen.setdefault(key, row.line)
        if row_problems:
            problems.extend(row_problems)
        else:
            try:
                movement = stock_adjust(
                    variant=variant,
                    counted=counted,
                    location=location,
                    actor=count.created_by,
                    reason=COUNT_REASON,
                    reference=count.reference,
                )
            except StockError as exc:
                problems.append(_problem(row.line, "counted", exc.message))
            else:
                if movement is None:
                    count.unchanged_rows += 1
                else:
                    count.adjusted_rows += 1
        count.processed_rows += 1
        if (
            count.processed_rows - saved_rows >= PROGRESS_EVERY_ROWS
            or time.monotonic() - saved_at >= PROGRESS_EVERY_SECONDS
        ):
            StockCountImport.objects.filter(pk=count.pk).update(
                processed_rows=count.processed_rows,
                adjusted_rows=count.adjusted_rows,
                unchanged_rows=count.unchanged_rows,
                updated_at=timezone.now(),
            )
            saved_at, saved_rows = time.monotonic(), count.processed_rows
    return problems

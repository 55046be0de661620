"""Bulk import of products from a CSV file (the format is in ``IMPORT_FORMAT.md``).

Two services:

- :func:`import_job_create` checks an upload (size, ``.csv``, UTF-8, the required columns), stores it
  through the job's FileField and queues ``catalog.import_job_run`` once the transaction commits.
- :func:`import_job_process` (run by that task, or synchronously by ``manage.py import_products``)
  checks every row, groups rows into products and imports each product in its own transaction through
  :mod:`apps.catalog.services`. A product with any bad row is left out entirely; every problem is
  reported by line and column in ``job.errors``. Progress is saved as it goes, so the seller's
  progress bar moves.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.core.csv_files import CsvFileError, CsvRow, CsvSheet, csv_upload_read
from apps.core.csv_files import csv_sheet_read as read_csv_sheet
from apps.core.tasks_base import enqueue_on_commit
from apps.shops.models import Shop

from .errors import CatalogError
from .models import Category, ImportJob, Product, Variant
from .services import VariantData, product_create, product_update, variant_upsert

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
REQUIRED_COLUMNS = ("title", "sku", "price")
OPTIONAL_COLUMNS = (
    "product_ref",
    "description",
    "category",
    "tags",
    "status",
    "options",
    "compare_at_price",
    "weight_grams",
)
PRODUCT_COLUMNS = ("title", "description", "category", "tags", "status")
IMPORT_STATUSES = (Product.Status.DRAFT, Product.Status.ACTIVE)
TAG_SEPARATOR = "|"
OPTION_SEPARATOR = ";"
# Progress is written to the database at most this often (by rows, or by time), so the bar moves
# without a write per product on big files.
PROGRESS_EVERY_ROWS = 25
PROGRESS_EVERY_SECONDS = 1.0
MAX_PRICE = Decimal("9999999999.99")
MAX_WEIGHT_GRAMS = 2_147_483_647

ProgressCallback = Callable[[ImportJob], None]


# --- Reading the file --------------------------------------------------------------------------------


def csv_sheet_read(raw: bytes) -> CsvSheet:
    """Decode and parse an import file; raise CatalogError when it cannot be imported at all
    (not UTF-8 text, not CSV, a required column missing, no rows, too many rows)."""
    try:
        return read_csv_sheet(raw, required=REQUIRED_COLUMNS, max_rows=MAX_ROWS, rows_noun=_("products"))
    except CsvFileError as exc:
        raise CatalogError(exc.message) from exc


# --- Creating a job ----------------------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, shop: Shop, created_by: Any, upload: File, enqueue: bool = True) -> ImportJob:
    """Check an uploaded CSV, store it and queue its import (after commit).

    Raises CatalogError, with a message the seller can act on, for a file that is too big, not
    ``.csv``, not UTF-8, not CSV, missing a required column or without rows. ``enqueue=False``
    leaves running the job to the caller (the ``import_products`` command runs it in-process).
    """
    try:
        name, raw = csv_upload_read(upload, max_bytes=MAX_UPLOAD_BYTES)
    except CsvFileError as exc:
        raise CatalogError(exc.message) from exc
    sheet = csv_sheet_read(raw)
    job = ImportJob(shop=shop, created_by=created_by, original_name=name[:200], total_rows=len(sheet.rows))
    # The stored name is ours: the seller's file name is kept for display only.
    job.file.save(f"{shop.pk}-{uuid.uuid4().hex}.csv", ContentFile(raw), save=False)
    job.full_clean(exclude=["created_by"])  # None when an operator imports with the command
    job.save()
    if enqueue:
        from .tasks import import_job_run

        enqueue_on_commit(import_job_run, job_id=job.pk)
    return job


# --- Checking rows -----------------------------------------------------------------------------------


@dataclass
class RowProblem:
    line: int | None
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass
class VariantRow:
    line: int
    sku: str
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    weight_grams: int | None = None
    options: dict[str, str] | None = None


@dataclass
class ProductGroup:
    """The rows of one product, in file order, with the product's own values (first non-empty)."""

    key: str
    handle: str
    first_line: int
    rows: list[VariantRow] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    value_lines: dict[str, int] = field(default_factory=dict)
    row_count: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def _parse_price(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(_("“%(value)s” is not a price: write a number such as 12.50.") % {"value": raw})
    if value < 0:
        raise ValueError(_("A price cannot be negative."))
    if value.as_tuple().exponent < -2:
        raise ValueError(_("A price has at most 2 decimal places."))
    if value > MAX_PRICE:
        raise ValueError(_("This price is too large."))
    return value


def _parse_weight(raw: str) -> int:
    if re.fullmatch(r"-\d+", raw, flags=re.ASCII):
        raise ValueError(_("A weight cannot be negative."))
    if not re.fullmatch(r"\d+", raw, flags=re.ASCII):
        raise ValueError(_("“%(value)s” is not a weight: write whole grams such as 450.") % {"value": raw})
    value = int(raw)
    if value > MAX_WEIGHT_GRAMS:
        raise ValueError(_("This weight is too large."))
    return value


def _parse_options(raw: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in raw.split(OPTION_SEPARATOR):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            raise ValueError(
                _("“%(part)s” is not an option: write name=value pairs separated by ; (e.g. size=M;colour=Indigo).")
                % {"part": part.strip()}
            )
        if name in options:
            raise ValueError(_("The option “%(name)s” is given twice.") % {"name": name})
        options[name] = value
    return options


def _parse_tags(raw: str) -> list[str]:
    tags = [t.strip() for t in raw.split(TAG_SEPARATOR) if t.strip()]
    too_long = [t for t in tags if len(t) > 40]
    if too_long:
        raise ValueError(_("A tag has at most 40 characters (“%(tag)s”).") % {"tag": too_long[0]})
    return tags


VARIANT_PARSERS: dict[str, Callable[[str], Any]] = {
    "price": _parse_price,
    "compare_at_price": _parse_price,
    "weight_grams": _parse_weight,
    "options": _parse_options,
}


class _RowChecker:
    """Turns the sheet into product groups, recording each bad cell by line and column."""

    def __init__(self, *, shop: Shop, sheet: CsvSheet):
        self.shop = shop
        self.columns = set(sheet.columns)
        self.sheet = sheet
        self.categories = {c.slug: c for c in Category.objects.all()}
        self.sku_lines: dict[str, int] = {}
        self.file_problems: list[RowProblem] = []
        self.existing: dict[str, Product] = {}

    def groups(self) -> list[ProductGroup]:
        """The products of the file in order of first appearance; sets ``existing`` (the shop's
        products they update, by group key)."""
        groups: dict[str, ProductGroup] = {}
        for row in self.sheet.rows:
            group = self._group_for(row, groups)
            if group is None:
                continue
            group.row_count += 1
            self._check_row(row, group)
        result = list(groups.values())
        self.existing = _existing_products(shop=self.shop, groups=result)
        for group in result:
            if group.key not in self.existing and "title" not in group.values:
                group.problems.append(
                    RowProblem(group.first_line, "title", _("A new product needs a title on its first line."))
                )
        self._check_skus_against_shop(result)
        return result

    def _group_for(self, row: CsvRow, groups: dict[str, ProductGroup]) -> ProductGroup | None:
        ref, title = row.cells.get("product_ref", ""), row.cells.get("title", "")
        if ref:
            handle = slugify(ref)[:180].strip("-")
            if not handle:
                self.file_problems.append(
                    RowProblem(
                        row.line,
                        "product_ref",
                        _("A product_ref needs letters or digits (it becomes the product's web address)."),
                    )
                )
                return None
            key = handle
        elif title:
            handle = slugify(title)[:180].strip("-")
            # A title without Latin letters or digits (e.g. in Chinese) cannot become an address:
            # such products are grouped and matched by their exact title.
            key = handle or f"title:{title.casefold()}"
        else:
            self.file_problems.append(
                RowProblem(row.line, "title", _("Give the product a title (or a product_ref to add a variant to it)."))
            )
            return None
        group = groups.get(key)
        if group is None:
            group = groups[key] = ProductGroup(key=key, handle=handle, first_line=row.line)
        return group

    def _check_row(self, row: CsvRow, group: ProductGroup) -> None:
        if row.extra_cells:
            group.problems.append(RowProblem(row.line, "", _("This line has more cells than the header has columns.")))
        self._check_product_cells(row, group)
        group.rows.append(self._variant_row(row, group.problems))

    def _check_product_cells(self, row: CsvRow, group: ProductGroup) -> None:
        """The product's own values come from its first row that has them; later rows may leave
        them empty or repeat them, but not contradict them."""
        for column in PRODUCT_COLUMNS:
            raw = row.cells.get(column, "")
            if not raw:
                continue
            try:
                value = self._product_value(column, raw)
            except ValueError as exc:
                group.problems.append(RowProblem(row.line, column, str(exc)))
                continue
            if column not in group.values:
                group.values[column] = value
                group.value_lines[column] = row.line
            elif group.values[column] != value:
                message = _(
                    "Differs from line %(line)s of the same product: repeat that value or leave the cell empty."
                ) % {"line": group.value_lines[column]}
                group.problems.append(RowProblem(row.line, column, message))

    def _variant_row(self, row: CsvRow, problems: list[RowProblem]) -> VariantRow:
        variant = VariantRow(line=row.line, sku=row.cells.get("sku", ""))
        if not variant.sku:
            problems.append(RowProblem(row.line, "sku", _("Every row needs a SKU.")))
        elif len(variant.sku) > 64:
            problems.append(RowProblem(row.line, "sku", _("A SKU has at most 64 characters.")))
        elif variant.sku in self.sku_lines:
            message = _("SKU %(sku)s is already on line %(line)s.") % {
                "sku": variant.sku,
                "line": self.sku_lines[variant.sku],
            }
            problems.append(RowProblem(row.line, "sku", message))
        else:
            self.sku_lines[variant.sku] = row.line
        for column, parse in VARIANT_PARSERS.items():
            if column not in self.columns:
                continue  # left out of the file: an existing variant keeps its value
            raw = row.cells.get(column, "")
            if raw:
                try:
                    setattr(variant, column, parse(raw))
                except ValueError as exc:
                    problems.append(RowProblem(row.line, column, str(exc)))
            elif column == "price":
                problems.append(RowProblem(row.line, "price", _("Every row needs a price.")))
            elif column == "weight_grams":
                variant.weight_grams = 0
            elif column == "options":
                variant.options = {}
        compare_at, price = variant.compare_at_price, variant.price
        if compare_at is not None and price is not None and compare_at <= price:
            message = _("The compare-at price must be above the price (it shows the deal); leave it empty otherwise.")
            problems.append(RowProblem(row.line, "compare_at_price", message))
        return variant

    def _product_value(self, column: str, raw: str) -> Any:
        if column == "title":
            if len(raw) > 160:
                raise ValueError(_("A title has at most 160 characters."))
            return raw
        if column == "category":
            category = self.categories.get(raw.lower())
            if category is None:
                raise ValueError(
                    _("There is no category “%(slug)s”: use a category slug from the list on the import page.")
                    % {"slug": raw}
                )
            return category
        if column == "tags":
            return _parse_tags(raw)
        if column == "status":
            status = raw.lower()
            if status not in IMPORT_STATUSES:
                raise ValueError(
                    _("“%(value)s” is not a status: write draft or active.") % {"value": raw},
                )
            return status
        return raw

    def _check_skus_against_shop(self, groups: list[ProductGroup]) -> None:
        """A SKU already used by a different product of the shop is a bad row (SKUs are unique per shop)."""
        owners = {
            sku: (product_id, slug, title)
            for sku, product_id, slug, title in Variant.objects.filter(
                shop=self.shop, sku__in=list(self.sku_lines)
            ).values_list("sku", "product_id", "product__slug", "product__title")
        }
        for group in groups:
            product = self.existing.get(group.key)
            for variant in group.rows:
                owner = owners.get(variant.sku)
                if owner is None or (product is not None and owner[0] == product.pk):
                    continue
                if self.sku_lines.get(variant.sku) != variant.line:
                    continue  # already reported as a repeat inside the file
                group.problems.append(
                    RowProblem(
                        variant.line,
                        "sku",
                        _(
                            "SKU %(sku)s already belongs to another product, “%(title)s”. Use its product_ref "
                            "%(slug)s to update that product, or choose another SKU."
                        )
                        % {"sku": variant.sku, "title": owner[2], "slug": owner[1]},
                    )
                )


def _existing_products(*, shop: Shop, groups: list[ProductGroup]) -> dict[str, Product]:
    """The shop's products the groups update: by slug (product_ref or title), else by exact title."""
    by_slug = {p.slug: p for p in Product.objects.filter(shop=shop, slug__in=[g.handle for g in groups if g.handle])}
    found: dict[str, Product] = {}
    for group in groups:
        if group.handle:
            if group.handle in by_slug:
                found[group.key] = by_slug[group.handle]
        else:
            title = group.values.get("title", "")
            product = Product.objects.filter(shop=shop, title=title).order_by("pk").first() if title else None
            if product is not None:
                found[group.key] = product
    return found


# --- Importing ---------------------------------------------------------------------------------------


@dataclass
class _Progress:
    job: ImportJob
    on_progress: ProgressCallback | None
    saved_rows: int = 0
    saved_at: float = field(default_factory=time.monotonic)

    def advance(self, rows: int) -> None:
        self.job.processed_rows += rows
        due = self.job.processed_rows - self.saved_rows >= PROGRESS_EVERY_ROWS
        if due or time.monotonic() - self.saved_at >= PROGRESS_EVERY_SECONDS:
            self.save()

    def save(self) -> None:
        job = self.job
        job.updated_at = timezone.now()
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=job.processed_rows,
            products_created=job.products_created,
            products_updated=job.products_updated,
            updated_at=job.updated_at,
        )
        self.saved_rows, self.saved_at = job.processed_rows, time.monotonic()
        if self.on_progress is not None:
            self.on_progress(job)


def import_job_summary(job: ImportJob) -> dict[str, Any]:
    """What a job did, for the task result, the command's last line and the seller's page."""
    return {
        "job_id": job.pk,
        "status": str(job.status),
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "products_created": job.products_created,
        "products_updated": job.products_updated,
        "rows_with_errors": len({e.get("line") for e in job.errors or [] if e.get("line") is not None}),
    }


def _import_job_claim(job_id: int) -> tuple[ImportJob | None, bool]:
    """Lock the job and mark it RUNNING; (job, False) when it has already finished.

    A job found RUNNING was left so by a lost worker: its message is delivered again (``acks_late``)
    only after the worker died, and the broker's visibility timeout outlasts the task's time limit,
    so two workers never hold it at once. It starts over; products it had imported are updated, not
    duplicated."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update(of=("self",))
            .select_related("shop", "created_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None:
            return None, False
        if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            return job, False
        job.status = ImportJob.Status.RUNNING
        job.processed_rows = job.products_created = job.products_updated = 0
        job.errors = []
        job.finished_at = None
        job.save()
        return job, True


def import_job_fail(*, job_id: int, message: str = "") -> None:
    """Mark a job FAILED with a file-level message (e.g. after the task ran out of time)."""
    job = ImportJob.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or job.status == ImportJob.Status.DONE:
        return
    with translation.override(_job_language(job)):
        text = message or _(
            "The import stopped unexpectedly. Upload the file again; imported products will be updated."
        )
    job.status = ImportJob.Status.FAILED
    job.errors = [*(job.errors or []), RowProblem(None, "", text).as_dict()]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "errors", "finished_at", "updated_at"])


def _job_language(job: ImportJob) -> str:
    user = job.created_by
    return getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE


def import_job_process(*, job_id: int, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Import a job's file: every good product lands, every bad row is reported by line and column.

    Safe to run again: a finished job is not re-run (its summary is returned), and re-importing a
    product updates it. ``on_progress(job)`` is called whenever progress is saved.
    """
    job, claimed = _import_job_claim(job_id)
    if job is None:
        logger.warning("import job %s no longer exists", job_id)
        return {"job_id": job_id, "status": "missing"}
    if not claimed:
        return import_job_summary(job)
    with translation.override(_job_language(job)):
        try:
            with job.file.open("rb") as handle:
                raw = handle.read()
            sheet = csv_sheet_read(raw)
        except (CatalogError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, CatalogError) else _("The uploaded file can no longer be read.")
            logger.warning("import job %s failed: %s", job.pk, exc)
            job.status = ImportJob.Status.FAILED
            job.errors = [RowProblem(None, "", message).as_dict()]
            job.finished_at = timezone.now()
            job.save()
            return import_job_summary(job)
        job.total_rows = len(sheet.rows)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
        problems = _import_sheet(job=job, sheet=sheet, progress=_Progress(job=job, on_progress=on_progress))
    job.errors = [p.as_dict() for p in sorted(problems, key=lambda p: (p.line or 0, p.column))]
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save()
    if on_progress is not None:
        on_progress(job)
    logger.info("import job %s done: %s", job.pk, import_job_summary(job))
    return import_job_summary(job)


def _import_sheet(*, job: ImportJob, sheet: CsvSheet, progress: _Progress) -> list[RowProblem]:
    checker = _RowChecker(shop=job.shop, sheet=sheet)
    groups = checker.groups()
    problems = list(checker.file_problems)
    progress.advance(len(checker.file_problems))
    for group in groups:
        if group.problems:
            problems.extend(group.problems)
        else:
            try:
                created = _import_product(
                    shop=job.shop, group=group, columns=set(sheet.columns), existing=checker.existing.get(group.key)
                )
            except (CatalogError, ValidationError, IntegrityError) as exc:
                problems.append(RowProblem(group.first_line, "", _error_text(exc)))
            else:
                if created:
                    job.products_created += 1
                else:
                    job.products_updated += 1
        progress.advance(group.row_count)
    progress.save()
    return problems


def _error_text(exc: Exception) -> str:
    if isinstance(exc, CatalogError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return _("This product could not be saved (it changed while importing). Import the file again.")


def _import_product(*, shop: Shop, group: ProductGroup, columns: set[str], existing: Product | None) -> bool:
    """Create or update one product with its variants, all or nothing. True when it was created."""
    values = group.values
    with transaction.atomic():
        if existing is None:
            product_create(
                shop=shop,
                title=values["title"],
                description=values.get("description", ""),
                category=values.get("category"),
                status=values.get("status", Product.Status.DRAFT),
                tags=values.get("tags"),
                slug=group.handle,
                variants=[_variant_data(row, columns=columns, current=None) for row in group.rows],
            )
            return True
        product = Product.objects.select_for_update().filter(pk=existing.pk).first()
        if product is None:
            raise CatalogError(_("This product was deleted while importing. Import the file again to add it."))
        current = {v.sku: v for v in product.variants.all()}
        for row in group.rows:
            variant_upsert(product=product, data=_variant_data(row, columns=columns, current=current.get(row.sku)))
        fields = {name: values[name] for name in ("title", "description", "category", "status") if name in values}
        product_update(product=product, tags=values.get("tags"), **fields)
        return False


def _variant_data(row: VariantRow, *, columns: set[str], current: Variant | None) -> VariantData:
    """A row's variant; columns left out of the file keep the existing variant's values."""
    keep_compare_at = "compare_at_price" not in columns and current is not None
    return VariantData(
        sku=row.sku,
        price=row.price,
        options=row.options if row.options is not None else (current.options if current else {}),
        compare_at_price=current.compare_at_price if keep_compare_at else row.compare_at_price,
        weight_grams=row.weight_grams if row.weight_grams is not None else (current.weight_grams if current else 0),
        is_active=current.is_active if current else True,
    )

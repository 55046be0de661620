"""Batch order files: receiving one (stored through the storage backend, queued for Celery) and
processing it order by order into incoming orders (``OrderIntake``).

A file is read by ``apps.orders.order_files``; each order in it goes to
``apps.orders.services_intake.intake_submit`` exactly like an order sent to ``POST /api/v1/orders``,
so a file and the API accept and refuse the same orders. Each order is submitted in its own
transaction: a bad one is reported and never rolls back the others. ``OrderFile.report`` lists every
order with its outcome (``accepted``, ``duplicate``, ``rejected`` with errors).

Processing again (a redelivered task, a worker that died half way) does not double anything: the
intake is unique on (shop, channel, external reference), an order this file already submitted is
found again and reported as accepted, and the report is rebuilt from the start. A file sent again
is a new file whose orders are all reported as duplicates.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from pathlib import PurePath
from typing import Any

from django.core.files.base import File
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.core.tasks_base import enqueue_on_commit
from apps.shops.models import Shop

from .errors import IntakeError
from .models import OrderFile
from .order_files import (
    SNIFF_BYTES,
    OrderFileError,
    ParsedOrder,
    order_file_format_check,
    order_file_parse,
    order_file_size_check,
)

logger = logging.getLogger(__name__)

# The counters (and so the back office's progress bar) are saved after every this many orders.
PROGRESS_EVERY = 100

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
OUTCOMES = (ACCEPTED, DUPLICATE, REJECTED)

# Infrastructure failures: the task retries the whole file (nothing is doubled), rather than
# reporting an order as rejected for a reason that has nothing to do with it.
_RETRYABLE = (OperationalError, InterfaceError)


def _head(uploaded_file: File) -> bytes:
    uploaded_file.seek(0)
    head = uploaded_file.read(SNIFF_BYTES)
    uploaded_file.seek(0)
    return head if isinstance(head, bytes) else head.encode()


def _sha256(uploaded_file: File) -> str:
    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    return digest.hexdigest()


@transaction.atomic
def order_file_receive(*, uploaded_file: File, shop: Shop | None = None, user=None, label: str = "") -> OrderFile:
    """Store a batch file of orders and queue it for processing (after commit).

    The format is told by the content (XML or JSON), not by the file name. Raises
    ``OrderFileTooLarge`` (over ``ORDER_FILE_MAX_BYTES``), ``OrderFileUnsupported`` (neither XML nor
    JSON) or ``OrderFileError`` (empty), all ``IntakeError``s; nothing is stored then. With ``shop``
    (a shop's API key or member uploaded it) every order in the file must be for that shop.
    """
    order_file_size_check(uploaded_file.size or 0)
    file_format = order_file_format_check(_head(uploaded_file))
    original_name = PurePath(uploaded_file.name or "").name or f"orders.{file_format}"
    person = user if getattr(user, "pk", None) else None
    order_file = OrderFile(
        original_name=original_name[:200],
        format=file_format,
        size=uploaded_file.size,
        sha256=_sha256(uploaded_file),
        shop=shop,
        uploaded_by=person,
        uploaded_by_label=(label or getattr(person, "email", "") or "")[:200],
    )
    # A name of our own: the uploader's name is kept in original_name, never used as a path.
    order_file.file.save(f"{uuid.uuid4().hex}.{file_format}", uploaded_file, save=False)
    order_file.full_clean()
    order_file.save()

    from .tasks import order_file_process as order_file_process_task

    enqueue_on_commit(order_file_process_task, file_id=order_file.pk)
    return order_file


def _claim(order_file: OrderFile) -> OrderFile | None:
    """Mark the file as being read and clear any half-built report; None when it is already done."""
    with transaction.atomic():
        locked = OrderFile.objects.select_for_update().get(pk=order_file.pk)
        if locked.status in (OrderFile.Status.PROCESSED, OrderFile.Status.FAILED):
            return None
        locked.status = OrderFile.Status.PARSING
        locked.error = ""
        locked.total = locked.accepted = locked.duplicates = locked.rejected = 0
        locked.report = []
        locked.save(
            update_fields=["status", "error", "total", "accepted", "duplicates", "rejected", "report", "updated_at"]
        )
    return locked


def _read(order_file: OrderFile) -> bytes:
    with order_file.file.open("rb") as stored:
        return stored.read()


def _row(item: ParsedOrder, *, outcome: str, errors: list | None = None, intake_id: int | None = None) -> dict:
    return {
        "position": item.position,
        "external_ref": item.external_ref,
        "shop": item.shop,
        "outcome": outcome,
        "errors": errors or [],
        "intake_id": intake_id,
    }


def _submitted_by(order_file: OrderFile) -> str:
    who = order_file.uploaded_by_label or _("file upload")
    return f"{who} · {order_file.original_name}"[:200]


def _order_submit(*, order_file: OrderFile, item: ParsedOrder) -> dict[str, Any]:
    """Submit one order of the file in its own transaction; its report row."""
    from .services_intake import intake_submit

    if not item.ok:
        return _row(item, outcome=REJECTED, errors=item.errors)
    if order_file.shop_id is not None and item.shop != order_file.shop.slug:
        message = _(
            "This file was uploaded for the shop “%(file_shop)s”; it cannot hold orders for “%(shop)s”. "
            "Upload that shop's orders with its own key."
        ) % {"file_shop": order_file.shop.slug, "shop": item.shop}
        return _row(item, outcome=REJECTED, errors=[{"field": "shop", "message": message}])
    try:
        # intake_submit is one transaction (a savepoint inside a caller's): a bad order rolls back
        # alone. No extra savepoint here: it would cost two round trips per order for nothing.
        result = intake_submit(
            payload=item.payload,
            channel=item.channel,
            shop=order_file.shop,
            source_file=order_file,
            position=item.position,
            submitted_by_label=_submitted_by(order_file),
        )
    except IntakeError as exc:
        errors = exc.extra.get("errors") or [{"field": "", "message": exc.message}]
        return _row(item, outcome=REJECTED, errors=errors)
    except ApplicationError as exc:
        return _row(item, outcome=REJECTED, errors=[{"field": "", "message": exc.message}])
    except _RETRYABLE:
        raise
    except (DatabaseError, ValueError, TypeError, KeyError, LookupError):
        logger.exception("order file %s: order %s could not be submitted", order_file.pk, item.position)
        message = _("This order could not be processed because of an error on our side; staff have been told.")
        return _row(item, outcome=REJECTED, errors=[{"field": "", "message": message}])
    intake = result.intake
    # An intake this same file made earlier (the task ran before and was redelivered) is this
    # file's own order, not a duplicate of someone else's.
    ours = intake.source_file_id == order_file.pk and intake.position == item.position
    outcome = DUPLICATE if result.duplicate and not ours else ACCEPTED
    return _row(item, outcome=outcome, intake_id=intake.pk)


def _save_progress(order_file: OrderFile, counts: dict[str, int], *, fields: tuple[str, ...] = ()) -> None:
    order_file.accepted = counts[ACCEPTED]
    order_file.duplicates = counts[DUPLICATE]
    order_file.rejected = counts[REJECTED]
    order_file.save(update_fields=["accepted", "duplicates", "rejected", "updated_at", *fields])


def order_file_process(*, order_file: OrderFile) -> OrderFile:
    """Read a received file and submit each of its orders; the file ends ``processed`` with its
    report and counters, or ``failed`` with a file-level ``error`` (nothing in it submitted).

    Not one transaction on purpose: each order is submitted in its own, and the counters are saved
    every ``PROGRESS_EVERY`` orders so the back office shows progress. A file already processed (or
    failed) is returned as it is; one left half way is processed again from the start.
    """
    claimed = _claim(order_file)
    if claimed is None:
        return OrderFile.objects.get(pk=order_file.pk)
    order_file = claimed
    try:
        parsed = order_file_parse(_read(order_file), file_format=order_file.format)
    except OrderFileError as exc:
        order_file.status = OrderFile.Status.FAILED
        order_file.error = exc.message
        order_file.save(update_fields=["status", "error", "updated_at"])
        return order_file

    order_file.total = len(parsed)
    order_file.save(update_fields=["total", "updated_at"])
    counts = dict.fromkeys(OUTCOMES, 0)
    report = []
    for done, item in enumerate(parsed, start=1):
        row = _order_submit(order_file=order_file, item=item)
        report.append(row)
        counts[row["outcome"]] += 1
        if done % PROGRESS_EVERY == 0:
            _save_progress(order_file, counts)
    order_file.report = report
    order_file.status = OrderFile.Status.PROCESSED
    _save_progress(order_file, counts, fields=("report", "status"))
    logger.info(
        "order file %s processed: %s orders, %s accepted, %s duplicates, %s rejected",
        order_file.pk,
        order_file.total,
        counts[ACCEPTED],
        counts[DUPLICATE],
        counts[REJECTED],
    )
    return order_file

"""Seller portal: CSV product imports with progress.

Upload a file (the list page), watch its progress (the job page polls a partial with htmx every
second while the job runs; without JavaScript a refresh link does the same), read the error report
by line and column, and download it as CSV.
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.csv_files import csv_problems_response
from apps.shops.access import seller_view
from apps.shops.permissions import Perm

from .errors import CatalogError
from .imports import MAX_ROWS, MAX_UPLOAD_BYTES, import_job_create, import_job_summary
from .models import ImportJob
from .selectors import categories_all, import_job_get_for_shop

EXAMPLE_CSV = Path(__file__).resolve().parent / "data" / "products_example.csv"
ERRORS_SHOWN = 500  # on the page; the CSV download has all of them
RUNNING = (ImportJob.Status.PENDING, ImportJob.Status.RUNNING)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8 CSV, up to 5 MB and 10,000 rows."),
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )


@seller_view(Perm.CATALOG_IMPORT)
@require_http_methods(["GET", "POST"])
def import_list(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(shop=request.shop, created_by=request.user, upload=form.cleaned_data["file"])
        except CatalogError as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(request, _("Your file is being imported. This page shows the progress."))
            return redirect("catalog_imports:detail", shop_slug=request.shop.slug, job_id=job.pk)
    jobs = ImportJob.objects.filter(shop=request.shop).order_by("-created_at", "-pk")[:20]
    return render(
        request,
        "catalog/seller/import_list.html",
        {
            "shop": request.shop,
            "membership": request.membership,
            "form": form,
            "jobs": jobs,
            "categories": categories_all(),
            "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
            "max_rows": MAX_ROWS,
        },
    )


def _job_context(request, job: ImportJob) -> dict:
    summary = import_job_summary(job)
    return {
        "shop": request.shop,
        "membership": request.membership,
        "job": job,
        "summary": summary,
        "is_running": job.status in RUNNING,
        "errors": (job.errors or [])[:ERRORS_SHOWN],
        "errors_hidden": max(0, len(job.errors or []) - ERRORS_SHOWN),
    }


@seller_view(Perm.CATALOG_IMPORT)
@require_GET
def import_detail(request, job_id: int):
    job = import_job_get_for_shop(shop=request.shop, job_id=job_id)
    return render(request, "catalog/seller/import_detail.html", _job_context(request, job))


@seller_view(Perm.CATALOG_IMPORT)
@require_GET
def import_progress(request, job_id: int):
    """The progress block alone: htmx swaps it in every second until the job has finished."""
    job = import_job_get_for_shop(shop=request.shop, job_id=job_id)
    return render(request, "catalog/seller/import_progress.html", _job_context(request, job))


@seller_view(Perm.CATALOG_IMPORT)
@require_GET
def import_errors_csv(request, job_id: int):
    job = import_job_get_for_shop(shop=request.shop, job_id=job_id)
    return csv_problems_response(original_name=job.original_name, errors=job.errors or [], fallback="import")


@seller_view(Perm.CATALOG_IMPORT)
@require_GET
def import_example_csv(request):
    return FileResponse(EXAMPLE_CSV.open("rb"), as_attachment=True, filename="products_example.csv")

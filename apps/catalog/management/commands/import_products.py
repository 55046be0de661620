"""Import products from a CSV file into a shop, in this process (no Celery), with progress.

    manage.py import_products kampong-crafts products.csv --user owner@example.com

The same services as the seller portal's upload check and import the file, so the format and the
rules are the same (``apps/catalog/IMPORT_FORMAT.md``); the job also appears in the portal.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from apps.catalog.errors import CatalogError
from apps.catalog.imports import import_job_create, import_job_process
from apps.catalog.models import ImportJob
from apps.shops.models import Shop

ERRORS_PRINTED = 50


class Command(BaseCommand):
    help = "Import products from a CSV file into a shop (same format and rules as the seller portal)."

    def add_arguments(self, parser):
        parser.add_argument("shop_slug", help="The shop's slug (its web address).")
        parser.add_argument("file", help="Path to the CSV file (UTF-8).")
        parser.add_argument("--user", dest="email", help="Email of the user recorded as the importer.")

    def handle(self, *args, shop_slug: str, file: str, email: str | None = None, **options):
        shop = Shop.objects.filter(slug=shop_slug).first()
        if shop is None:
            raise CommandError(f"No shop with the slug {shop_slug!r}.")
        user = None
        if email:
            user = get_user_model().objects.filter(email__iexact=email).first()
            if user is None:
                raise CommandError(f"No user with the email {email!r}.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file at {file!r}.")

        with path.open("rb") as handle:
            try:
                job = import_job_create(shop=shop, created_by=user, upload=File(handle, name=path.name), enqueue=False)
            except CatalogError as exc:
                raise CommandError(f"{path.name} was rejected: {exc.message}") from exc
        self.stdout.write(f"Importing {job.total_rows} rows from {path.name} into {shop.slug} (job {job.pk})…")

        step = max(25, job.total_rows // 20)
        printed = {"rows": 0}

        def show_progress(progress_job: ImportJob) -> None:
            done = progress_job.processed_rows
            if done - printed["rows"] >= step or (done == progress_job.total_rows and done != printed["rows"]):
                printed["rows"] = done
                self.stdout.write(f"[{done}/{progress_job.total_rows}] rows")

        summary = import_job_process(job_id=job.pk, on_progress=show_progress)
        job.refresh_from_db()
        for error in job.errors[:ERRORS_PRINTED]:
            where = f"line {error['line']}" if error.get("line") else "file"
            if error.get("column"):
                where += f", {error['column']}"
            self.stderr.write(f"{where}: {error['message']}")
        if len(job.errors) > ERRORS_PRINTED:
            self.stderr.write(f"… and {len(job.errors) - ERRORS_PRINTED} more (see the import in the seller portal).")
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(f"Import failed: {job.errors[0]['message'] if job.errors else 'unknown error'}")

        imported = summary["products_created"] + summary["products_updated"]
        line = (
            f"Imported {imported} product{'s' if imported != 1 else ''} ({summary['products_updated']} updated), "
            f"{summary['rows_with_errors']} row{'s' if summary['rows_with_errors'] != 1 else ''} with errors"
        )
        style = self.style.WARNING if summary["rows_with_errors"] else self.style.SUCCESS
        self.stdout.write(style(line))

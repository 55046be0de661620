"""Look for unusual stock movements and record them as anomalies for the sellers to review.

    manage.py inventory_anomaly_scan [--shop SLUG] [--since-days N]

Each shop's movements of the last N days (default 2) are scored against its 90 days before
(``apps.inventory.anomalies``); what stands out becomes a stock anomaly with a reason and raises an
alert. Safe to run again: a movement is flagged at most once. The nightly Celery task
``inventory.anomaly_scan_nightly`` does the same for every shop.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.inventory.anomalies import DEFAULT_SCORING_DAYS, ShopScan, anomalies_scan_all
from apps.shops.models import Shop


class Command(BaseCommand):
    help = "Score recent stock movements of every shop (or one) and record the unusual ones as anomalies."

    def add_arguments(self, parser):
        parser.add_argument("--shop", dest="shop_slug", help="Scan only this shop (its slug).")
        parser.add_argument(
            "--since-days",
            type=int,
            default=DEFAULT_SCORING_DAYS,
            help=f"Score the movements of the last N days (default {DEFAULT_SCORING_DAYS}).",
        )

    def handle(self, *args, shop_slug: str | None = None, since_days: int = DEFAULT_SCORING_DAYS, **options):
        if since_days < 1:
            raise CommandError("--since-days must be at least 1.")
        shops = Shop.objects.exclude(status=Shop.Status.CLOSED).order_by("pk")
        if shop_slug:
            shops = Shop.objects.filter(slug=shop_slug)
            if not shops.exists():
                raise CommandError(f"No shop with the slug {shop_slug!r}.")
        total = shops.count()
        now = timezone.now()
        started = time.monotonic()
        done = 0

        def progress(scan: ShopScan) -> None:
            nonlocal done
            done += 1
            if scan.skipped:
                line = f"skipped: {scan.skipped}"
            else:
                line = f"{scan.scored} movements scored, {len(scan.anomalies)} anomalies"
                line += "".join(f"\n    #{a.pk} [{a.score}] {a.reason}" for a in scan.anomalies)
            self.stdout.write(f"[{done}/{total}] {scan.shop.slug}: {line}")

        scans = anomalies_scan_all(shops=shops, since=now - timedelta(days=since_days), now=now, progress=progress)
        created = sum(len(s.anomalies) for s in scans)
        skipped = sum(1 for s in scans if s.skipped)
        self.stdout.write(
            self.style.SUCCESS(
                f"Scanned {len(scans)} shop(s) in {time.monotonic() - started:.1f}s: {created} new anomalies, "
                f"{skipped} shop(s) skipped."
            )
        )

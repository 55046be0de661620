"""Verify the stock ledger: every item's levels equal the sums of its movements.

    manage.py inventory_check [--shop SLUG] [--chunk-size N]

For every stock item: ``on_hand`` must equal the sum of its movements' quantities, ``reserved`` the
sum of their reserved changes and the sum of its active reservations. Items are read in chunks by
id, each chunk in one query that sums in the database, so the check keeps a flat memory profile on
millions of movements. Exits with status 1, listing every drifted item, when anything disagrees.
"""

from __future__ import annotations

import math
import time

from django.core.management.base import BaseCommand, CommandError

from apps.inventory.models import StockItem, StockMovement
from apps.inventory.selectors import stock_ledger_chunk
from apps.shops.models import Shop

PROGRESS_LINES = 20


def _drift_lines(row: dict) -> list[str]:
    problems = []
    if row["on_hand"] != row["ledger_on_hand"]:
        problems.append(
            f"on hand is {row['on_hand']} but its movements add up to {row['ledger_on_hand']} "
            f"({row['on_hand'] - row['ledger_on_hand']:+d})"
        )
    if row["reserved"] != row["ledger_reserved"]:
        problems.append(
            f"reserved is {row['reserved']} but its movements add up to {row['ledger_reserved']} "
            f"({row['reserved'] - row['ledger_reserved']:+d})"
        )
    if row["reserved"] != row["held"]:
        problems.append(f"reserved is {row['reserved']} but its active reservations hold {row['held']}")
    return problems


class Command(BaseCommand):
    help = "Check that every stock item's on-hand and reserved levels equal the sums of its movements."

    def add_arguments(self, parser):
        parser.add_argument("--shop", dest="shop_slug", help="Check only this shop (its slug).")
        parser.add_argument("--chunk-size", type=int, default=2000, help="Stock items per query (default 2000).")

    def handle(self, *args, shop_slug: str | None = None, chunk_size: int = 2000, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        shop = None
        if shop_slug:
            shop = Shop.objects.filter(slug=shop_slug).first()
            if shop is None:
                raise CommandError(f"No shop with the slug {shop_slug!r}.")
        items = StockItem.objects.all() if shop is None else StockItem.objects.filter(shop=shop)
        movements = StockMovement.objects.all() if shop is None else StockMovement.objects.filter(shop=shop)
        total, movement_count = items.count(), movements.count()
        scope = f" of {shop.slug}" if shop else ""
        self.stdout.write(
            f"Checking {total:,} stock items{scope} ({movement_count:,} movements) in chunks of {chunk_size:,}…"
        )

        started = time.monotonic()
        every = max(1, math.ceil(math.ceil(total / chunk_size) / PROGRESS_LINES)) if total else 1
        checked, chunks, after_id = 0, 0, 0
        drifted: dict[int, list[str]] = {}
        while True:
            rows = stock_ledger_chunk(after_id=after_id, limit=chunk_size, shop=shop)
            if not rows:
                break
            for row in rows:
                problems = _drift_lines(row)
                if problems:
                    drifted[row["id"]] = problems
            checked += len(rows)
            chunks += 1
            after_id = rows[-1]["id"]
            if chunks % every == 0 or len(rows) < chunk_size:
                self.stdout.write(f"[{checked:,}/{total:,}] stock items checked, {len(drifted):,} drifted")
            if len(rows) < chunk_size:
                break

        elapsed = time.monotonic() - started
        if drifted:
            described = StockItem.objects.select_related("variant__product", "location", "shop").in_bulk(list(drifted))
            for item_id, problems in sorted(drifted.items()):
                item = described.get(item_id)
                label = f"{item.variant.sku} {item} (shop {item.shop.slug})" if item else "(deleted meanwhile)"
                self.stderr.write(f"stock item {item_id} {label}: " + "; ".join(problems))
            raise CommandError(
                f"{len(drifted):,} of {checked:,} stock items drifted from their movements ({elapsed:.1f} s): "
                "see the lines above."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {checked:,} stock items and {movement_count:,} movements in {elapsed:.1f} s: no drift."
            )
        )

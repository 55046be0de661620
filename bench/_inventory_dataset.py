"""The ``inventory`` benchmark's data: 201 shops, 10,005 stocked variants, 1,000,000 movements.

Not a benchmark itself (its name starts with ``_``). ``bench/inventory.py`` calls :func:`ensure`
inside its Django process (production settings, the benchmark database):

- **hot**: shop 1 sells one product in 5 variants, 1,000,000 units on hand each: every basket of
  the contention phase draws from these 5 stock items;
- **spread**: shops 2–201 sell 10 products in 5 variants each (50 variants a shop, 10,000 in all),
  10,000 units on hand each;
- one default location ("Main store") per shop and one stock item per variant;
- exactly 1,000,000 stock movements (ids 1 … 1,000,000, about 100 per item): a receipt first,
  then over a year checkouts (reservation + release, reservation + sale), restocks, returns,
  count adjustments and shrinkage, each with the levels after it, so every item's ``on_hand`` is
  the sum of its movements and its ``reserved`` (0: no checkout in progress) too. Fixed seed.

Rows go in with PostgreSQL ``COPY`` (movements as tuples, ~1 M rows); later runs find the data
(the database comment holds ``DATASET_VERSION``, and the 1,000,000 baseline movements are there)
and only :func:`reset` it: the movements and reservations a previous run's checkouts added are
deleted and the items' levels set back to those of their last baseline movement, so that every run
starts from the same 1,000,000-movement ledger. (The append-only trigger refuses UPDATEs of
movements; these DELETEs are the benchmark's own clean-up of its own database.)
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

DATASET_VERSION = "localbazaar inventory bench data v1"
SEED = 20260202
HOT_SHOP_ID = 1
HOT_VARIANTS = 5
SPREAD_SHOPS = 200
PRODUCTS_PER_SHOP = 10
VARIANTS_PER_PRODUCT = 5
SPREAD_VARIANTS = SPREAD_SHOPS * PRODUCTS_PER_SHOP * VARIANTS_PER_PRODUCT  # 10,000
MOVEMENTS = 1_000_000
HOT_ON_HAND = 1_000_000  # per hot item: a 10 s run sells a few thousand units of each
SPREAD_ON_HAND = 10_000
SIZES = ["XS", "S", "M", "L", "XL"]
THINGS = ["batik shirt", "rattan basket", "kaya jar", "celadon bowl", "songket pouch", "pandan cake", "kopi beans"]


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def _copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def catalog() -> dict[str, object]:
    """What the load phases draw baskets from: ``{"hot": {shop_id: [variant ids]}, "spread": {...}}``."""
    from apps.inventory.models import StockItem

    hot: dict[int, list[int]] = {}
    spread: dict[int, list[int]] = {}
    for shop_id, variant_id in StockItem.objects.order_by("variant_id").values_list("shop_id", "variant_id"):
        (hot if shop_id == HOT_SHOP_ID else spread).setdefault(shop_id, []).append(variant_id)
    return {"hot": hot, "spread": spread}


def _already_built() -> bool:
    from django.db import connection

    from apps.inventory.models import StockItem, StockMovement

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        (comment,) = cursor.fetchone()
    return (
        comment == DATASET_VERSION
        and StockItem.objects.count() == HOT_VARIANTS + SPREAD_VARIANTS
        and StockMovement.objects.filter(pk__lte=MOVEMENTS).count() == MOVEMENTS
    )


def _movement_history(rng: random.Random, count: int, opening: int):
    """``count`` movements of one item as (kind, quantity, reserved_delta, on_hand_after,
    reserved_after, reason, reference): a receipt of ``opening`` units, then a year of trade."""
    on_hand = opening
    out = [("receipt", opening, 0, on_hand, 0, "opening stock", "PO-0001")]
    order = 1000
    while len(out) < count:
        roll = rng.random()
        if roll < 0.75 and count - len(out) >= 2:  # a checkout: hold, then sold or given back
            order += 1
            ref = f"CO-{order}"
            units = rng.choice((1, 1, 1, 2, 2, 3))
            out.append(("reservation", 0, units, on_hand, units, "checkout", ref))
            if roll < 0.35:
                on_hand -= units
                out.append(("sale", -units, -units, on_hand, 0, "order confirmed", ref))
            else:
                out.append(("release", 0, -units, on_hand, 0, "checkout abandoned", ref))
        elif roll < 0.86:
            units = rng.randint(5, 60)
            on_hand += units
            out.append(("receipt", units, 0, on_hand, 0, "restock", f"PO-{order}"))
        elif roll < 0.92:
            on_hand += 1
            out.append(("return", 1, 0, on_hand, 0, "customer return", f"CO-{order}"))
        elif roll < 0.97:
            change = rng.choice((-2, -1, 1, 2))
            on_hand += change
            out.append(("adjustment", change, 0, on_hand, 0, "stock count", ""))
        else:
            on_hand -= 1
            out.append(("shrinkage", -1, 0, on_hand, 0, "damaged in transit", ""))
    return out


def build() -> None:
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from apps.catalog.models import Product, Variant
    from apps.inventory.models import Reservation, StockItem, StockLocation, StockMovement
    from apps.shops.models import Shop

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    year_ago = now - timedelta(days=365)
    started = time.monotonic()
    models = [Shop, Product, Variant, StockLocation, StockItem, Reservation, StockMovement]
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor, for COPY
        tables = ", ".join(f'"{m._meta.db_table}"' for m in models)
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

        shop_ids = [HOT_SHOP_ID, *range(HOT_SHOP_ID + 1, HOT_SHOP_ID + 1 + SPREAD_SHOPS)]
        _copy_rows(
            cursor,
            Shop._meta.db_table,
            ["id", "created_at", "updated_at", "name", "slug", "tagline", "story", "email", "phone"]
            + ["address_line1", "address_line2", "city", "postcode", "country", "latitude", "longitude"]
            + ["currency", "time_zone", "delivery_radius_km", "offers_pickup", "tenancy", "status"],
            (
                (
                    sid, year_ago, year_ago, "Flash Sale Corner" if sid == HOT_SHOP_ID else f"Bench Shop {sid}",
                    f"inventory-bench-{sid}", "", "", "", "", f"{sid} Bench Road", "", "Singapore",
                    f"{100000 + sid}", "SG", Decimal("1.300000"), Decimal("103.800000"), "SGD",
                    "Asia/Singapore", Decimal("5"), True, "shared", "active",
                )
                for sid in shop_ids
            ),
        )  # fmt: skip
        _copy_rows(
            cursor,
            StockLocation._meta.db_table,
            ["id", "created_at", "updated_at", "shop_id", "name", "kind", "is_default"],
            ((sid, year_ago, year_ago, sid, "Main store", "store", True) for sid in shop_ids),
        )

        # Products, variants and stock items: (shop, variants) per product; location id = shop id.
        products, variants, items = [], [], []
        plan = [(HOT_SHOP_ID, HOT_VARIANTS)] + [
            (sid, VARIANTS_PER_PRODUCT) for sid in shop_ids[1:] for _ in range(PRODUCTS_PER_SHOP)
        ]
        for product_id, (sid, n_variants) in enumerate(plan, start=1):
            title = f"{rng.choice(THINGS).capitalize()} {product_id}"
            products.append(
                (product_id, year_ago, year_ago, sid, None, title, f"product-{product_id}", "", "active", year_ago)
            )
            for position in range(n_variants):
                vid = len(variants) + 1
                variants.append(
                    (vid, year_ago, year_ago, product_id, sid, f"INV-{vid:06d}", f'{{"size": "{SIZES[position]}"}}',
                     Decimal(rng.randint(300, 9000)) / 100, None, 200, position, True)
                )  # fmt: skip
                items.append((vid, sid, vid))  # item id = variant id
        _copy_rows(
            cursor,
            Product._meta.db_table,
            ["id", "created_at", "updated_at", "shop_id", "category_id", "title", "slug", "description"]
            + ["status", "published_at"],
            products,
        )
        _copy_rows(
            cursor,
            Variant._meta.db_table,
            ["id", "created_at", "updated_at", "product_id", "shop_id", "sku", "options", "price"]
            + ["compare_at_price", "weight_grams", "position", "is_active"],
            variants,
        )
        _progress(f"{len(shop_ids)} shops, {len(products):,} products, {len(variants):,} variants")

        # Movements: exactly MOVEMENTS, spread evenly over the items; the items' levels are the sums.
        per_item, extra = divmod(MOVEMENTS, len(items))
        levels = []
        movement_columns = [
            "id", "shop_id", "item_id", "kind", "quantity", "reserved_delta", "on_hand_after", "reserved_after",
            "actor_id", "reason", "reference", "reservation_id", "created_at",
        ]  # fmt: skip
        span = (now - timedelta(days=1) - year_ago).total_seconds()

        def movement_rows():
            next_id = 1
            for index, (item_id, sid, _vid) in enumerate(items):
                count = per_item + (1 if index < extra else 0)
                opening = HOT_ON_HAND if sid == HOT_SHOP_ID else SPREAD_ON_HAND
                history = _movement_history(rng, count, opening)
                step = span / count
                offset = rng.uniform(0, step)
                for k, (kind, qty, delta, on_hand, reserved, reason, ref) in enumerate(history):
                    created = year_ago + timedelta(seconds=offset + k * step)
                    yield (next_id, sid, item_id, kind, qty, delta, on_hand, reserved, None, reason, ref, None, created)
                    next_id += 1
                levels.append((item_id, history[-1][3], history[-1][4]))
                if (index + 1) % 2000 == 0:
                    _progress(f"  movements of {index + 1:,}/{len(items):,} items ({time.monotonic() - started:.0f} s)")

        # Items first (levels filled in after the movements, in the same transaction).
        _copy_rows(
            cursor,
            StockItem._meta.db_table,
            ["id", "created_at", "updated_at", "shop_id", "variant_id", "location_id", "on_hand", "reserved"]
            + ["low_stock_threshold"],
            ((iid, year_ago, now, sid, vid, sid, 0, 0, 0) for iid, sid, vid in items),
        )
        _copy_rows(cursor, StockMovement._meta.db_table, movement_columns, movement_rows())
        _progress(f"copied {MOVEMENTS:,} movements ({time.monotonic() - started:.0f} s)")
        cursor.execute("CREATE TEMP TABLE bench_levels (item_id bigint, on_hand int, reserved int) ON COMMIT DROP")
        _copy_rows(cursor, "bench_levels", ["item_id", "on_hand", "reserved"], levels)
        cursor.execute(
            "UPDATE inventory_stockitem i SET on_hand = l.on_hand, reserved = l.reserved "
            "FROM bench_levels l WHERE l.item_id = i.id"
        )
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
        name = connection.ops.quote_name(connection.settings_dict["NAME"])
        cursor.execute(f"COMMENT ON DATABASE {name} IS %s", [DATASET_VERSION])
    _progress(f"built and analysed in {time.monotonic() - started:.0f} s")


def reset() -> dict[str, int]:
    """Bring the ledger back to its 1,000,000 baseline movements (see the module docstring)."""
    from django.db import connection, transaction

    from apps.inventory.models import Reservation, StockItem, StockMovement

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM inventory_stockmovement WHERE id > %s", [MOVEMENTS])
        removed = cursor.rowcount
        cursor.execute("DELETE FROM inventory_reservation")
        cursor.execute(
            "UPDATE inventory_stockitem i SET on_hand = m.on_hand_after, reserved = m.reserved_after "
            "FROM (SELECT DISTINCT ON (item_id) item_id, on_hand_after, reserved_after FROM inventory_stockmovement "
            "      WHERE id <= %s ORDER BY item_id, id DESC) m "
            "WHERE m.item_id = i.id AND (i.on_hand, i.reserved) IS DISTINCT FROM (m.on_hand_after, m.reserved_after)",
            [MOVEMENTS],
        )
        restored = cursor.rowcount
    if removed:
        with connection.cursor() as cursor:
            for model in (StockMovement, Reservation, StockItem):
                cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    _progress(
        f"reset to the baseline ledger: {removed:,} movements of earlier runs removed, {restored:,} items' levels "
        f"restored ({time.monotonic() - started:.1f} s)"
    )
    return {"removed": removed, "restored": restored}


def ensure() -> float:
    """Build the data set unless it is there, then reset it to the baseline; returns build seconds (0: reused)."""
    if _already_built():
        _progress("data set already built: reused")
        reset()
        return 0.0
    _progress(
        f"building {HOT_VARIANTS + SPREAD_VARIANTS:,} stock items and {MOVEMENTS:,} movements "
        "(once; later runs reuse them)"
    )
    started = time.monotonic()
    build()
    return time.monotonic() - started


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    ensure()

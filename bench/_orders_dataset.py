"""The ``orders`` benchmark's Django side (not a benchmark itself: its name starts with ``_``).

``bench/orders.py`` runs this file as a script with the site's environment (production settings,
the benchmark's own database, which it makes afresh for every run):

``prepare OUT_FILE``
    100 shops (open, pickup), each with 10 products in 2 variants (2,000 variants, 1,000,000 units
    received into each through ``inventory.stock_receive``), an API key with the ``orders`` scope per
    shop, and a staff user who uploads the file. Writes the batch file of ``BENCH_ORDERS_FILE_ORDERS``
    (10,000) orders spread over the 100 shops to OUT_FILE (the documented JSON format,
    ``apps/orders/ORDER_FILES.md``): POS, kiosk and phone-desk orders of 1 to 3 lines, half paid at the
    till, half pay on pickup. Prints ``DATASET {json}`` with the shops' slugs, API keys and SKUs.
``ingest FILE``
    Uploads FILE as the staff user through ``order_file_receive`` (stored, then parsed and processed
    by the Celery workers). Prints ``INGEST {json}`` with the file's id and the time it was received.
``verify``
    What the database holds: incoming orders by status, orders by status and channel, units ordered
    against units the ledger sold, invoices issued, duplicates, and ``inventory_check``. Prints
    ``VERIFY {json}``.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SHOPS = 100
PRODUCTS_PER_SHOP = 10
VARIANTS_PER_PRODUCT = 2
ON_HAND = 1_000_000
SEED = 20261204
STAFF_EMAIL = "ops@orders-bench.test"
CHANNELS = ["pos", "kiosk", "phone"]


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def prepare(out_file: str) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.catalog.models import Product, Variant
    from apps.inventory.models import StockLocation
    from apps.inventory.services import stock_receive
    from apps.shops.models import Shop
    from apps.shops.services import api_key_create

    rng = random.Random(SEED)
    started = time.monotonic()
    now = timezone.now()
    with transaction.atomic():
        staff = User.objects.create(email=STAFF_EMAIL, password="!bench-unusable", is_staff=True)  # noqa: S106
        shops = Shop.objects.bulk_create(
            Shop(
                name=f"Orders Bench Shop {n}",
                slug=f"orders-bench-{n}",
                email=f"shop{n}@orders-bench.test",
                address_line1=f"{n} Bench Road",
                postcode=f"{100000 + n}",
                latitude=Decimal("1.300000") + Decimal(rng.randint(-9000, 9000)) / 100000,
                longitude=Decimal("103.800000") + Decimal(rng.randint(-15000, 15000)) / 100000,
                currency="SGD",
                offers_pickup=True,
                status=Shop.Status.ACTIVE,
            )
            for n in range(1, SHOPS + 1)
        )
        StockLocation.objects.bulk_create(
            StockLocation(shop=shop, name="Main store", kind=StockLocation.Kind.STORE, is_default=True)
            for shop in shops
        )
        products = Product.objects.bulk_create(
            Product(
                shop=shop,
                title=f"Bench product {shop.pk}-{k}",
                slug=f"bench-product-{shop.pk}-{k}",
                description="A product of the orders benchmark.",
                status=Product.Status.ACTIVE,
                published_at=now,
            )
            for shop in shops
            for k in range(1, PRODUCTS_PER_SHOP + 1)
        )
        variants = Variant.objects.bulk_create(
            Variant(
                product=product,
                shop=product.shop,
                sku=f"OB-{product.pk}-{k}",
                options={"size": "SML"[k]},
                price=Decimal(rng.randint(300, 9000)) / 100,
                weight_grams=rng.randint(50, 2000),
                position=k,
                is_active=True,
            )
            for product in products
            for k in range(VARIANTS_PER_PRODUCT)
        )
        for variant in variants:
            stock_receive(variant=variant, quantity=ON_HAND, reason="opening stock", reference="bench-opening")
        keys = {}
        for shop in shops:
            _key, raw = api_key_create(shop=shop, created_by=staff, name="POS", scopes=["orders"])
            keys[shop.slug] = raw
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    _progress(
        f"{len(shops)} shops, {len(variants):,} variants with {ON_HAND:,} units each, an API key per shop "
        f"({time.monotonic() - started:.0f} s)"
    )
    by_shop: dict[str, list[list[str]]] = {}
    for variant in Variant.objects.select_related("shop").order_by("pk"):
        by_shop.setdefault(variant.shop.slug, []).append([variant.sku, str(variant.price)])
    count = int(os.environ.get("BENCH_ORDERS_FILE_ORDERS", "10000"))
    orders = [
        _order(rng, slug, skus, f"FILE-{n:06d}") for n in range(1, count + 1) for slug, skus in [_pick(rng, by_shop)]
    ]
    Path(out_file).write_text(json.dumps({"orders": orders}))
    _progress(f"batch file of {len(orders):,} orders over {SHOPS} shops: {out_file}")
    return {
        "shops": [{"slug": slug, "key": keys[slug], "skus": skus} for slug, skus in by_shop.items()],
        "file_orders": len(orders),
        "build_s": round(time.monotonic() - started, 1),
    }


def _pick(rng: random.Random, by_shop: dict) -> tuple[str, list]:
    slug = rng.choice(sorted(by_shop))
    return slug, by_shop[slug]


def _order(rng: random.Random, slug: str, skus: list, ref: str) -> dict:
    lines = [
        {"sku": sku, "quantity": rng.randint(1, 3), "unit_price": price}
        for sku, price in rng.sample(skus, rng.randint(1, 3))
    ]
    return {
        "shop": slug,
        "channel": rng.choice(CHANNELS),
        "external_ref": ref,
        "currency": "SGD",
        "customer": {"name": "Walk-in customer", "email": f"{ref.lower()}@customers.orders-bench.test"},
        "fulfilment": "pickup",
        "payment": rng.choice(["paid", "pay_on_pickup"]),
        "lines": lines,
    }


def ingest(path: str) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.accounts.models import User
    from apps.orders.services_files import order_file_receive

    staff = User.objects.get(email=STAFF_EMAIL)
    data = Path(path).read_bytes()
    upload = SimpleUploadedFile(Path(path).name, data, content_type="application/json")
    received_at = time.time()
    order_file = order_file_receive(uploaded_file=upload, user=staff, label=staff.email)
    return {"file_id": order_file.pk, "received_at": received_at, "bytes": len(data)}


def verify() -> dict:
    from django.core.management import CommandError, call_command
    from django.db.models import Count, Sum

    from apps.inventory.models import StockMovement
    from apps.orders.models import Order, OrderDocument, OrderIntake, OrderLine

    out: dict = {}
    out["intakes"] = dict(OrderIntake.objects.values_list("status").annotate(n=Count("id")).order_by())
    out["orders_by_status"] = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
    out["orders_by_channel"] = dict(Order.objects.values_list("channel").annotate(n=Count("id")).order_by())
    out["orders"] = Order.objects.count()
    duplicates = (
        Order.objects.exclude(external_ref="")
        .values("shop_id", "channel", "external_ref")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    out["duplicate_orders"] = duplicates
    out["units_ordered"] = OrderLine.objects.aggregate(n=Sum("quantity"))["n"] or 0
    out["units_sold_ledger"] = abs(StockMovement.objects.filter(kind="sale").aggregate(n=Sum("quantity"))["n"] or 0)
    out["invoices"] = OrderDocument.objects.filter(kind="invoice").count()
    buffer = io.StringIO()
    try:
        call_command("inventory_check", stdout=buffer, stderr=buffer)
        out["inventory_check_failed"] = 0
    except CommandError as exc:
        out["inventory_check_failed"] = 1
        buffer.write(str(exc))
    out["inventory_check_output"] = buffer.getvalue()[-500:]
    return out


def main() -> None:
    sys.path.insert(0, str(PROJECT_DIR))
    os.chdir(PROJECT_DIR)
    import django

    django.setup()
    command, *args = sys.argv[1:]
    if command == "prepare":
        print("DATASET " + json.dumps(prepare(*args)), flush=True)
    elif command == "ingest":
        print("INGEST " + json.dumps(ingest(*args)), flush=True)
    elif command == "verify":
        print("VERIFY " + json.dumps(verify()), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()

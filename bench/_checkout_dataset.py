"""The ``checkout`` benchmark's Django side: its data set, each run's reset, and the checks after the load.

Not a benchmark itself (its name starts with ``_``). ``bench/checkout.py`` runs this file as a
script with the site's environment (production settings, the benchmark's own database, STRIPE_*
pointed at the benchmark's localstripe):

``prepare``
    Builds the data set once (later runs find it: the database comment holds ``DATASET_VERSION``)
    — 200 shops (open, pickup), each with 5 products in 2 variants (2,000 variants, 1,000,000 units
    received into each through ``inventory.stock_receive``, so nothing sells out and the ledger is
    the services' own), and 2,048 + 1 buyers, each with a verified primary email, a default
    address, a Stripe customer, a saved card and 1-Click on (address + card). Then resets what an
    earlier run added: every checkout, order, cart, payment, payout entry, reservation and stock
    movement but the opening receipts are deleted and the items' levels set back to the receipts.
    localstripe keeps its objects in memory only, so each run makes each buyer's customer and card
    (a PaymentMethod attached to the customer) there again and writes their ids into the buyer's
    ``StripeCustomer``/``SavedCard`` rows. Finally one signed-in session per buyer is written
    server-side (``SessionStore``: no password hashing, no login round trip in the loop). Prints
    ``DATASET {json}`` with the sessions, the Stripe ids and the variants' product pages.

``verify``
    After the load: what the database holds (checkouts and orders of each channel, units ordered
    against units the ledger sold, reservations left), ``inventory_check`` (no oversell, no drift),
    the email tasks queued, then a profile of each step in this one process against the same
    database (Django's test client, no contention): queries per request with
    ``CaptureQueriesContext``, wall and CPU time per request, and a cProfile of the checkout and
    1-Click flows grouped by where the time goes. Prints ``VERIFY {json}``; the SQL of one checkout
    POST and one 1-Click POST goes to ``bench/results/checkout-queries.txt``.

The buyers' password is unusable (no hash is ever computed). Stock movements are deleted only here,
in the benchmark's own database (the append-only trigger refuses UPDATEs, not DELETEs).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
DATASET_VERSION = "localbazaar checkout bench data v1"
SHOPS = 200
PRODUCTS_PER_SHOP = 5
VARIANTS_PER_PRODUCT = 2
LOAD_BUYERS = 2048  # the load clients' buyers (split between the clients)
BUYERS = LOAD_BUYERS + 1  # + the in-process profile's buyer
ON_HAND = 1_000_000
OPENING_REFERENCE = "bench-opening"
SEED = 20260303
SIZES = ["S", "M", "L"]
THINGS = ["batik shirt", "rattan basket", "kaya jar", "celadon bowl", "songket pouch", "pandan cake", "kopi beans"]
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


# --- the data set ----------------------------------------------------------------------------------
def _already_built() -> bool:
    from django.db import connection

    from apps.accounts.models import User

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        (comment,) = cursor.fetchone()
    return comment == DATASET_VERSION and User.objects.filter(email__endswith="@checkout-bench.test").count() == BUYERS


def build() -> None:
    from allauth.account.models import EmailAddress
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.accounts.models import Address, User
    from apps.catalog.models import Product, Variant
    from apps.inventory.models import StockLocation
    from apps.inventory.services import stock_receive
    from apps.orders.models import OneClickSettings
    from apps.payments.models import SavedCard, StripeCustomer
    from apps.shops.models import Shop

    rng = random.Random(SEED)
    started = time.monotonic()
    now = timezone.now()
    with transaction.atomic():
        shops = Shop.objects.bulk_create(
            Shop(
                name=f"Checkout Bench Shop {n}",
                slug=f"checkout-bench-{n}",
                email=f"shop{n}@checkout-bench.test",
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
                title=f"{rng.choice(THINGS).capitalize()} {shop.pk}-{k}",
                slug=f"bench-product-{shop.pk}-{k}",
                description="A product of the checkout benchmark.",
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
                sku=f"CB-{product.pk}-{SIZES[k]}",
                options={"size": SIZES[k]},
                price=Decimal(rng.randint(300, 9000)) / 100,
                position=k,
                is_active=True,
            )
            for product in products
            for k in range(VARIANTS_PER_PRODUCT)
        )
        _progress(f"{len(shops)} shops, {len(products):,} products, {len(variants):,} variants")
        for variant in variants:  # the inventory app's own receipts: items, movements and levels agree
            stock_receive(variant=variant, quantity=ON_HAND, reason="opening stock", reference=OPENING_REFERENCE)
        _progress(f"received {ON_HAND:,} units of each variant ({time.monotonic() - started:.0f} s)")

        users = User.objects.bulk_create(
            User(
                email=f"buyer{n}@checkout-bench.test",
                password=f"!bench-unusable-{n}",  # unusable: nobody signs in with a password here
                first_name="Buyer",
                last_name=str(n),
            )
            for n in range(1, BUYERS + 1)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users
        )
        addresses = Address.objects.bulk_create(
            Address(
                user=user,
                label="Home",
                recipient_name=f"Buyer {n}",
                phone="+65 9123 4567",
                line1=f"Blk {100 + n % 800} Bench Avenue {n % 12 + 1}",
                line2=f"#0{n % 9 + 1}-{n % 90 + 10}",
                postcode="168898",
                is_default=True,
            )
            for n, user in enumerate(users, start=1)
        )
        StripeCustomer.objects.bulk_create(
            StripeCustomer(user=user, stripe_customer_id=f"cus_bench_placeholder_{user.pk}") for user in users
        )
        cards = SavedCard.objects.bulk_create(
            SavedCard(
                user=user,
                stripe_payment_method_id=f"pm_bench_placeholder_{user.pk}",
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2030,
                is_default=True,
            )
            for user in users
        )
        OneClickSettings.objects.bulk_create(
            OneClickSettings(user=user, enabled=True, address=address, card=card)
            for user, address, card in zip(users, addresses, cards, strict=True)
        )
        _progress(f"{len(users):,} buyers with a verified email, an address, a saved card and 1-Click on")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        name = connection.ops.quote_name(connection.settings_dict["NAME"])
        cursor.execute(f"COMMENT ON DATABASE {name} IS %s", [DATASET_VERSION])
    _progress(f"data set built in {time.monotonic() - started:.0f} s")


def _run_tables():
    """The tables a run writes to (besides stock items and movements), emptied before each run."""
    from django.apps import apps

    from apps.orders.models import OneClickSettings
    from apps.payments.models import SavedCard, StripeCustomer

    keep = {OneClickSettings, SavedCard, StripeCustomer}
    return [m for label in ("orders", "payments") for m in apps.get_app_config(label).get_models() if m not in keep]


def reset() -> None:
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction

    from apps.inventory.models import Reservation, StockItem, StockMovement

    started = time.monotonic()
    tables = [m._meta.db_table for m in _run_tables()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{StockMovement._meta.db_table}" WHERE reference <> %s',  # noqa: S608  (model table names)
            [OPENING_REFERENCE],
        )
        movements = cursor.rowcount
        cursor.execute(f'DELETE FROM "{Reservation._meta.db_table}"')  # noqa: S608
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        cursor.execute(
            f'UPDATE "{StockItem._meta.db_table}" SET on_hand = %s, reserved = 0, low_stock_alerted_at = NULL '  # noqa: S608
            "WHERE on_hand <> %s OR reserved <> 0",
            [ON_HAND, ON_HAND],
        )
        items = cursor.rowcount
        cursor.execute(f'DELETE FROM "{Session._meta.db_table}"')  # noqa: S608
    with connection.cursor() as cursor:
        for table in (StockMovement._meta.db_table, Reservation._meta.db_table, StockItem._meta.db_table, *tables):
            cursor.execute(f'VACUUM ANALYZE "{table}"')
    _progress(
        f"reset: {movements:,} movements of earlier runs removed, {items:,} items' levels restored, "
        f"orders/payments/carts emptied ({time.monotonic() - started:.1f} s)"
    )


def _stripe_ids(buyers: list[tuple[int, str]]) -> dict[int, tuple[str, str]]:
    """A customer and an attached card at localstripe for each (user id, email): {user id: (cus, pm)}."""
    from apps.payments.stripe_gateway import stripe_client

    client = stripe_client()

    def one(buyer: tuple[int, str]) -> tuple[int, tuple[str, str]]:
        user_id, email = buyer
        customer = client.v1.customers.create(params={"email": email, "metadata": {"user_id": str(user_id)}})
        method = client.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
        client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
        return user_id, (customer.id, method.id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, buyers))


def _update_from_values(table: str, key: str, column: str, pairs: list[tuple[int, str]]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for start in range(0, len(pairs), 1000):
            chunk = pairs[start : start + 1000]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f'UPDATE "{table}" t SET "{column}" = v.value FROM (VALUES {values}) AS v(id, value) '  # noqa: S608
                f'WHERE t."{key}" = v.id',
                [x for pair in chunk for x in pair],
            )


def _sessions(users) -> dict[int, str]:
    """One signed-in session per user, written directly: {user id: session key}."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    backend = "django.contrib.auth.backends.ModelBackend"
    keys, rows = {}, []
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: user.get_session_auth_hash()}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=1000)
    return keys


def prepare() -> dict:
    from apps.accounts.models import User
    from apps.catalog.models import Variant
    from apps.payments.models import SavedCard, StripeCustomer

    started = time.monotonic()
    build_s = 0.0
    if _already_built():
        _progress("data set already built: reused")
    else:
        _progress(f"building the data set (once; later runs reuse it): {SHOPS} shops, {BUYERS:,} buyers")
        build()
        build_s = time.monotonic() - started
    reset()

    users = list(User.objects.filter(email__endswith="@checkout-bench.test").order_by("pk"))
    t0 = time.monotonic()
    ids = _stripe_ids([(u.pk, u.email) for u in users])
    _update_from_values(
        StripeCustomer._meta.db_table, "user_id", "stripe_customer_id", [(k, v[0]) for k, v in ids.items()]
    )
    _update_from_values(
        SavedCard._meta.db_table, "user_id", "stripe_payment_method_id", [(k, v[1]) for k, v in ids.items()]
    )
    _progress(
        f"localstripe: a customer and an attached card for each of the {len(ids):,} buyers "
        f"({time.monotonic() - t0:.1f} s)"
    )
    t0 = time.monotonic()
    sessions = _sessions(users)
    _progress(f"{len(sessions):,} signed-in sessions written ({time.monotonic() - t0:.1f} s)")

    variants = [
        [v.pk, v.shop_id, f"/shops/{v.shop.slug}/{v.product.slug}/", str(v.price)]
        for v in Variant.objects.select_related("shop", "product").order_by("pk")
    ]
    buyers = [[u.pk, sessions[u.pk], ids[u.pk][0], ids[u.pk][1]] for u in users]
    return {
        "buyers": buyers[:LOAD_BUYERS],
        "profile_buyer": buyers[LOAD_BUYERS],
        "variants": variants,
        "shops": SHOPS,
        "build_s": round(build_s, 1),
        "prepare_s": round(time.monotonic() - started, 1),
    }


# --- after the load ----------------------------------------------------------------------------------
def _ledger_check() -> dict:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    started = time.monotonic()
    try:
        call_command("inventory_check", stdout=out, stderr=err)
        failure = ""
    except CommandError as exc:
        failure = str(exc)
    elapsed = time.monotonic() - started
    drift = sum(1 for line in err.getvalue().splitlines() if line.startswith("stock item "))
    last = (failure or (out.getvalue().strip().splitlines() or [""])[-1]).strip()
    _progress(f"inventory_check ({elapsed:.2f} s): {last}")
    if failure:
        _progress(f"WARNING: the ledger drifted:\n{err.getvalue()[:3000]}")
    return {"drift": drift, "failed": 1 if failure else 0, "seconds": elapsed}


def _database_counts() -> dict:
    from django.db.models import Count, Q, Sum

    from apps.inventory.models import Reservation, StockItem, StockMovement
    from apps.orders.models import Channel, Checkout, Order, OrderLine

    by_channel = {
        row["channel"]: row
        for row in Checkout.objects.values("channel").annotate(
            checkouts=Count("pk"),
            placed=Count("pk", filter=Q(status=Checkout.Status.PLACED)),
            awaiting=Count("pk", filter=Q(status=Checkout.Status.AWAITING_PAYMENT)),
        )
    }
    orders = {
        row["channel"]: row
        for row in Order.objects.values("channel").annotate(
            orders=Count("pk"),
            sold=Count("pk", filter=Q(status__in=[Order.Status.CONFIRMED, Order.Status.PAID])),
        )
    }
    sold_statuses = [Order.Status.CONFIRMED, Order.Status.PAID]
    units_ordered = OrderLine.objects.filter(order__status__in=sold_statuses).aggregate(n=Sum("quantity"))["n"] or 0
    units_sold = -(StockMovement.objects.filter(kind=StockMovement.Kind.SALE).aggregate(n=Sum("quantity"))["n"] or 0)
    web, one_click = by_channel.get(Channel.WEB, {}), by_channel.get(Channel.ONE_CLICK, {})
    return {
        "db_checkouts_web": web.get("checkouts", 0),
        "db_checkouts_web_placed": web.get("placed", 0),
        "db_orders_web": orders.get(Channel.WEB, {}).get("orders", 0),
        "db_orders_web_confirmed": orders.get(Channel.WEB, {}).get("sold", 0),
        "db_checkouts_one_click": one_click.get("checkouts", 0),
        "db_checkouts_one_click_placed": one_click.get("placed", 0),
        "db_checkouts_one_click_awaiting": one_click.get("awaiting", 0),
        "db_orders_one_click": orders.get(Channel.ONE_CLICK, {}).get("orders", 0),
        "db_orders_one_click_paid": orders.get(Channel.ONE_CLICK, {}).get("sold", 0),
        "db_units_ordered": units_ordered,
        "db_units_sold_ledger": units_sold,
        "db_reservations_active": Reservation.objects.filter(status=Reservation.Status.ACTIVE).count(),
        "db_reserved_units_left": StockItem.objects.aggregate(n=Sum("reserved"))["n"] or 0,
        "db_negative_on_hand_items": StockItem.objects.filter(on_hand__lt=0).count(),
    }


def _emails_queued() -> int:
    """Email tasks waiting in the Celery queue (no worker runs: one per order placed)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return int(client.llen(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")))


# Where a profile's time goes, by the file a function lives in (first match wins).
AREAS = [
    ("psycopg (PostgreSQL round trips)", ("/psycopg/", "/psycopg_pool/", "psycopg")),
    (
        "stripe client + HTTP to localstripe",
        ("/stripe/", "/urllib3/", "/requests/", "http/client.py", "socket.py", "ssl.py"),
    ),
    ("Django ORM (query building, models)", ("/django/db/",)),
    ("Django templates", ("/django/template/", "/django/templatetags/")),
    ("Django forms/validation", ("/django/forms/", "/django/core/validators.py")),
    ("Django other (request, middleware, sessions, urls, i18n)", ("/django/",)),
    ("Celery/kombu/redis (queueing emails)", ("/celery/", "/kombu/", "/redis/", "/vine/")),
    ("LocalBazaar apps/", ("/apps/",)),
    ("other third-party", ("site-packages",)),
]


def _area(filename: str) -> str:
    for name, needles in AREAS:
        if any(needle in filename for needle in needles):
            return name
    return "Python stdlib / builtins"


def _profile_areas(profile, rounds: int) -> list[tuple[str, float]]:
    """Self time (tottime) per area, ms per round."""
    import pstats

    stats = pstats.Stats(profile)
    totals: Counter[str] = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        totals[_area(filename)] += tottime
    return [(name, seconds * 1000 / rounds) for name, seconds in totals.most_common()]


def _top_functions(profile, key: str, limit: int, only_apps: bool = False) -> list[str]:
    import pstats

    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        if only_apps and "/apps/" not in filename:
            continue
        short = filename.split("/site-packages/")[-1].split(str(PROJECT_DIR) + "/")[-1]
        rows.append((tottime if key == "tottime" else cumtime, ncalls, f"{short}:{line}({name})"))
    rows.sort(reverse=True)
    return rows[:limit]


def profile(rounds: int, buyer: list, variants: list) -> dict:
    """Each step of both flows in this process: queries, wall and CPU time per request; cProfile."""
    import cProfile

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user_id, session_key, _cus, _pm = buyer
    rng = random.Random("profile")
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = session_key
    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    sql: dict[str, list[str]] = {}
    statuses: Counter[str] = Counter()

    def timed(step: str, method: str, path: str, data=None, expect=(200, 302)):
        with CaptureQueriesContext(connection) as queries:
            c0, t0 = time.process_time(), time.perf_counter()
            response = getattr(client, method)(path, data) if data is not None else getattr(client, method)(path)
            t1, c1 = time.perf_counter(), time.process_time()
        statuses[f"{step} {response.status_code}"] += 1
        if response.status_code not in expect:
            raise RuntimeError(f"profile: {method.upper()} {path} answered {response.status_code}")
        steps[step]["queries"].append(len(queries))
        steps[step]["ms"].append((t1 - t0) * 1000)
        steps[step]["cpu_ms"].append((c1 - c0) * 1000)
        sql.setdefault(step, [q["sql"] for q in queries.captured_queries])
        return response

    by_shop = defaultdict(list)
    for variant in variants:
        by_shop[variant[1]].append(variant)
    shop_ids = sorted(by_shop)

    def checkout_round():
        first = rng.choice(variants)
        basket = [first]
        if rng.random() < 0.5:
            pool = by_shop[first[1]] if rng.random() < 0.5 else by_shop[rng.choice(shop_ids)]
            basket.append(rng.choice([v for v in pool if v[0] != first[0]] or pool))
        for variant in basket:
            timed("cart_add", "post", "/cart/add/", {"variant": variant[0], "quantity": 1})
        page = timed("checkout_get", "get", "/checkout/", expect=(200,)).content.decode()
        form = _checkout_form(page)
        response = timed("checkout_post", "post", "/checkout/", form, expect=(302,))
        if "/pay/" in response["Location"]:
            raise RuntimeError("profile: a pay-on-pickup checkout was sent to the pay page")

    def one_click_round():
        variant = rng.choice(variants)
        page = timed("product_page", "get", variant[2], expect=(200,)).content.decode()
        nonce = _nonce(page)
        timed("one_click_post", "post", "/one-click/buy/", {"variant": variant[0], "quantity": 1, "nonce": nonce})

    for _ in range(3):  # warm-up: connections, templates, URL resolvers
        checkout_round()
        one_click_round()
    steps.clear()
    sql.clear()
    # First without the profiler (queries and times per request), then under cProfile (where the
    # time goes: cProfile roughly doubles the time of Python-heavy code, so only shares count there).
    results: dict[str, object] = {}
    for flow, func in (("checkout", checkout_round), ("one_click", one_click_round)):
        started = time.perf_counter()
        for _ in range(rounds):
            func()
        results[f"{flow}_wall_ms"] = (time.perf_counter() - started) * 1000 / rounds
    measured = {step: {k: list(v) for k, v in values.items()} for step, values in steps.items()}
    for flow, func in (("checkout", checkout_round), ("one_click", one_click_round)):
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(rounds):
            func()
        prof.disable()
        results[f"{flow}_areas"] = _profile_areas(prof, rounds)
        results[f"{flow}_top_tottime"] = _top_functions(prof, "tottime", 15)
        results[f"{flow}_top_apps"] = _top_functions(prof, "cumtime", 15, only_apps=True)
    steps = measured
    results["steps"] = {
        step: {
            "queries": statistics.median(values["queries"]),
            "ms": statistics.median(values["ms"]),
            "cpu_ms": statistics.median(values["cpu_ms"]),
            "count": len(values["ms"]),
        }
        for step, values in steps.items()
    }
    results["sql"] = sql
    results["statuses"] = dict(statuses)
    results["rounds"] = rounds
    return results


def _checkout_form(page: str) -> dict:
    import re

    def value(name):
        found = re.search(rf'name="{name}" value="([^"]*)"', page)
        if not found:
            raise RuntimeError(f"the checkout page has no {name}")
        return found.group(1)

    address = re.search(r'name="address" value="(\d+)"', page)
    if not address or 'value="pay_on_pickup"' not in page:
        raise RuntimeError("the checkout page offers no address or no pay on pickup")
    return {
        "idempotency_key": value("idempotency_key"),
        "expected_total": value("expected_total"),
        "address": address.group(1),
        "payment_method": "pay_on_pickup",
    }


def _nonce(page: str) -> str:
    import re

    found = re.search(r'name="nonce" value="(\d+)"', page)
    if not found:
        raise RuntimeError("the product page has no 1-Click button (nonce)")
    return found.group(1)


def verify(profile_rounds: int, profile_buyer: list, variants: list) -> dict:
    started = time.monotonic()
    figures: dict[str, object] = dict(_database_counts())
    check = _ledger_check()
    figures["drift_items"] = check["drift"]
    figures["inventory_check_failed"] = check["failed"]
    figures["inventory_check_s"] = round(check["seconds"], 2)
    try:
        figures["emails_queued"] = _emails_queued()
    except Exception as exc:  # informational only
        _progress(f"could not read the email queue: {exc}")
        figures["emails_queued"] = -1
    if profile_rounds > 0:
        _progress(f"profiling {profile_rounds} checkouts and {profile_rounds} 1-Click orders in one process")
        prof = profile(profile_rounds, profile_buyer, variants)
        figures["profile"] = prof
        path = BENCH_DIR / "results" / "checkout-queries.txt"
        with path.open("w") as out:
            for step, statements in prof["sql"].items():
                out.write(f"=== {step}: {len(statements)} queries ===\n")
                out.writelines(f"{n:3d}. {statement}\n" for n, statement in enumerate(statements, start=1))
                out.write("\n")
        figures["queries_file"] = str(path)
    figures["verify_s"] = round(time.monotonic() - started, 1)
    return figures


def main() -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    import logging

    import django

    django.setup()
    # The stripe library logs two INFO lines per request under the production logging settings:
    # thousands here (the site's own gunicorn keeps them, see the README).
    logging.getLogger("stripe").setLevel(logging.WARNING)
    mode = sys.argv[1]
    if mode == "prepare":
        print("DATASET " + json.dumps(prepare()), flush=True)
    elif mode == "verify":
        args = json.loads(Path(sys.argv[2]).read_text())
        result = verify(
            int(os.environ.get("BENCH_CHECKOUT_PROFILE_ROUNDS", "20")), args["profile_buyer"], args["variants"]
        )
        print("VERIFY " + json.dumps(result), flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

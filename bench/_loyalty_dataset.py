"""The ``loyalty`` benchmark's Django side (not a benchmark itself: its name starts with ``_``).

``bench/loyalty.py`` runs this file as a script with the site's environment (production settings,
the benchmark's own database, made afresh for every run):

``prepare``
    ``BENCH_LOYALTY_ACCOUNTS`` (40,000) buyers, each with a loyalty account and a history written
    with ``bulk_create`` exactly as the services would have written it: ``BENCH_LOYALTY_ORDERS`` (8)
    orders spread over the last 15 months, each earning 1% of 20–200 SGD (pending, then available
    when delivered three days later, a lot expiring 365 days after that), the first with the
    first-purchase bonus, and a redemption on every third order. The accounts' balances are the
    ledger's sums. Prints ``DATASET {json}``.
``nightly``
    Times, one after the other, what runs each night and the ledger check:
    ``selectors.ledger_drift()`` (what ``manage.py loyalty_check`` runs), ``services.points_expire``
    (lots past their 12 months, then the 30-day warnings), the same again (must expire nothing
    more), ``services.tiers_review`` (rolling 12-month spend, promotions), and the check again.
    Prints ``NIGHTLY {json}``.
``redeem CLIENTS WARMUP DURATION``
    ``CLIENTS`` processes (forked after ``django.setup()``, one connection each) call
    ``services.points_redeem`` for ``WARMUP + DURATION`` seconds, each for 50–800 points on a new
    order number; ``BENCH_LOYALTY_HOT_SHARE`` (0.5) of the calls go to ``BENCH_LOYALTY_HOT_ACCOUNTS``
    (20) accounts, which run dry within seconds, the rest to any account. Afterwards: accounts whose
    balance went below zero (must be 0), the ledger check (must be clean) and whether the points
    redeemed in the database are the ones the clients were given. Prints ``REDEEM {json}``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import traceback
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from _clients import percentile, progress
from _common import env_float, env_int

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SEED = 20261204


def prepare() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from apps.loyalty.models import Earning, LedgerEntry, LoyaltyAccount, Redemption, Tier
    from apps.shops.models import Shop

    started = time.monotonic()
    rng = random.Random(SEED)
    accounts_n = env_int("BENCH_LOYALTY_ACCOUNTS", 40_000)
    orders_n = env_int("BENCH_LOYALTY_ORDERS", 8)
    User = get_user_model()
    now = timezone.now()
    tier = Tier.objects.order_by("min_spend").first()
    shop = Shop.objects.create(
        name="Loyalty Bench Shop",
        slug="loyalty-bench-shop",
        email="shop@loyalty-bench.test",
        phone="+65 6000 0000",
        address_line1="1 Bench Road",
        postcode="100001",
        latitude=Decimal("1.300000"),
        longitude=Decimal("103.850000"),
        currency="SGD",
        time_zone="Asia/Singapore",
        offers_pickup=True,
        status=Shop.Status.ACTIVE,
    )
    password = make_password(None)
    Kind, Bucket = LedgerEntry.Kind, LedgerEntry.Bucket
    lifetime = timedelta(days=365)
    batch = 2_000
    entries_total = earnings_total = redemptions_total = 0
    for start in range(0, accounts_n, batch):
        count = min(batch, accounts_n - start)
        with transaction.atomic():
            users = User.objects.bulk_create(
                [User(email=f"buyer{start + i}@loyalty-bench.test", password=password) for i in range(count)]
            )
            accounts = LoyaltyAccount.objects.bulk_create(
                [LoyaltyAccount(user=user, tier=tier, tier_since=now - timedelta(days=500)) for user in users]
            )
            entries, earnings, redemptions = [], [], []
            for account in accounts:
                balance = 0
                days = sorted(rng.uniform(4, 460) for _ in range(orders_n))
                days.reverse()  # oldest first
                for n, ago in enumerate(days):
                    reference = f"LBB{account.pk:07d}{n:02d}"
                    placed = now - timedelta(days=ago)
                    paid = Decimal(rng.randint(2000, 20000)) / 100
                    points = int(paid)  # 1% of paid in SGD cents
                    bonus = 500 if n == 0 else 0
                    delivered = placed + timedelta(days=3)
                    earnings.append(
                        Earning(
                            account=account,
                            reference=reference,
                            shop=shop,
                            currency="SGD",
                            paid=paid,
                            tier=tier,
                            rate=tier.rate,
                            base_points=points,
                            bonus_points=bonus,
                            status=Earning.Status.AVAILABLE if delivered <= now else Earning.Status.PENDING,
                            placed_at=placed,
                            available_at=delivered if delivered <= now else None,
                        )
                    )
                    for kind, value in ((Kind.EARN, points), (Kind.BONUS, bonus)):
                        if not value:
                            continue
                        entries.append(
                            LedgerEntry(
                                account=account,
                                kind=kind,
                                bucket=Bucket.PENDING,
                                points=value,
                                reference=reference,
                                reason="bench order",
                                created_at=placed,
                            )
                        )
                        if delivered <= now:
                            entries += [
                                LedgerEntry(
                                    account=account,
                                    kind=kind,
                                    bucket=Bucket.PENDING,
                                    points=-value,
                                    reference=reference,
                                    reason="bench delivered",
                                    created_at=delivered,
                                ),
                                LedgerEntry(
                                    account=account,
                                    kind=kind,
                                    bucket=Bucket.AVAILABLE,
                                    points=value,
                                    reference=reference,
                                    reason="bench delivered",
                                    created_at=delivered,
                                    expires_at=delivered + lifetime,
                                ),
                            ]
                            balance += value
                        else:
                            account.pending += value
                    if n % 3 == 2 and balance > 100:
                        spend = rng.randint(50, min(balance, 400))
                        used_on = f"LBR{account.pk:07d}{n:02d}"
                        redemptions.append(
                            Redemption(
                                account=account,
                                reference=used_on,
                                checkout=f"C{used_on}",
                                currency="SGD",
                                points=spend,
                                value=Decimal(spend) / 100,
                            )
                        )
                        entries.append(
                            LedgerEntry(
                                account=account,
                                kind=Kind.REDEEM,
                                bucket=Bucket.AVAILABLE,
                                points=-spend,
                                reference=used_on,
                                reason="bench redemption",
                                created_at=placed + timedelta(hours=1),
                            )
                        )
                        balance -= spend
                account.balance = balance
            Earning.objects.bulk_create(earnings, batch_size=5_000)
            Redemption.objects.bulk_create(redemptions, batch_size=5_000)
            LedgerEntry.objects.bulk_create(entries, batch_size=10_000)
            LoyaltyAccount.objects.bulk_update(accounts, ["balance", "pending"], batch_size=2_000)
        entries_total += len(entries)
        earnings_total += len(earnings)
        redemptions_total += len(redemptions)
        if (start // batch) % 5 == 4:
            progress(f"{start + count:,} accounts, {entries_total:,} ledger entries")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "accounts": accounts_n,
        "ledger_entries": entries_total,
        "earnings": earnings_total,
        "redemptions": redemptions_total,
        "build_s": round(time.monotonic() - started, 1),
    }


def _timed(fn):
    started = time.monotonic()
    result = fn()
    return result, round(time.monotonic() - started, 2)


def nightly() -> dict:
    from django.db.models import Sum
    from django.utils import timezone

    from apps.loyalty.models import LedgerEntry
    from apps.loyalty.selectors import ledger_drift
    from apps.loyalty.services import points_expire, tiers_review

    # The warnings' and promotions' emails go to the Celery queue (no worker runs): bench/loyalty.py
    # counts them.
    now = timezone.now()
    (checked, drifts), check_s = _timed(ledger_drift)
    progress(f"ledger check: {checked:,} accounts in {check_s:.2f} s, {len(drifts)} drifts")
    expired, expire_s = _timed(lambda: points_expire(now=now))
    progress(
        f"expiry: {expired['points']:,} points of {expired['accounts']:,} accounts in {expire_s:.2f} s, "
        f"{expired['warned']:,} warned"
    )
    again, expire_again_s = _timed(lambda: points_expire(now=now))
    progress(f"expiry again: {again['points']:,} points in {expire_again_s:.2f} s")
    tiers, tiers_s = _timed(lambda: tiers_review(now=now))
    progress(f"tier review: {json.dumps(tiers)} in {tiers_s:.2f} s")
    tiers_again, tiers_again_s = _timed(lambda: tiers_review(now=now))
    (checked_after, drifts_after), check_after_s = _timed(ledger_drift)
    expired_in_db = -(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).aggregate(s=Sum("points"))["s"] or 0)
    return {
        "loyalty_check_s": check_s,
        "accounts_checked": checked,
        "points_expire_s": expire_s,
        "accounts_expired": expired["accounts"],
        "points_expired": expired["points"],
        "expiry_warnings": expired["warned"],
        "points_expire_rerun_s": expire_again_s,
        "points_expired_rerun": again["points"],
        "tiers_review_s": tiers_s,
        "tiers_promoted": tiers["promoted"],
        "tiers_demoted": tiers["demoted"],
        "accounts_tier_written": tiers["reviewed"],
        "tiers_review_rerun_s": tiers_again_s,
        "tiers_rerun_written": tiers_again["reviewed"],
        "loyalty_check_after_s": check_after_s,
        "ledger_drift": len(drifts) + len(drifts_after),
        "points_expired_in_db": expired_in_db,
    }


def _error_name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:80]}"


def _redeem_client(idx, hot, hot_share, run_tag, ready, go, start_box, warmup, duration, results) -> None:
    try:
        from django.db import connection

        from apps.loyalty.errors import NotEnoughPoints
        from apps.loyalty.models import LoyaltyAccount
        from apps.loyalty.services import RedemptionPart, points_redeem

        rng = random.Random(SEED + idx)
        users = dict(LoyaltyAccount.objects.values_list("pk", "user_id"))
        ids = sorted(users)
        from django.contrib.auth import get_user_model

        User = get_user_model()
        ready.put(idx)
        go.wait()
        begin = start_box.value
        while time.monotonic() < begin:
            time.sleep(0.001)
        measure_from, stop_at = begin + warmup, begin + warmup + duration
        counts, refused, errors, latencies, given = Counter(), Counter(), Counter(), [], 0
        n = 0
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            measured = now >= measure_from
            account_id = rng.choice(hot) if rng.random() < hot_share else rng.choice(ids)
            points = rng.randint(50, 800)
            n += 1
            reference = f"R{run_tag}-{idx}-{n}"
            t0 = time.monotonic()
            try:
                points_redeem(
                    user=User(pk=users[account_id]),
                    checkout=f"C{reference}",
                    currency="SGD",
                    parts=[RedemptionPart(reference, points, Decimal("1000.00"))],
                )
            except NotEnoughPoints:
                refused["not-enough-points"] += 1 if measured else 0
                refused["all:not-enough-points"] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors[_error_name(exc)] += 1
            else:
                given += points
                if measured:
                    counts["redeemed"] += 1
                    latencies.append((time.monotonic() - t0) * 1000)
            if measured:
                counts["attempts"] += 1
        connection.close()
        results.put(
            {
                "counts": dict(counts),
                "refused": dict(refused),
                "errors": dict(errors),
                "ms": latencies,
                "given": given,
            }
        )
    except BaseException:  # noqa: BLE001 - the parent reports it
        results.put({"crash": traceback.format_exc()})


def redeem(clients: str, warmup: str, duration: str) -> dict:
    from _clients import run_clients
    from django.db.models import Sum

    from apps.loyalty.models import LedgerEntry, LoyaltyAccount, Redemption
    from apps.loyalty.selectors import ledger_drift

    clients_n, warmup_s, duration_s = int(clients), float(warmup), float(duration)
    hot_share = env_float("BENCH_LOYALTY_HOT_SHARE", 0.5)
    hot_n = env_int("BENCH_LOYALTY_HOT_ACCOUNTS", 20)
    hot = list(LoyaltyAccount.objects.filter(balance__gt=0).order_by("pk").values_list("pk", flat=True)[:hot_n])
    run_tag = f"{int(time.time())}"
    before = {
        "redeemed": -(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM).aggregate(s=Sum("points"))["s"] or 0),
    }
    outs = run_clients(
        _redeem_client,
        lambda i: (i, hot, hot_share, run_tag),
        clients=clients_n,
        warmup=warmup_s,
        duration=duration_s,
        what="redeeming",
        announce=lambda: progress(
            f"{clients_n} clients redeem on {len(hot)} hot accounts ({hot_share:.0%} of calls) and any other: "
            f"{warmup_s:g} s warm-up + {duration_s:g} s"
        ),
    )
    counts, refused, errors, ms, given = Counter(), Counter(), Counter(), [], 0
    for out in outs:
        counts.update(out["counts"])
        refused.update(out["refused"])
        errors.update(out["errors"])
        ms += out["ms"]
        given += out["given"]
    redeemed_db = (
        -(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM).aggregate(s=Sum("points"))["s"] or 0)
        - before["redeemed"]
    )
    redemption_rows = Redemption.objects.filter(reference__startswith=f"R{run_tag}-").aggregate(s=Sum("points"))
    checked, drifts = ledger_drift()
    return {
        "redemptions_per_s": round(counts["redeemed"] / duration_s, 1),
        "redeem_calls_per_s": round(counts["attempts"] / duration_s, 1),
        "redeem_p50_ms": round(percentile(ms, 0.5), 1),
        "redeem_p99_ms": round(percentile(ms, 0.99), 1),
        "refused_not_enough_points": refused["not-enough-points"],
        "redeem_errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "hot_accounts_dry": LoyaltyAccount.objects.filter(pk__in=hot, balance__lt=50).count(),
        "accounts_below_zero": LoyaltyAccount.objects.filter(balance__lt=0).count(),
        "points_given_to_clients": given,
        "points_redeemed_in_db": redeemed_db,
        "redemption_rows_points": redemption_rows["s"] or 0,
        "ledger_drift_after_redeem": len(drifts),
        "accounts_checked_after_redeem": checked,
    }


def main() -> None:
    sys.path.insert(0, str(PROJECT_DIR))
    os.chdir(PROJECT_DIR)
    import django

    django.setup()
    command, *args = sys.argv[1:]
    if command == "prepare":
        print("DATASET " + json.dumps(prepare()), flush=True)
    elif command == "nightly":
        print("NIGHTLY " + json.dumps(nightly()), flush=True)
    elif command == "redeem":
        print("REDEEM " + json.dumps(redeem(*args)), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()

"""Loyalty: the nightly jobs and the ledger check over 40,000 accounts (~1 million ledger entries),
and points redeemed by 16 concurrent clients (throughput, and never more than a balance).

1. The database ``localbazaar_loyalty_bench`` is made afresh (dropped if there) and migrated with the
   production settings; Redis db 12 (the site's cache and Celery broker) is emptied. No Celery worker
   runs: the emails the jobs queue are counted (``emails_queued``), then dropped.
2. ``_loyalty_dataset.py prepare``: ``BENCH_LOYALTY_ACCOUNTS`` (40,000) buyers with
   ``BENCH_LOYALTY_ORDERS`` (8) orders each over the last 15 months, earned, released and partly
   redeemed as the services write them (``bulk_create``).
3. ``_loyalty_dataset.py nightly``: the ledger check (``loyalty_check_s``, ``ledger_drift`` must be
   0), the expiry with its warnings (``points_expire_s``) and again (``points_expired_rerun`` must be
   0), the tier review (``tiers_review_s``) and again (``tiers_rerun_written`` must be 0).
4. ``_loyalty_dataset.py redeem``: ``BENCH_LOYALTY_CLIENTS`` (16) processes call ``points_redeem``
   for ``BENCH_WARMUP`` + ``BENCH_DURATION`` seconds, half of the calls on 20 hot accounts →
   ``redemptions_per_s``, p50/p99, refusals; ``accounts_below_zero`` must be 0, the ledger check
   clean, and the points redeemed in the database those the clients were given.
"""

from __future__ import annotations

import os
import time

from _common import env_float, env_int, migrated_site, queued_messages, reset_redis, run_django_script

DATABASE_URL = os.environ.get(
    "BENCH_LOYALTY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/localbazaar_loyalty_bench"
)
REDIS_URL = os.environ.get("BENCH_LOYALTY_REDIS_URL", "redis://127.0.0.1:6379/12")
DATASET_SCRIPT = "_loyalty_dataset.py"


def site_env() -> dict[str, str]:
    from web import job_site_env

    return job_site_env(database_url=DATABASE_URL, redis_url=REDIS_URL, name="loyalty")


def run() -> dict[str, float]:
    duration = env_float("BENCH_DURATION", 10)
    warmup = env_float("BENCH_WARMUP", 2)
    clients = env_int("BENCH_LOYALTY_CLIENTS", 16)
    started = time.monotonic()

    env = site_env()
    migrated_site(DATABASE_URL, REDIS_URL, env)
    dataset = run_django_script(DATASET_SCRIPT, ["prepare"], env, "DATASET", "data set", timeout=3600)
    print(
        f"  {dataset['accounts']:,} accounts, {dataset['ledger_entries']:,} ledger entries, "
        f"{dataset['earnings']:,} earnings, {dataset['redemptions']:,} redemptions in {dataset['build_s']:.0f} s",
        flush=True,
    )

    print("Nightly jobs and the ledger check:", flush=True)
    try:
        nightly = run_django_script(DATASET_SCRIPT, ["nightly"], env, "NIGHTLY", "nightly", timeout=3600)
        emails_queued = queued_messages(REDIS_URL)
    finally:
        reset_redis(REDIS_URL)

    print(f"Redeeming: {clients} client processes, {warmup:g} s warm-up + {duration:g} s", flush=True)
    redeem = run_django_script(
        DATASET_SCRIPT, ["redeem", str(clients), str(warmup), str(duration)], env, "REDEEM", "redeem", timeout=1800
    )
    errors_by_kind = redeem.pop("errors_by_kind")
    print(
        f"  {redeem['redemptions_per_s']:.1f} redemptions/s (p50 {redeem['redeem_p50_ms']:.1f} ms, "
        f"p99 {redeem['redeem_p99_ms']:.1f} ms); {redeem['refused_not_enough_points']:,} refused as more than "
        f"the balance; {redeem['hot_accounts_dry']} hot accounts dry; errors {errors_by_kind}",
        flush=True,
    )

    figures: dict[str, float] = {}
    figures.update({k: v for k, v in nightly.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    figures["emails_queued"] = emails_queued
    figures.update({k: v for k, v in redeem.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    figures["clients"] = clients
    figures["duration_s"] = duration
    figures["accounts"] = dataset["accounts"]
    figures["ledger_entries"] = dataset["ledger_entries"]
    figures["dataset_build_s"] = dataset["build_s"]
    figures["total_run_s"] = round(time.monotonic() - started, 1)

    problems = []
    if nightly["ledger_drift"] or redeem["ledger_drift_after_redeem"]:
        problems.append("the ledger check found drift")
    if nightly["points_expired_rerun"]:
        problems.append(f"running the expiry again expired {nightly['points_expired_rerun']} more points")
    if nightly["tiers_rerun_written"]:
        problems.append(f"reviewing tiers again wrote {nightly['tiers_rerun_written']} accounts")
    if redeem["accounts_below_zero"]:
        problems.append(f"{redeem['accounts_below_zero']} accounts below zero after concurrent redemptions")
    if redeem["points_redeemed_in_db"] != redeem["points_given_to_clients"]:
        problems.append(
            f"the database holds {redeem['points_redeemed_in_db']} redeemed points, the clients were given "
            f"{redeem['points_given_to_clients']}"
        )
    if redeem["redeem_errors"]:
        problems.append(f"{redeem['redeem_errors']} redemptions failed with something else than a refusal")
    if problems:
        print("CORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems), flush=True)
    return figures

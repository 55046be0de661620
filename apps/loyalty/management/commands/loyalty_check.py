"""Verify the loyalty ledger: every account's balances, and every order's points, equal its entries.

    manage.py loyalty_check

For every account: ``balance`` must equal the sum of its available entries and ``pending`` the sum of
its pending ones. For every order: the points its earning still gives must equal its earn, bonus and
reversal entries, and the points its redemption still spends must equal its redeem entries less the
points given back. The sums are grouped queries in the database. Exits with status 1, listing every
drift, when anything disagrees.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from apps.loyalty.selectors import earning_drift, ledger_drift, ledger_entry_count


class Command(BaseCommand):
    help = "Check that every loyalty balance, and every order's points, equal the sums of the ledger."

    def handle(self, *args, **options):
        started = time.monotonic()
        entries = ledger_entry_count()
        self.stdout.write(f"Checking the loyalty ledger ({entries:,} entries)…")
        accounts, account_drifts = ledger_drift()
        self.stdout.write(f"[1/2] {accounts:,} accounts checked, {len(account_drifts):,} drifts")
        orders, order_drifts = earning_drift()
        self.stdout.write(f"[2/2] {orders:,} orders checked, {len(order_drifts):,} drifts")
        elapsed = time.monotonic() - started
        drifts = account_drifts + order_drifts
        if drifts:
            for drift in drifts:
                self.stderr.write(str(drift))
            raise CommandError(
                f"{len(drifts):,} drifts in {accounts:,} accounts and {orders:,} orders ({entries:,} entries, "
                f"{elapsed:.1f} s): see the lines above."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {accounts:,} accounts, {orders:,} orders and {entries:,} entries in {elapsed:.1f} s: no drift."
            )
        )

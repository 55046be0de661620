"""Measure the anomaly detectors: confusion matrix, precision, recall and ROC-AUC.

    manage.py inventory_anomaly_evaluate [--json] [--seed N] [--skip-shuttle] [--shops N] [--days N]

On (a) generated shop histories with injected anomalies (theft-like shrinkage, 100× fat-finger
adjustments, off-hours bursts; see ``apps.inventory.anomaly_data``), scored the way the nightly scan
scores shops, and (b) the ODDS Shuttle benchmark from the test-only package ``river``. Progress goes
to stderr; ``--json`` prints one JSON object on stdout. The same seed gives the same numbers.
"""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from apps.inventory.anomalies import DEFAULT_SEED
from apps.inventory.anomaly_data import DetectorResult, ShuttleUnavailable, evaluate_injected, evaluate_shuttle


class Command(BaseCommand):
    help = "Evaluate the stock anomaly detectors on generated shops and on the ODDS Shuttle data set."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object (stdout) instead of a table.")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"Random seed (default {DEFAULT_SEED}).")
        parser.add_argument("--skip-shuttle", action="store_true", help="Leave out the Shuttle data set.")
        parser.add_argument("--shops", type=int, default=6, help="Generated shops (default 6).")
        parser.add_argument("--days", type=int, default=120, help="Days of history per generated shop (default 120).")

    def handle(self, *args, **options):
        if options["shops"] < 1 or options["days"] < 30:
            raise CommandError("Use at least 1 shop and 30 days of history.")
        started = time.monotonic()
        seed = options["seed"]

        def progress(message: str) -> None:
            self.stderr.write(f"[{time.monotonic() - started:5.1f}s] {message}")

        results: dict[str, dict[str, DetectorResult]] = {}
        progress(f"Generating {options['shops']} shops of {options['days']} days (seed {seed})…")
        injected, scored, anomalies = evaluate_injected(
            seed=seed, shops=options["shops"], days=options["days"], progress=progress
        )
        results["injected"] = injected
        progress(f"Injected: scored {scored} movements, {anomalies} of them injected anomalies.")
        if not options["skip_shuttle"]:
            try:
                results["shuttle"] = evaluate_shuttle(seed=seed, progress=progress)
            except ShuttleUnavailable as exc:
                raise CommandError(str(exc)) from exc

        payload: dict[str, object] = {"seed": seed, "injected_movements": scored, "injected_anomalies": anomalies}
        for dataset, by_detector in results.items():
            for detector, result in by_detector.items():
                prefix = f"{dataset}_{detector}"
                payload[f"{prefix}_precision"] = round(result.precision, 4)
                payload[f"{prefix}_recall"] = round(result.recall, 4)
                payload[f"{prefix}_auc"] = round(result.auc, 4)
                payload[f"{prefix}_confusion"] = {"tn": result.tn, "fp": result.fp, "fn": result.fn, "tp": result.tp}
        elapsed = time.monotonic() - started
        payload["seconds"] = round(elapsed, 1)

        if options["json"]:
            self.stdout.write(json.dumps(payload, sort_keys=True))
        else:
            header = f"{'data set':<10} {'detector':<9} {'TN':>7} {'FP':>6} {'FN':>6} {'TP':>6} {'precision':>9} {'recall':>7} {'ROC-AUC':>8}"
            self.stdout.write(header)
            self.stdout.write("-" * len(header))
            for dataset, by_detector in results.items():
                for detector, r in by_detector.items():
                    self.stdout.write(
                        f"{dataset:<10} {detector:<9} {r.tn:>7} {r.fp:>6} {r.fn:>6} {r.tp:>6} "
                        f"{r.precision:>9.4f} {r.recall:>7.4f} {r.auc:>8.4f}"
                    )
        progress(f"Done: {len(results)} data set(s), 2 detectors each, in {elapsed:.1f}s.")

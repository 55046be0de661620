"""Run LocalBazaar's benchmarks: ``bench/run.py`` runs every one, ``bench/run.py NAME`` runs one.

A benchmark is a module ``bench/<name>.py`` (the name not starting with ``_``) that defines
``run() -> dict[str, float]``. This runner calls it, prints its figures as a table and writes
the same figures to ``bench/results/<name>.json`` as one flat JSON object. See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import signal
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
NOT_BENCHMARKS = {"run"}


def discover() -> list[str]:
    """Every ``bench/<name>.py`` that is a benchmark, sorted by name."""
    names = []
    for path in sorted(BENCH_DIR.glob("*.py")):
        name = path.stem
        if name.startswith("_") or name in NOT_BENCHMARKS:
            continue
        names.append(name)
    return names


def _check_figures(name: str, figures: object) -> dict[str, float]:
    if not isinstance(figures, dict) or not figures:
        raise TypeError(f"{name}.run() must return a non-empty dict of metric name -> number, got {figures!r}")
    for key, value in figures.items():
        if not isinstance(key, str):
            raise TypeError(f"{name}.run(): metric names must be strings, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name}.run(): metric {key!r} must be a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name}.run(): metric {key!r} is not a finite number ({value!r})")
    return figures


def _format(value: float) -> str:
    # The figure as written to the JSON file (floats shortened to 4 decimals for the eye only).
    if isinstance(value, float):
        value = round(value, 4)
    return f"{value:,}"


def print_table(name: str, figures: dict[str, float]) -> None:
    width = max(len(key) for key in figures)
    values = {key: _format(value) for key, value in figures.items()}
    value_width = max(len(v) for v in values.values())
    rule = f"+-{'-' * width}-+-{'-' * value_width}-+"
    print(f"\nBenchmark: {name}")
    print(rule)
    print(f"| {'metric'.ljust(width)} | {'value'.rjust(value_width)} |")
    print(rule)
    for key, value in values.items():
        print(f"| {key.ljust(width)} | {value.rjust(value_width)} |")
    print(rule)


def run_one(name: str) -> Path:
    module = importlib.import_module(name)
    if not callable(getattr(module, "run", None)):
        raise TypeError(f"bench/{name}.py has no run() function")
    started = time.monotonic()
    figures = _check_figures(name, module.run())
    print_table(name, figures)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=False) + "\n")
    print(f"Results: {path}  ({time.monotonic() - started:.0f} s)")
    return path


def _terminate(signum, frame):
    # Turn SIGTERM into an exception so every benchmark's cleanup (stopping its servers) runs.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    available = discover()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help=f"one benchmark to run (default: all of {', '.join(available)})")
    args = parser.parse_args(argv)
    if args.name and args.name not in available:
        print(f"No benchmark named {args.name!r}. Available: {', '.join(available) or 'none'}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    sys.path.insert(0, str(BENCH_DIR))
    failed = []
    for name in [args.name] if args.name else available:
        print(f"=== bench {name} ===", flush=True)
        try:
            run_one(name)
        except KeyboardInterrupt:
            print(f"bench {name}: interrupted", file=sys.stderr)
            return 130
        except Exception:
            traceback.print_exc()
            print(f"bench {name}: FAILED", file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"Failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

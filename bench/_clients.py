"""Forked client processes for the benchmarks' Django-side scripts (not a benchmark itself).

``run_clients`` forks ``clients`` processes after ``django.setup()`` (each opens its own database
connection), waits until every one is ready, starts them at the same moment and collects the result
dict each puts on its queue. A client is ``target(*args_for(i), ready, go, start_box, warmup,
duration, results)``: it puts anything on ``ready`` when set up, waits for ``go``, measures from
``start_box.value + warmup`` for ``duration`` seconds, and puts its result (or ``{"crash": traceback}``)
on ``results``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def run_clients(
    target: Callable,
    args_for: Callable[[int], tuple],
    *,
    clients: int,
    warmup: float,
    duration: float,
    what: str,
    announce: Callable[[], None] | None = None,
) -> list[dict]:
    import multiprocessing as mp

    from django.db import connections

    connections.close_all()  # every client opens its own connection after the fork
    ctx = mp.get_context("fork")
    ready, results, go, start_box = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    procs = [
        ctx.Process(target=target, args=(*args_for(i), ready, go, start_box, warmup, duration, results), daemon=True)
        for i in range(clients)
    ]
    outs: list[dict] = []
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=120)
        if announce is not None:
            announce()
        start_box.value = time.monotonic() + 0.1
        go.set()
        outs = [results.get(timeout=warmup + duration + 180) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    crashes = [o["crash"] for o in outs if "crash" in o]
    if crashes:
        raise RuntimeError(f"{len(crashes)} {what} client(s) crashed; the first:\n{crashes[0]}")
    return outs


def progress(message: str) -> None:
    """A progress line of a Django-side script (shown by ``_common.run_django_script``)."""
    print(f"  {message}", flush=True)


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` fall (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

"""Real concurrency for tests on PostgreSQL: each worker a thread with its own connection."""

from __future__ import annotations

import threading

from django.db import connection, connections


def race(count: int, work, *, expected: tuple[type[BaseException], ...] = ()) -> list[tuple[str, object]]:
    """Run ``work(i)`` for i in 0..count-1, each in its own thread and connection, all released at
    once by a barrier. Returns ("ok", result), ("out", exception) for an ``expected`` exception or
    ("error", exception) for anything else (a deadlock among them) per thread."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, object]] = [("error", RuntimeError("did not finish"))] * count

    def run(i: int) -> None:
        try:
            connection.ensure_connection()  # connect before the start line, so the race is on the rows
            barrier.wait(timeout=30)
            results[i] = ("ok", work(i))
        except expected as exc:
            results[i] = ("out", exc)
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer is still waiting: a lock is never released"
    return results


def race_errors(results) -> list[str]:
    return [f"{type(exc).__name__}: {exc}" for status, exc in results if status == "error"]

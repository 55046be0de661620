"""Helpers shared by benchmarks: gunicorn servers on 127.0.0.1, HTTP checks and wrk runs.

Not a benchmark itself (its name starts with ``_``). Every server started here runs in its own
process group and is stopped, with all its workers, when its ``with`` block ends, error or not.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LOOPBACK = "127.0.0.1"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET http://127.0.0.1:PORT/PATH without following redirects: (status, body)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_checked(cmd: list[str], env: dict[str, str], what: str, timeout: float = 600) -> None:
    """Run a setup command quietly; on failure show its output and raise."""
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        print(proc.stdout[-4000:], file=sys.stderr)
        raise RuntimeError(f"{what} failed (exit {proc.returncode})")
    print(f"  {what}: ok ({time.monotonic() - started:.1f} s)", flush=True)


@dataclass
class Gunicorn:
    """One gunicorn master and its workers on 127.0.0.1, for a ``with`` block."""

    name: str
    app: str
    env: dict[str, str]
    workers: int
    threads: int
    worker_class: str
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self):
        RESULTS_DIR.mkdir(exist_ok=True)
        self.log_path = RESULTS_DIR / f"gunicorn-{self.name}.log"

    def __enter__(self) -> Gunicorn:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--threads",
            str(self.threads),
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            *self.extra_args,
        ]
        with self.log_path.open("w") as log:
            # Its own session: Ctrl-C goes to this runner, which then stops the whole group itself.
            self.process = subprocess.Popen(
                cmd, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        print(
            f"  started gunicorn {self.name} (pid {self.process.pid}) on http://{LOOPBACK}:{self.port}: "
            f"{self.workers} {self.worker_class} worker(s) x {self.threads} thread(s), log {self.log_path}",
            flush=True,
        )
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Wait until PATH answers (any status); raise if the server died or never answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn {self.name} exited with {self.process.returncode}:\n{tail(self.log_path)}"
                )
            try:
                get(self.port, path, timeout=5)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn {self.name} did not answer within {timeout:.0f} s:\n{tail(self.log_path)}")

    def stop(self) -> None:
        stop_process_group(self.process, f"gunicorn {self.name}", term_wait=15)


def stop_process_group(proc: subprocess.Popen | None, what: str, *, term_wait: float = 10) -> None:
    """Stop a process started in its own session, and its children: SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, term_wait), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    print(f"  stopped {what} (pid {proc.pid})", flush=True)


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        raise RuntimeError("wrk is not installed: run `make bench` (it installs it) or `apt-get install -y wrk`")
    return wrk


def wrk(
    port: int, path: str, duration: float, connections: int, threads: int, script: Path | str | None = None
) -> dict[str, float]:
    """Load http://127.0.0.1:PORT/PATH with wrk for DURATION seconds; figures from wrk_report.lua
    (or from SCRIPT, a Lua script that prints the same BENCH_RESULT line)."""
    seconds = max(1, round(duration))
    cmd = [
        require_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=5s",
        f"--script={script or WRK_SCRIPT}",
        f"http://{LOOPBACK}:{port}{path}",
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=seconds + 60)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{proc.stdout}")
    raw = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    elapsed = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / elapsed,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "requests": raw["requests"],
        "status_errors": raw["status_errors"],
        "socket_errors": raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeout_errors"],
    }


def run_django_script(
    script: str, args: list[str], env: dict[str, str], marker: str, what: str, timeout: float = 900
) -> dict:
    """Run ``bench/SCRIPT ARGS`` with the site's environment, showing its progress; return the JSON
    of its ``MARKER {json}`` line. Its own process group, stopped on any error."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / script), *args],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    result, output = None, []
    try:
        for line in proc.stdout:
            if line.startswith(marker + " "):
                result = json.loads(line.removeprefix(marker + " "))
            else:
                output.append(line)
                print(line, end="", flush=True)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode != 0 or result is None:
        print("".join(output[-60:]), file=sys.stderr)
        raise RuntimeError(f"{what} failed (exit {proc.returncode})")
    print(f"  {what}: ok ({time.monotonic() - started:.1f} s)", flush=True)
    return result


def fresh_database(url: str) -> None:
    """Drop (if there) and create the benchmark's own PostgreSQL database named in URL."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"  database {name}: made afresh", flush=True)


def reset_redis(url: str) -> None:
    """Empty the benchmark's own Redis database (cache and queued tasks of earlier runs)."""
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()


def migrated_site(database_url: str, redis_url: str, env: dict[str, str]) -> None:
    """A benchmark's own site made afresh: its database dropped, created and migrated with ``env``
    (the production settings), its Redis db emptied."""
    print("Preparing (production settings, PostgreSQL, Redis):", flush=True)
    fresh_database(database_url)
    reset_redis(redis_url)
    run_checked([sys.executable, str(PROJECT_DIR / "manage.py"), "migrate", "--noinput"], env, "migrate")


def queued_messages(url: str) -> int:
    """Messages waiting in the Celery queues of Redis db URL (kombu keeps each queue as a list)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    total = 0
    for key in client.scan_iter(count=1000):
        if client.type(key) == b"list":
            total += client.llen(key)
    return total

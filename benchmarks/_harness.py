"""What every benchmark stands on: fresh databases, Redis namespaces, the processes it starts
(teamkeys commands, Dramatiq workers, a server of its own, the SMTP sink) and waiting for them.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "TEAMKEYS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEAMKEYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: The encryption key of every benchmark deployment (never a real one).
KEY = "dGVhbWtleXMtdGVzdHMtb25seS0zMi1ieXRlcy1rZXk="


# --- databases and Redis ---------------------------------------------------------------------


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"teamkeys_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def backend_database(backend: str) -> Iterator[str]:
    """A new database on ``backend``: "sqlite" (a file in a temporary folder) or "postgresql"."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
    else:
        with fresh_database() as url:
            yield url


def flush_namespace(namespace: str) -> None:
    """Delete every Redis key of one benchmark run."""
    import redis

    with redis.Redis.from_url(REDIS_URL) as client:
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)


# --- processes -------------------------------------------------------------------------------


def teamkeys_env(database_url: str, namespace: str, smtp_port: int) -> dict[str, str]:
    """The environment of teamkeys processes on ``database_url`` and Redis, sending to the
    sink: cheap password hashing, no invitation limit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    env.update(
        TEAMKEYS_DATABASE_URL=database_url,
        TEAMKEYS_BROKER_URL=REDIS_URL,
        TEAMKEYS_REDIS_NAMESPACE=namespace,
        TEAMKEYS_SMTP_HOST="127.0.0.1",
        TEAMKEYS_SMTP_PORT=str(smtp_port),
        TEAMKEYS_ENCRYPTION_KEY=KEY,
        TEAMKEYS_PUBLIC_URL="https://app.teamkeys.test",
        TEAMKEYS_INVITATION_DAILY_LIMIT="1000000",
        TEAMKEYS_ARGON2_TIME_COST="1",
        TEAMKEYS_ARGON2_MEMORY_KIB="1024",
        TEAMKEYS_ARGON2_PARALLELISM="1",
        TEAMKEYS_LOG_LEVEL="WARNING",
    )
    return env


def workers(command: list[str], processes: int, threads: int) -> list[str]:
    """``command`` (``teamkeys.cli worker``, or ``dramatiq <module>``) with its worker counts."""
    return [*command, "--processes", str(processes), "--threads", str(threads)]


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m <argv>`` in a session of its own, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a :func:`spawn`'d process and its children: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_server(module: str, name: str, database_url: str, port: int) -> subprocess.Popen[bytes]:
    """``python -m <module> --serve <database_url> --port <port>`` (a benchmark's own server
    process), once it answers ``/healthz``."""
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--serve", database_url, "--port", str(port)], cwd=ROOT
    )
    for _ in range(100):
        if server.poll() is not None:
            raise SystemExit(f"the {name} server exited ({server.returncode})")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return server


Figures = dict[str, float]


def server_benchmark(
    description: str | None,
    serve: Callable[[str, int], None],
    run_backend: Callable[[str, str, argparse.Namespace], Figures],
    report: Callable[[argparse.Namespace, dict[str, Figures]], None],
    **options: int,
) -> None:
    """The main of a benchmark with a server process of its own (:func:`start_server`): with
    ``--serve``, be that server; else ``run_backend(backend, database URL, args)`` for
    ``--seconds`` on a fresh database of each of ``--backends``, then ``report`` the figures
    by backend. ``options``: the benchmark's own whole-number options and their defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=10.0)
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    results: dict[str, Figures] = {}
    for backend in args.backends.split(","):
        with backend_database(backend) as url:
            results[backend] = run_backend(backend, url, args)
    report(args, results)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(poll)


class Sink:
    """benchmarks._sink as a child process: its port, and how many emails it holds. With
    ``delay_ms``, it answers each message that many milliseconds after its DATA."""

    def __init__(self, delay_ms: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._sink", "--delay-ms", str(delay_ms)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._in: IO[str] = self.process.stdin  # type: ignore[assignment]
        self._out: IO[str] = self.process.stdout  # type: ignore[assignment]
        self.port = int(self._out.readline())

    def count(self) -> int:
        self._in.write("count\n")
        self._in.flush()
        return int(self._out.readline())

    def stop(self) -> None:
        self._in.close()
        self.process.wait(timeout=10)

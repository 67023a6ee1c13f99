"""Invitations end to end, side by side with a bare Dramatiq actor sending the same email.

    python -m benchmarks.invitation_pipeline [--invitations 500] [--processes 2] [--threads 8]
        [--concurrency 8] [--web-workers 1] [--smtp-delay-ms 0] [--smtp-connections N]

teamkeys: `teamkeys web`, `teamkeys scheduler` and `teamkeys worker` as their own processes on
a fresh PostgreSQL database and Redis; this process posts N invitations over HTTP (HTTP ->
outbox -> Redis -> worker -> render -> SMTP -> recorded as sent) and the clock stops when the
database shows all N invitations `sent`.

Baseline, in the same run: `dramatiq benchmarks._bare_actor` with the same process and thread
counts on the same Redis; this process enqueues N messages and the clock stops when the SMTP
sink holds N more emails. The actor renders the same invitation template, builds the same
multipart message and sends it with aiosmtplib over one reused connection per worker thread.

Between the two, the floor (benchmarks._floor): the same path with nothing on it.

Both go through the same SMTP sink, running in a process of its own. By default it answers at
once, and both sides are bound by CPU (target: teamkeys / floor >= 0.6). With
`--smtp-delay-ms N` (the latency mode) it answers each message after N ms, as a hosted mail
relay does, and what bounds both sides is how many messages they have in flight at once
(target at 100 ms, 2 processes x 8 threads: teamkeys >= 0.85 x the bare actor); the floor,
a measure of CPU, is left out.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from benchmarks._harness import (
    REDIS_URL,
    Sink,
    flush_namespace,
    free_port,
    fresh_database,
    spawn,
    stop,
    teamkeys_env,
    wait_for,
    workers,
)
from benchmarks._proc import CpuMeter, per_unit_ms


def post_invitations(
    http: httpx.Client, path: str, headers: dict[str, str], n: int, concurrency: int
) -> None:
    """N invitations posted by ``concurrency`` clients at once, each answered 202."""

    def invite(i: int) -> None:
        response = http.post(
            path, json={"email": f"invitee{i}@example.com", "role": "user"}, headers=headers
        )
        assert response.status_code == 202, response.text

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(invite, range(n)))


def web_up(base: str) -> Callable[[], bool]:
    def up() -> bool:
        try:
            return httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return up


def run_teamkeys(args: argparse.Namespace, sink: Sink, logs: Path) -> dict[str, Any]:
    from teamkeys.migrate import upgrade

    n: int = args.invitations
    namespace = f"teamkeys-bench-{uuid.uuid4().hex[:8]}"
    with fresh_database() as url:
        upgrade(url)
        env = teamkeys_env(url, namespace, sink.port)
        if args.smtp_connections is not None:
            env["TEAMKEYS_SMTP_CONNECTIONS"] = str(args.smtp_connections)
        port = free_port()
        procs = [
            spawn(
                ["teamkeys.cli", "web", "--port", str(port), "--workers", str(args.web_workers)],
                env,
                logs / "web.log",
            ),
            spawn(["teamkeys.cli", "scheduler"], env, logs / "scheduler.log"),
            spawn(
                workers(["teamkeys.cli", "worker"], args.processes, args.threads),
                env,
                logs / "worker.log",
            ),
        ]
        engine = create_engine(url)
        meter = CpuMeter(
            {"web": procs[0].pid, "workers": procs[2].pid, "sink": sink.process.pid},
            {"postgres": "postgres", "redis": "redis-server"},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(web_up(base), 30, "teamkeys web")
            with httpx.Client(base_url=base, timeout=30) as http:
                emails_before = sink.count()
                owner = http.post(
                    "/v1/signup",
                    json={"email": "olive@example.com", "name": "Olive", "password": "x" * 16},
                ).json()
                headers = {"Authorization": f"Bearer {owner['token']}"}
                team_id = owner["team"]["id"]
                wait_for(lambda: sink.count() > emails_before, 30, "the verification email")
                # Her address is proved here rather than through the emailed link: what is
                # measured starts with the invitations.
                with engine.begin() as conn:
                    conn.execute(
                        text("UPDATE accounts SET email_verified_at = now() WHERE id = :id"),
                        {"id": owner["account"]["id"]},
                    )
                time.sleep(2.0)  # the worker processes are up and idle
                emails_before = sink.count()

                cpu_before = meter.read()
                started = time.perf_counter()
                post_invitations(
                    http, f"/v1/teams/{team_id}/invitations", headers, n, args.concurrency
                )
                requested = time.perf_counter() - started

                def all_sent() -> bool:
                    with engine.connect() as conn:
                        sent = conn.execute(
                            text("SELECT count(*) FROM invitations WHERE status = 'sent'")
                        ).scalar_one()
                    return int(sent) >= n

                wait_for(all_sent, 600, "every invitation sent", poll=0.05)
                elapsed = time.perf_counter() - started
                cpu = per_unit_ms(cpu_before, meter.read(), n)
            assert sink.count() - emails_before == n, "an invitation email was lost or doubled"
            with engine.connect() as conn:
                max_attempts = conn.execute(text("SELECT max(attempts) FROM jobs")).scalar_one()
        finally:
            for process in procs:
                stop(process)
            engine.dispose()
            flush_namespace(namespace)
    return {
        "elapsed": elapsed,
        "requested": requested,
        "max_attempts": float(max_attempts),
        "cpu": cpu,
    }


def run_floor(args: argparse.Namespace, sink: Sink, logs: Path) -> dict[str, Any]:
    """benchmarks._floor: the same path with nothing on it but one INSERT and one UPDATE."""
    n: int = args.invitations
    namespace = f"teamkeys-bench-floor-{uuid.uuid4().hex[:8]}"
    with fresh_database() as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE floor_invitations (id text PRIMARY KEY, email text, status text)"
                )
            )
        env = dict(os.environ)
        env.update(
            BENCH_DATABASE_URL=url,
            BENCH_REDIS_URL=REDIS_URL,
            BENCH_NAMESPACE=namespace,
            BENCH_SMTP_PORT=str(sink.port),
        )
        port = free_port()
        procs = [
            spawn(
                [
                    "uvicorn",
                    "--factory",
                    "benchmarks._floor:create_app",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(args.web_workers),
                ],
                env,
                logs / "floor-web.log",
            ),
            spawn(
                workers(["dramatiq", "benchmarks._floor"], args.processes, args.threads),
                env,
                logs / "floor-worker.log",
            ),
        ]
        meter = CpuMeter(
            {"web": procs[0].pid, "workers": procs[1].pid, "sink": sink.process.pid},
            {"postgres": "postgres", "redis": "redis-server"},
        )

        def sent() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM floor_invitations WHERE status = 'sent'")
                    ).scalar_one()
                )

        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(web_up(base), 30, "the floor's web")
            path = "/v1/teams/team_floor/invitations"
            with httpx.Client(base_url=base, timeout=30) as http:
                post_invitations(http, path, {}, 1, 1)  # warm-up
                wait_for(lambda: sent() == 1, 30, "the floor's warm-up email")
                time.sleep(2.0)
                cpu_before = meter.read()
                started = time.perf_counter()
                post_invitations(http, path, {}, n, args.concurrency)
                wait_for(lambda: sent() >= n + 1, 600, "every floor invitation sent")
                elapsed = time.perf_counter() - started
                cpu = per_unit_ms(cpu_before, meter.read(), n)
        finally:
            for process in procs:
                stop(process)
            engine.dispose()
            flush_namespace(namespace)
    return {"elapsed": elapsed, "cpu": cpu}


def run_bare(args: argparse.Namespace, sink: Sink, logs: Path) -> dict[str, Any]:
    n: int = args.invitations
    namespace = f"teamkeys-bench-bare-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update(BENCH_REDIS_URL=REDIS_URL, BENCH_NAMESPACE=namespace, BENCH_SMTP_PORT=str(sink.port))
    worker = spawn(
        workers(["dramatiq", "benchmarks._bare_actor"], args.processes, args.threads),
        env,
        logs / "bare-worker.log",
    )
    os.environ.update(BENCH_REDIS_URL=REDIS_URL, BENCH_NAMESPACE=namespace)
    from benchmarks import _bare_actor

    meter = CpuMeter({"workers": worker.pid, "sink": sink.process.pid}, {"redis": "redis-server"})
    try:
        # Warm up: one email, so both sides start with workers up and connections open.
        before = sink.count()
        _bare_actor.send_invitation_email.send("warmup@example.com")
        wait_for(lambda: sink.count() > before, 30, "the bare warm-up email")
        time.sleep(2.0)
        before = sink.count()
        cpu_before = meter.read()
        started = time.perf_counter()
        for i in range(n):
            _bare_actor.send_invitation_email.send(f"invitee{i}@example.com")
        wait_for(lambda: sink.count() >= before + n, 600, "every bare email")
        elapsed = time.perf_counter() - started
        cpu = per_unit_ms(cpu_before, meter.read(), n)
    finally:
        stop(worker)
        _bare_actor.broker.close()
        flush_namespace(namespace)
    return {"elapsed": elapsed, "cpu": cpu}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--invitations", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP clients at once")
    parser.add_argument("--web-workers", type=int, default=1, help="teamkeys web --workers")
    parser.add_argument(
        "--smtp-delay-ms",
        type=float,
        default=0.0,
        help="the sink answers each message after this long (the latency mode; no floor)",
    )
    parser.add_argument(
        "--smtp-connections",
        type=int,
        help="TEAMKEYS_SMTP_CONNECTIONS of the teamkeys workers (default: the setting's, "
        "one per worker thread; 1 is how teamkeys sent before it had a pool)",
    )
    args = parser.parse_args(argv)
    latency_mode = args.smtp_delay_ms > 0
    logs = Path(tempfile.mkdtemp(prefix="teamkeys-bench-"))
    n: int = args.invitations
    print(
        f"{n} invitations, web --workers {args.web_workers}, "
        f"workers --processes {args.processes} --threads {args.threads}, "
        f"{args.concurrency} HTTP clients; "
        + (f"SMTP answers after {args.smtp_delay_ms:g} ms; " if latency_mode else "")
        + (
            f"TEAMKEYS_SMTP_CONNECTIONS={args.smtp_connections}; "
            if args.smtp_connections is not None
            else ""
        )
        + f"logs in {logs}"
    )
    sink = Sink(args.smtp_delay_ms)
    try:
        ours = run_teamkeys(args, sink, logs)
        floor = None if latency_mode else run_floor(args, sink, logs)
        bare = run_bare(args, sink, logs)
    finally:
        sink.stop()
    ours_rate, bare_rate = n / ours["elapsed"], n / bare["elapsed"]
    print(
        f"teamkeys end to end : {ours_rate:7.1f} invitations/s "
        f"({ours['elapsed']:.2f} s; HTTP requests took {ours['requested']:.2f} s; "
        f"most attempts of a job {ours['max_attempts']:.0f})"
    )
    if floor is not None:
        floor_rate = n / floor["elapsed"]
        print(
            f"floor (same path, one INSERT and one UPDATE): {floor_rate:7.1f} invitations/s "
            f"({floor['elapsed']:.2f} s)"
        )
    print(f"bare Dramatiq actor : {bare_rate:7.1f} emails/s ({bare['elapsed']:.2f} s)")
    target = " (target >= 0.85)" if latency_mode else ""
    print(f"ratio               : {ours_rate / bare_rate:7.2f}{target}")
    if floor is not None:
        print(
            f"floor / bare        : {floor_rate / bare_rate:7.2f} "
            "(the path alone, with nothing on it)"
        )
        print(f"teamkeys / floor    : {ours_rate / floor_rate:7.2f} (target >= 0.6)")
    print(f"CPU per invitation, teamkeys : {ours['cpu']}")
    if floor is not None:
        print(f"CPU per invitation, floor    : {floor['cpu']}")
    print(f"CPU per email, bare actor    : {bare['cpu']}")


if __name__ == "__main__":
    main()

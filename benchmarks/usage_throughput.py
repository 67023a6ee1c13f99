"""Usage calls per second through the real HTTP stack (uvicorn, FastAPI, key verification,
idempotent insert, trial-cap upsert), side by side with the same stack answering an endpoint
that does one indexed SELECT, on SQLite and on PostgreSQL.

    python -m benchmarks.usage_throughput [--seconds 10] [--concurrency 8]
        [--backends sqlite,postgresql]

Each backend gets a fresh database; the server runs in its own process, the load comes from
this one over loopback. Printed: calls/s for both endpoints, their ratio (target >= 0.7), and
p50/p99 latency of one client at a time (target p99 < 10 ms). Uses wrk if installed
(Debian: apt-get install wrk), else an httpx client in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import time
import uuid

import httpx
from sqlalchemy import select

from api.deps import UowDep
from benchmarks._harness import KEY, ROOT, Figures, server_benchmark, start_server


def serve(database_url: str, port: int) -> None:
    """The server process: the production app plus one bench route doing one indexed SELECT."""
    import uvicorn

    from api.app import create_app
    from domain.models import Team
    from infra.settings import Settings
    from teamkeys.runtime import build_runtime

    settings = Settings(
        _env_file=None,
        database_url=database_url,  # type: ignore[call-arg]
        encryption_key=KEY,
        trial_monthly_calls=10**12,
        log_level="WARNING",
    )
    runtime = build_runtime(settings)
    app = create_app(runtime)

    def one_select(team_id: str, uow: UowDep) -> dict[str, str]:
        name = uow.session.scalar(select(Team.name).where(Team.id == team_id))
        return {"name": name or ""}

    app.add_api_route("/bench/select/{team_id}", one_select, methods=["GET"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def seed(database_url: str) -> tuple[str, str]:
    """A team with an active trial key; returns (team id, key secret)."""
    from domain.accounts import Client, sign_up
    from domain.api_keys import generate_api_key, request_api_key
    from domain.clock import utcnow
    from domain.models import KeyKind
    from domain.secrets import Passwords, SecretBox
    from infra.db import Database, make_engine
    from infra.ratelimits import Limiter
    from infra.services import build_policies
    from infra.settings import Settings
    from teamkeys.migrate import upgrade

    upgrade(database_url)
    db = Database(make_engine(database_url))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    policies = build_policies(settings)
    passwords = Passwords(policies.password_policy)
    box = SecretBox(KEY)
    with db.unit_of_work() as uow:
        issued, team = sign_up(
            uow.session,
            passwords,
            Limiter.from_settings(settings.rates, "", ""),
            policies.account_policy,
            email="bench@example.com",
            name="Bench",
            password="bench password",
            client=Client("127.0.0.1"),
        )
        issued.account.email_verified_at = utcnow()
        key = request_api_key(
            uow.session, issued.account, team.id, name="bench", kind=KeyKind.TRIAL
        )
        generate_api_key(uow.session, box, key.id)
        uow.commit()
        assert key.secret_encrypted is not None
        secret = box.open(key.secret_encrypted)
    db.dispose()
    return team.id, secret


async def load(
    url: str,
    *,
    seconds: float,
    concurrency: int,
    usage_secret: str | None,
) -> tuple[float, list[float], int]:
    """Closed-loop load: ``concurrency`` clients as fast as answers come back."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {usage_secret}"} if usage_secret else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if usage_secret:
                response = await http.post(
                    url,
                    headers=headers,
                    json={
                        "id": uuid.uuid4().hex,
                        "model": "gpt-x",
                        "input_tokens": 120,
                        "output_tokens": 40,
                    },
                )
            else:
                response = await http.get(url)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code >= 300

    async with httpx.AsyncClient(limits=limits, timeout=10) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


def wrk(
    url: str, *, seconds: float, concurrency: int, usage_secret: str | None
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx) measured by wrk, a C load generator, so the
    client's own CPU use does not cap the figures."""
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", url]
    env = dict(os.environ)
    if usage_secret:
        command[1:1] = ["-s", str(ROOT / "benchmarks" / "usage.lua")]
        env["TEAMKEYS_BENCH_KEY"] = usage_secret
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return rate, ms("50"), ms("99"), int(errors.group(1)) if errors else 0


def measure(
    url: str, *, seconds: float, concurrency: int, usage_secret: str | None
) -> tuple[float, float, float, int]:
    if shutil.which("wrk"):
        return wrk(url, seconds=seconds, concurrency=concurrency, usage_secret=usage_secret)
    rate, latencies, errors = asyncio.run(
        load(url, seconds=seconds, concurrency=concurrency, usage_secret=usage_secret)
    )
    return rate, percentile(latencies, 50), percentile(latencies, 99), errors


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def run_backend(name: str, database_url: str, args: argparse.Namespace) -> Figures:
    team_id, secret = seed(database_url)
    port = 18000 + os.getpid() % 1000
    server = start_server("benchmarks.usage_throughput", name, database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        select_url, usage_url = f"{base}/bench/select/{team_id}", f"{base}/v1/usage"
        print(f"\n[{name}] warming up …", flush=True)
        measure(select_url, seconds=2, concurrency=4, usage_secret=None)
        measure(usage_url, seconds=2, concurrency=4, usage_secret=secret)
        figures: dict[str, float] = {}
        for label, url, key in (("select", select_url, None), ("usage", usage_url, secret)):
            print(
                f"[{name}] {label}: {args.seconds:g} s at concurrency {args.concurrency}, "
                f"then {args.seconds:g} s at concurrency 1 …",
                flush=True,
            )
            rate, _, _, errors = measure(
                url, seconds=args.seconds, concurrency=args.concurrency, usage_secret=key
            )
            _, p50, p99, errors_1 = measure(
                url, seconds=args.seconds, concurrency=1, usage_secret=key
            )
            figures |= {
                f"{label}/s": rate,
                f"{label} p50": p50,
                f"{label} p99": p99,
                f"{label} errors": errors + errors_1,
            }
    finally:
        server.terminate()
        server.wait(timeout=10)
    return figures | {"ratio": figures["usage/s"] / figures["select/s"]}


def report(args: argparse.Namespace, results: dict[str, Figures]) -> None:
    client = "wrk" if shutil.which("wrk") else "httpx (install wrk for truer figures)"
    print(
        f"\nthroughput at concurrency {args.concurrency}, latency at concurrency 1, "
        f"{args.seconds:g} s each, loopback, client: {client}\n"
    )
    print(
        f"{'backend':<11}{'SELECT/s':>10}{'usage/s':>10}{'ratio':>8}"
        f"{'usage p50':>11}{'usage p99':>11}{'SELECT p99':>12}{'errors':>8}"
    )
    for backend, r in results.items():
        print(
            f"{backend:<11}{r['select/s']:>10.0f}{r['usage/s']:>10.0f}{r['ratio']:>8.2f}"
            f"{r['usage p50']:>9.1f}ms{r['usage p99']:>9.1f}ms{r['select p99']:>10.1f}ms"
            f"{int(r['select errors'] + r['usage errors']):>8}"
        )
    print("\ntargets: ratio >= 0.7, usage p99 < 10 ms")


if __name__ == "__main__":
    server_benchmark(__doc__, serve, run_backend, report, concurrency=8)

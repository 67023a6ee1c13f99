"""``GET /v1/me`` while people sign in: its median latency with the server idle, then with four
loops of sign-ins running against the same server, side by side in one run, on SQLite (the
embedded default) and on PostgreSQL.

    python -m benchmarks.sign_in_load [--seconds 10] [--loops 4] [--backends sqlite,postgresql]

Sign-in hashes the password with argon2id at the shipped cost (tens of milliseconds of CPU on
purpose). Hashing inside a database transaction would hold SQLite's write lock meanwhile and
stall every other request; teamkeys hashes outside any transaction, so what is left is the
CPU the hashes take from a two-core machine. Target: p50 under load at most 3x idle on the
embedded default. The server runs in its own process with the shipped argon2 settings and the
abuse limits raised (every loop signs in from 127.0.0.1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from typing import Any

import httpx

from benchmarks._harness import KEY, Figures, server_benchmark, start_server
from infra.settings import Settings

EMAIL, PASSWORD = "bench@example.com", "bench password, long enough"


def settings_for(database_url: str) -> Settings:
    """The shipped settings (argon2 cost included; the environment may change them) on
    ``database_url``, with the abuse limits out of the way."""
    from domain.limits import Limit

    unlimited: dict[str, Any] = {limit.setting: "1000000/minute" for limit in Limit}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        encryption_key=KEY,
        log_level="WARNING",
        **unlimited,
    )


def serve(database_url: str, port: int) -> None:
    import uvicorn

    from teamkeys.runtime import build_runtime
    from teamkeys.web import build_app

    runtime = build_runtime(settings_for(database_url))
    uvicorn.run(build_app(runtime), host="127.0.0.1", port=port, log_level="warning")


def seed(database_url: str) -> None:
    """One verified account with the shipped password hashing."""
    from domain import accounts
    from teamkeys.migrate import upgrade
    from teamkeys.runtime import build_runtime

    upgrade(database_url)
    runtime = build_runtime(settings_for(database_url))
    with runtime.db.unit_of_work() as uow:
        password_hash = accounts.hash_new_password(uow.session, runtime.passwords, PASSWORD)
        account = accounts.create_account(
            uow.session, email=EMAIL, name="Bench", password_hash=password_hash, verified=True
        )
        accounts.found_personal_team(uow.session, account)
        uow.commit()
    runtime.close()


def me_latencies(base: str, token: str, seconds: float) -> list[float]:
    """One client asking ``GET /v1/me`` back to back for ``seconds``; latencies in ms."""
    latencies = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            assert http.get("/v1/me").status_code == 200
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def sign_in_loop(base: str, stop: threading.Event, done: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        while not stop.is_set():
            answer = http.post("/v1/sessions", json={"email": EMAIL, "password": PASSWORD})
            assert answer.status_code == 201, answer.text
            done.append(1)


def run_backend(name: str, database_url: str, args: argparse.Namespace) -> Figures:
    seed(database_url)
    port = 19000 + os.getpid() % 1000
    server = start_server("benchmarks.sign_in_load", name, database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        token = httpx.post(
            f"{base}/v1/sessions", json={"email": EMAIL, "password": PASSWORD}
        ).json()["token"]
        print(f"\n[{name}] warming up, then {args.seconds:g} s idle …", flush=True)
        me_latencies(base, token, 2)
        idle = me_latencies(base, token, args.seconds)
        print(f"[{name}] {args.seconds:g} s with {args.loops} sign-in loops …", flush=True)
        stop, done = threading.Event(), list[int]()
        loops = [
            threading.Thread(target=sign_in_loop, args=(base, stop, done), daemon=True)
            for _ in range(args.loops)
        ]
        for loop in loops:
            loop.start()
        time.sleep(1)  # let the loops get going
        signed_in_before = len(done)
        loaded = me_latencies(base, token, args.seconds)
        signed_in = len(done) - signed_in_before
        stop.set()
        for loop in loops:
            loop.join(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    idle_p50, loaded_p50 = statistics.median(idle), statistics.median(loaded)
    return {
        "idle p50": idle_p50,
        "loaded p50": loaded_p50,
        "loaded p90": statistics.quantiles(loaded, n=10)[-1],
        "ratio": loaded_p50 / idle_p50,
        "sign-ins/s": signed_in / args.seconds,
    }


def report(args: argparse.Namespace, results: dict[str, Figures]) -> None:
    print(f"\nGET /v1/me, one client, {args.seconds:g} s each; {args.loops} sign-in loops\n")
    print(
        f"{'backend':<11}{'idle p50':>10}{'loaded p50':>12}{'loaded p90':>12}"
        f"{'ratio':>8}{'sign-ins/s':>12}"
    )
    for backend, r in results.items():
        print(
            f"{backend:<11}{r['idle p50']:>8.1f}ms{r['loaded p50']:>10.1f}ms"
            f"{r['loaded p90']:>10.1f}ms{r['ratio']:>8.2f}{r['sign-ins/s']:>12.1f}"
        )


if __name__ == "__main__":
    server_benchmark(__doc__, serve, run_backend, report, loops=4)

"""The team console's heaviest pages against the API calls that return the same data, side by
side in one run: members, API keys and a year of usage, for a team of 100 members with 200 keys
and a year of daily usage.

    python -m benchmarks.team_pages [--seconds 10] [--backends sqlite,postgresql]

Each pair is timed back to back by one client (median of many requests each, after a warm-up):
the page (rendered HTML, signed in with the page cookie) and its API call (JSON, bearer
token). Target: each page at most 3x its API call.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from benchmarks._harness import Figures, server_benchmark, start_server
from benchmarks.sign_in_load import serve, settings_for

EMAIL, PASSWORD = "owner@bench.example", "bench password, long enough"
MEMBERS, KEYS, DAYS = 100, 200, 365
MODELS = ("teamkeys-large", "teamkeys-small")


def seed(database_url: str) -> str:
    """The team: an owner, 99 users, 200 active keys, a year of usage; its id."""
    from domain import accounts
    from domain.models import ApiKey, KeyKind, KeyStatus, Membership, Role, UsageRecord
    from teamkeys.migrate import upgrade
    from teamkeys.runtime import build_runtime

    upgrade(database_url)
    runtime = build_runtime(settings_for(database_url))
    now = datetime.now(UTC)
    with runtime.db.unit_of_work() as uow:
        password_hash = accounts.hash_new_password(uow.session, runtime.passwords, PASSWORD)
        owner = accounts.create_account(
            uow.session, email=EMAIL, name="Owner", password_hash=password_hash, verified=True
        )
        team = accounts.found_personal_team(uow.session, owner)
        people = [owner]
        for n in range(1, MEMBERS):
            person = accounts.create_account(
                uow.session,
                email=f"member{n}@bench.example",
                name=f"Member {n}",
                password_hash=password_hash,
                verified=True,
            )
            uow.session.add(
                Membership(account_id=person.id, team_id=team.id, role=Role.USER, joined_at=now)
            )
            people.append(person)
        uow.session.flush()
        keys = []
        for n, person in zip(range(KEYS), itertools.cycle(people), strict=False):
            kind = KeyKind.TRIAL if n % 2 else KeyKind.PRODUCTION
            key = ApiKey(
                team_id=team.id,
                name=f"key {n}",
                kind=kind,
                status=KeyStatus.ACTIVE,
                created_by=person.id,
                activated_at=now,
                last4=f"{n:04d}",
                secret_digest=f"{n:064x}",
            )
            uow.session.add(key)
            keys.append(key)
        uow.session.flush()
        for day in range(DAYS):
            moment = now - timedelta(days=day)
            for n, (model, key) in enumerate(itertools.product(MODELS, keys[:2])):
                uow.session.add(
                    UsageRecord(
                        team_id=team.id,
                        request_id=f"req-{day}-{n}",
                        api_key_id=key.id,
                        key_kind=key.kind,
                        model=model,
                        input_tokens=1000 + day,
                        output_tokens=500 + n,
                        occurred_at=moment,
                        occurred_on=moment.date(),
                    )
                )
        uow.commit()
        team_id = team.id
    runtime.close()
    return team_id


def median_ms(http: httpx.Client, path: str, seconds: float) -> float:
    for _ in range(3):  # warm-up
        assert http.get(path).status_code == 200, path
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        started = time.perf_counter()
        answer = http.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(times)


def run_backend(name: str, database_url: str, args: argparse.Namespace) -> Figures:
    print(f"\n[{name}] seeding {MEMBERS} members, {KEYS} keys, {DAYS} days of usage …", flush=True)
    team_id = seed(database_url)
    port = 19500 + os.getpid() % 400
    server = start_server("benchmarks.team_pages", name, database_url, port)
    base = f"http://127.0.0.1:{port}"
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=DAYS - 1)).isoformat(), today.isoformat()
    pairs = {
        "members": (f"/v1/teams/{team_id}/members", "/team/members"),
        "keys": (f"/v1/teams/{team_id}/api-keys", "/team/keys"),
        "usage": (
            f"/v1/teams/{team_id}/usage?start={start}&end={end}",
            f"/team/usage?from={start}&to={end}",
        ),
    }
    figures: Figures = {}
    try:
        token = httpx.post(
            f"{base}/v1/sessions", json={"email": EMAIL, "password": PASSWORD}
        ).json()["token"]
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        pages = httpx.Client(base_url=base, cookies={"tk_session": token})
        with api, pages:
            for what, (api_path, page_path) in pairs.items():
                print(f"[{name}] {what}: {args.seconds:g} s each …", flush=True)
                api_ms = median_ms(api, api_path, args.seconds)
                page_ms = median_ms(pages, page_path, args.seconds)
                figures[f"{what} api"] = api_ms
                figures[f"{what} page"] = page_ms
                figures[f"{what} ratio"] = page_ms / api_ms
    finally:
        server.terminate()
        server.wait(timeout=10)
    return figures


def report(args: argparse.Namespace, results: dict[str, Figures]) -> None:
    print(f"\nmedian ms per request, one client, {args.seconds:g} s each; target: page <= 3x API\n")
    print(f"{'backend':<11}{'page':<9}{'API ms':>9}{'page ms':>9}{'ratio':>8}")
    for backend, figures in results.items():
        for what in ("members", "keys", "usage"):
            print(
                f"{backend:<11}{what:<9}{figures[f'{what} api']:>9.1f}"
                f"{figures[f'{what} page']:>9.1f}{figures[f'{what} ratio']:>8.2f}"
            )


if __name__ == "__main__":
    server_benchmark(__doc__, serve, run_backend, report)

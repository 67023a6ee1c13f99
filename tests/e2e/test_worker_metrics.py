"""``teamkeys worker`` as production runs it (Dramatiq's processes against PostgreSQL + Redis):
its metrics port counts the jobs all its processes ran, and every line of every process is one
JSON object, a job's carrying the id of the request that caused it."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from domain.models import Account
from infra.settings import Settings
from tests.e2e.test_observability import scrape
from tests.error_body import assert_error
from tests.faults import Deployment, WorkerProcess
from tests.faulty_sink import FaultySink
from tests.support import (
    free_port,
    metric_samples,
    metric_total,
    metric_value,
    services_only,
    to,
    wait_until,
)

pytestmark = [
    pytest.mark.redis,
    services_only(
        "`teamkeys worker` needs PostgreSQL + Redis: the embedded backend cannot share its "
        "broker with worker processes"
    ),
]

TOKEN = "worker-metrics-test-token"


def test_the_worker_metrics_port_counts_the_jobs_of_all_its_processes(
    redis_settings: Settings, sink: FaultySink, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    port = free_port()
    settings = redis_settings.model_copy(
        update={
            "worker_metrics_port": port,
            "log_format": "json",
            "metrics_networks": "",  # the token only, here: a stranger's view of both ports
            "metrics_token": TOKEN,
        }
    )
    log_path = tmp_path / "worker.log"
    workers.append(WorkerProcess(settings, log_path, processes=2, threads=2))
    emails = [f"guest{i}@example.com" for i in range(4)]
    try:
        with (
            Deployment(settings) as web,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as worker_port,
        ):
            owner = web.http.post(
                "/v1/signup",
                json={"email": "olive@example.com", "name": "Olive", "password": "a good password"},
            ).json()
            with web.runtime.db.unit_of_work() as uow:  # quick set-up: her email is verified
                account = uow.session.get(Account, owner["account"]["id"])
                assert account is not None
                account.email_verified_at = account.created_at
                uow.commit()
            headers = {"Authorization": f"Bearer {owner['token']}"}
            for i, email in enumerate(emails):
                invited = web.http.post(
                    f"/v1/teams/{owner['team']['id']}/invitations",
                    json={"email": email, "role": "user"},
                    headers={**headers, "X-Request-ID": f"invite-{i}"},
                )
                assert invited.status_code == 202, invited.text

            def counted() -> bool:
                try:
                    answer = worker_port.get(
                        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                    )
                except httpx.TransportError:
                    return False  # not listening yet
                samples = metric_samples(answer.text)
                done = metric_value(
                    samples, "teamkeys_jobs_total", actor="send_invitation", outcome="done"
                )
                return done == len(emails)

            wait_until(counted, timeout=30, what="the worker port to count the invitations")
            for email in emails:
                sink.wait_for(to(email))

            assert_error(worker_port.get("/metrics"), 403, "not_allowed")
            wrong = worker_port.get("/metrics", headers={"Authorization": "Bearer guess"})
            assert_error(wrong, 403, "not_allowed")
            jobs = metric_samples(
                worker_port.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
            )
            assert (
                metric_value(
                    jobs,
                    "teamkeys_job_duration_seconds_count",
                    actor="send_invitation",
                    outcome="done",
                )
                == 4
            )

            # The web process ran no job; it shows the database's figures.
            assert_error(web.http.get("/metrics"), 403, "not_allowed")
            served = scrape(web.http, Authorization=f"Bearer {TOKEN}")
            assert metric_total(served, "teamkeys_jobs_total") == 0
            assert metric_value(served, "teamkeys_emails", status="sent") >= 4

            def backlog() -> float:
                return metric_total(
                    scrape(web.http, Authorization=f"Bearer {TOKEN}"),
                    "teamkeys_outbox_pending_jobs",
                )

            wait_until(lambda: backlog() == 0, what="the outbox empty")
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(Path(tempfile.gettempdir()) / f"teamkeys-metrics-worker-{port}", True)

    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line of every process is JSON
    loggers = {entry["logger"] for entry in entries}
    assert {"dramatiq.MainProcess", "dramatiq.WorkerProcess(0)", "teamkeys.jobs"} <= loggers
    done = {
        entry["request_id"]
        for entry in entries
        if entry["logger"] == "teamkeys.jobs" and "send_invitation" in entry["message"]
    }
    assert done == {f"invite-{i}" for i in range(len(emails))}

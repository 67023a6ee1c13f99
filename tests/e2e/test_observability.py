"""What an operator watches, over HTTP as their tools see it: ``/metrics`` after a batch of work
(and who may read it), the request id a request is answered with and that its jobs log, JSON
log lines from ``teamkeys dev``, and the API docs served without a CDN."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from domain.models import Job
from domain.scheduler_lease import scheduler_last_beat
from infra.settings import Settings
from tests.conftest import System, running_system
from tests.error_body import assert_error
from tests.faulty_sink import FaultySink
from tests.support import (
    Samples,
    metric_samples,
    metric_total,
    metric_value,
    teamkeys_dev,
    to,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
INVITATIONS = "/v1/teams/{team_id}/invitations"


def scrape(http: httpx.Client, **headers: str) -> Samples:
    response = http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return metric_samples(response.text)


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_after_a_batch_of_invitations_count_exactly_that_batch(system: System) -> None:
    owner = system.sign_up("Olive")
    team_id = owner["team"]["id"]
    emails = [f"guest{i}@example.com" for i in range(5)]
    for email in emails:
        invited = system.http.post(
            f"/v1/teams/{team_id}/invitations",
            json={"email": email, "role": "user"},
            headers=owner["headers"],
        )
        assert invited.status_code == 202, invited.text
    refused = system.http.post(
        f"/v1/teams/{team_id}/invitations",
        json={"email": "guest@example.com", "role": "emperor"},
        headers=owner["headers"],
    )
    assert refused.status_code == 422
    secret_token = "inv_" + "x" * 40
    assert system.http.get(f"/v1/invitations/{secret_token}").status_code == 410

    def all_sent() -> Samples | None:
        samples = scrape(system.http)
        done = metric_value(samples, "teamkeys_jobs_total", actor="send_invitation", outcome="done")
        return samples if done == len(emails) else None

    samples = wait_until(all_sent, timeout=20, what="the invitation jobs counted done")
    assert len([m for e in emails for m in system.sink.messages if to(e)(m)]) == len(emails)

    route = {"method": "POST", "route": INVITATIONS}
    assert metric_value(samples, "teamkeys_http_requests_total", **route, status="202") == 5
    assert metric_value(samples, "teamkeys_http_requests_total", **route, status="422") == 1
    assert metric_value(samples, "teamkeys_http_request_duration_seconds_count", **route) == 6
    link = {"method": "GET", "route": "/v1/invitations/{token}", "status": "410"}
    assert metric_value(samples, "teamkeys_http_requests_total", **link) == 1
    assert (
        metric_value(
            samples, "teamkeys_job_duration_seconds_count", actor="send_invitation", outcome="done"
        )
        == 5
    )
    assert metric_total(samples, "teamkeys_jobs_total") == 5  # no retry, no death, nothing skipped
    assert metric_value(samples, "teamkeys_emails", status="sent") == 5
    assert metric_value(samples, "teamkeys_emails", status="queued") == 0
    assert metric_total(samples, "teamkeys_outbox_pending_jobs") == 0
    assert metric_total(samples, "teamkeys_outbox_oldest_pending_age_seconds") == 0
    with system.runtime.db.unit_of_work() as uow:  # the embedded scheduler holds the lease
        beat = scheduler_last_beat(uow.session)
    assert beat is not None
    assert metric_value(samples, "teamkeys_scheduler_last_beat_timestamp_seconds") == pytest.approx(
        beat.timestamp(), abs=system.runtime.settings.scheduler_beat_seconds + 1
    )
    text = system.http.get("/metrics").text
    assert team_id not in text and secret_token not in text  # templates, never paths


def test_the_outbox_backlog_shows_jobs_waiting(system: System) -> None:
    owner = system.sign_up("Olive")
    with system.jobs_held():
        for email in ("ann@example.com", "ben@example.com"):
            invited = system.http.post(
                f"/v1/teams/{owner['team']['id']}/invitations",
                json={"email": email, "role": "user"},
                headers=owner["headers"],
            )
            assert invited.status_code == 202
        samples = scrape(system.http)
        assert metric_value(samples, "teamkeys_outbox_pending_jobs", actor="send_invitation") == 2
        age = metric_value(
            samples, "teamkeys_outbox_oldest_pending_age_seconds", actor="send_invitation"
        )
        assert 0 <= age < 60
        assert (
            metric_value(samples, "teamkeys_emails", status="queued") == 0
        )  # made when the job runs


@pytest.fixture
def guarded(settings: Settings, sink: FaultySink) -> Iterator[System]:
    """A system behind a proxy on loopback, with a metrics token."""
    guarded = settings.model_copy(
        update={"trusted_proxies": "127.0.0.1", "metrics_token": "a-long-random-metrics-token"}
    )
    with running_system(guarded, sink) as running:
        yield running


def test_a_stranger_cannot_read_the_metrics_and_the_token_opens_them(guarded: System) -> None:
    stranger = {"X-Forwarded-For": "203.0.113.7"}  # forwarded by the trusted proxy
    refused = guarded.http.get("/metrics", headers=stranger)
    assert_error(refused, 403, "not_allowed")
    assert "teamkeys_" not in refused.text
    wrong = guarded.http.get("/metrics", headers={**stranger, "Authorization": "Bearer guess"})
    assert_error(wrong, 403, "not_allowed")
    opened = scrape(guarded.http, **stranger, Authorization="Bearer a-long-random-metrics-token")
    assert metric_total(opened, "teamkeys_http_requests_total") >= 2
    assert scrape(guarded.http)  # the operator's own machine (loopback) needs no token


def test_with_no_trusted_network_only_the_token_opens_the_metrics(
    settings: Settings, sink: FaultySink
) -> None:
    closed = settings.model_copy(update={"metrics_networks": ""})
    with running_system(closed, sink) as system:
        assert_error(system.http.get("/metrics"), 403, "not_allowed")
        # No token configured: no bearer opens them.
        assert_error(system.http.get("/metrics", headers={"Authorization": "Bearer x"}), 403)


# --- request ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    ["req-7f3a.9", "Root=1-67891233-abcdef012345678912345678", "a" * 64],
)
def test_a_request_id_given_by_the_client_is_echoed(system: System, given: str) -> None:
    answered = system.http.get("/healthz", headers={"X-Request-ID": given})
    assert answered.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", [None, "", "has space", "a" * 65, "-leading-dash", 'quote"d', "ünïcode"]
)
def test_a_request_without_a_usable_id_gets_a_new_one(system: System, given: str | None) -> None:
    headers = {} if given is None else {b"X-Request-ID": given.encode()}
    first = system.http.get("/v1/nothing-here", headers=headers)
    second = system.http.get("/v1/nothing-here", headers=headers)
    assert first.status_code == 404
    made = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in made), made
    assert made[0] != made[1]


def test_the_jobs_a_request_wrote_record_its_id(system: System) -> None:
    owner = system.sign_up("Olive")
    invited = system.http.post(
        f"/v1/teams/{owner['team']['id']}/invitations",
        json={"email": "ann@example.com", "role": "user"},
        headers={**owner["headers"], "X-Request-ID": "invite-ann-1"},
    )
    assert invited.status_code == 202
    assert invited.headers["x-request-id"] == "invite-ann-1"
    with system.runtime.db.unit_of_work() as uow:
        assert list(uow.session.scalars(select(Job.request_id))) == ["invite-ann-1"]


# --- one log format, JSON lines -----------------------------------------------------------------


def test_teamkeys_dev_logs_json_lines_and_a_job_logs_the_id_of_its_request(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "dev.log"
    with teamkeys_dev(tmp_path, log_path, TEAMKEYS_LOG_FORMAT="json") as (_, http):
        signed_up = http.post(
            "/v1/signup",
            json={"email": "ada@example.com", "name": "Ada", "password": "a good password"},
            headers={"X-Request-ID": "signup-ada-1"},
        )
        assert signed_up.status_code == 201, signed_up.text
        assert signed_up.headers["x-request-id"] == "signup-ada-1"

        def job_line() -> dict[str, Any] | None:
            for line in log_path.read_text().splitlines():
                if '"teamkeys.jobs"' in line and "send_account_link" in line:
                    found: dict[str, Any] = json.loads(line)
                    return found
            return None

        job = wait_until(job_line, timeout=15, what="the verification job's log line")
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    assert job["request_id"] == "signup-ada-1" and job["message"].endswith("done (attempt 1)")
    [access] = [e for e in entries if e["message"].startswith("POST /v1/signup -> 201")]
    assert access["logger"] == "teamkeys.access" and access["request_id"] == "signup-ada-1"


# --- API docs offline ---------------------------------------------------------------------------


class Assets(HTMLParser):
    """The addresses a page loads: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, url in attrs:
            if name in ("src", "href") and url is not None:
                self.urls.append(url)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_only_assets_this_server_serves(system: System, page: str) -> None:
    answered = system.http.get(page)
    assert answered.status_code == 200
    assert "default-src 'none'" in answered.headers["content-security-policy"]
    assert "http://" not in answered.text and "https://" not in answered.text
    assert "'/openapi.json'" in answered.text or '"/openapi.json"' in answered.text
    assets = Assets()
    assets.feed(answered.text)
    assert len(assets.urls) >= 2, assets.urls  # a script and an icon at least
    for url in assets.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = system.http.get(url)
        assert asset.status_code == 200 and asset.content, url

"""Chaos on PostgreSQL + Redis with real worker processes: a worker SIGKILLed mid-batch, Redis
gone while requests are made, the SMTP server refusing mail for a minute. Afterwards every job
is done, no email is lost or sent twice, and no invariant is broken. Each test prints how long
recovery took: from the end of the fault to the last job finished."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from domain.clock import utcnow
from domain.models import (
    Account,
    ApiKey,
    Email,
    Invitation,
    Job,
    Membership,
    MigrationTicket,
    ProductionStatus,
    Team,
)
from infra.mail.message import message_id_for
from infra.settings import Settings
from tests import support
from tests.e2e.conftest import AGENT_PASSWORD, run_add_agent
from tests.faults import Deployment, TcpProxy, WorkerProcess
from tests.faulty_sink import FaultySink
from tests.support import services_only, text_body, to, wait_until

pytestmark = [
    pytest.mark.redis,
    services_only(
        "chaos tests need PostgreSQL + Redis: the embedded backend cannot share its broker "
        "with worker processes"
    ),
]

PASSWORD = "correct horse battery"
CONSENT_LINK = re.compile(r"/migration-consents/(mct_[A-Za-z0-9_\-]+)")
Person = dict[str, Any]


# --- driving the API ---------------------------------------------------------------------------


def sign_up(http: httpx.Client, name: str, email: str) -> Person:
    response = http.post("/v1/signup", json={"email": email, "name": name, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body: Person = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    return body


def verified(http: httpx.Client, sink: FaultySink, name: str, email: str) -> Person:
    """Sign up, and open the link in the verification email (sent by the worker processes)."""
    person = sign_up(http, name, email)
    message = sink.wait_for(lambda m: to(email)(m) and "Confirm your email" in m["Subject"])
    found = re.search(r"/verify-email/(vfy_[\w-]+)", text_body(message))
    assert found is not None
    confirmed = http.post("/v1/email-verifications/confirm", json={"token": found.group(1)})
    assert confirmed.status_code == 200, confirmed.text
    return person


def add_agent(deployment: Deployment) -> Person:
    assert run_add_agent(deployment, "sam@support.teamkeys.test", "Sam") == 0
    signed_in = deployment.http.post(
        "/v1/sessions", json={"email": "sam@support.teamkeys.test", "password": AGENT_PASSWORD}
    )
    assert signed_in.status_code == 201, signed_in.text
    return {"headers": {"Authorization": f"Bearer {signed_in.json()['token']}"}}


def approve_for_production(deployment: Deployment, team_id: str) -> None:
    with deployment.runtime.db.unit_of_work() as uow:
        team = uow.session.get(Team, team_id)
        assert team is not None
        team.production_status = ProductionStatus.APPROVED
        uow.commit()


def invite(http: httpx.Client, owner: Person, emails: Iterable[str]) -> None:
    for email in emails:
        response = http.post(
            f"/v1/teams/{owner['team']['id']}/invitations",
            json={"email": email, "role": "user"},
            headers=owner["headers"],
        )
        assert response.status_code == 202, response.text


def request_keys(
    http: httpx.Client, owner: Person, names_and_kinds: Iterable[tuple[str, str]]
) -> None:
    for name, kind in names_and_kinds:
        response = http.post(
            f"/v1/teams/{owner['team']['id']}/api-keys",
            json={"name": name, "kind": kind},
            headers=owner["headers"],
        )
        assert response.status_code == 202, response.text


def consent_to(address: str) -> Callable[[EmailMessage], bool]:
    return lambda m: to(address)(m) and "move your account" in str(m["Subject"])


def consented_tickets(
    deployment: Deployment, sink: FaultySink, owner: Person, migrants: list[Person]
) -> list[str]:
    """Open a ticket for each migrant and accept it from the emailed consent link."""
    tickets = []
    for migrant in migrants:
        opened = deployment.http.post(
            f"/v1/teams/{owner['team']['id']}/migration-tickets",
            json={"email": migrant["account"]["email"], "role": "user", "note": "chaos"},
            headers=owner["headers"],
        )
        assert opened.status_code == 202, opened.text
        tickets.append(str(opened.json()["id"]))
    for migrant in migrants:
        message = sink.wait_for(consent_to(migrant["account"]["email"]), timeout=30)
        found = CONSENT_LINK.search(support.text_body(message))
        assert found
        decided = deployment.http.post(
            "/v1/migration-consents", json={"token": found.group(1), "decision": "accept"}
        )
        assert decided.status_code == 200, decided.text
    return tickets


# --- checking the outcome ----------------------------------------------------------------------


def wait_for_all_jobs_done(deployment: Deployment, timeout: float) -> datetime:
    """Block until every job is done; return when the last one finished."""

    def all_done() -> datetime | None:
        with deployment.runtime.db.unit_of_work() as uow:
            open_jobs = uow.session.scalar(
                select(func.count()).select_from(Job).where(Job.status != "done")
            )
            last = uow.session.scalar(select(func.max(Job.finished_at)))
        return last if open_jobs == 0 and last is not None else None

    finished: datetime = wait_until(all_done, timeout=timeout, what="every job done")
    return finished


def recovered(
    deployment: Deployment, what: str, fault_end: datetime, settings: Settings, timeout: float
) -> None:
    """Wait until every job is done, then print how long after ``fault_end`` that was."""
    last_done = wait_for_all_jobs_done(deployment, timeout=timeout)
    recovery = max((last_done - fault_end).total_seconds(), 0.0)
    print(
        f"\n{what}: recovered {recovery:.1f} s after the fault ended "
        f"(run lease {settings.job_run_lease_seconds:g} s, dispatch lease "
        f"{settings.job_dispatch_lease_seconds:g} s, relay every "
        f"{settings.relay_interval_seconds:g} s)"
    )


def assert_every_email_sent_once(deployment: Deployment, sink: FaultySink) -> None:
    """Every email row is sent and arrived exactly once; nothing arrived that has no row."""
    time.sleep(1.0)  # a late duplicate would arrive now
    messages = sink.messages
    by_id = Counter(str(m["Message-ID"]) for m in messages)
    by_recipient_and_subject = Counter((str(m["To"]), str(m["Subject"])) for m in messages)
    assert [k for k, n in by_id.items() if n > 1] == []
    assert [k for k, n in by_recipient_and_subject.items() if n > 1] == []
    domain = deployment.runtime.settings.mail_message_id_domain
    with deployment.runtime.db.unit_of_work() as uow:
        emails = list(uow.session.scalars(select(Email)))
    assert [(e.to_address, e.template, e.status) for e in emails if e.status != "sent"] == []
    assert {message_id_for(e.cause, domain) for e in emails} == set(by_id)


def assert_delivered_once(deployment: Deployment, sink: FaultySink, invitees: list[str]) -> None:
    """Every email arrived once, and every invitation to ``invitees`` in one round."""
    assert_every_email_sent_once(deployment, sink)
    assert_invitations_sent_once(deployment, sink, invitees)


def assert_invitations_sent_once(
    deployment: Deployment, sink: FaultySink, emails: list[str]
) -> None:
    with deployment.runtime.db.unit_of_work() as uow:
        invitations = list(uow.session.scalars(select(Invitation)))
    assert sorted(i.email for i in invitations) == sorted(emails)
    assert [(i.email, i.status) for i in invitations if i.status != "sent"] == []
    for invitation in invitations:
        rounds = [
            m for m in sink.messages if to(invitation.email)(m) and "invited you" in m["Subject"]
        ]
        assert len(rounds) == invitation.rotation == 1, invitation.email


def assert_invariants(deployment: Deployment) -> None:
    with deployment.runtime.db.unit_of_work() as uow:
        session = uow.session
        homeless = session.scalars(
            select(Account.email)
            .outerjoin(Membership, Membership.account_id == Account.id)
            .where(Account.is_support.is_(False), Membership.account_id.is_(None))
        ).all()
        assert homeless == [], "customer accounts without a team"
        owners = (
            select(func.count())
            .select_from(Membership)
            .where(Membership.team_id == Team.id, Membership.role == "owner")
            .scalar_subquery()
        )
        ownerless = session.scalars(
            select(Team.name).where(Team.closed_at.is_(None), owners < 1)
        ).all()
        assert ownerless == [], "open teams without an owner"


#: The killed worker's threads, each with its own SMTP connection (the pool's default size).
WORKER_THREADS = 2


# --- the faults --------------------------------------------------------------------------------


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    broker_settings: Settings,
    sink: FaultySink,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    with Deployment(broker_settings) as deployment:
        http = deployment.http
        workers.append(
            WorkerProcess(broker_settings, tmp_path / "worker-1.log", threads=WORKER_THREADS)
        )
        owner = verified(http, sink, "Olive", "olive@example.com")
        approve_for_production(deployment, owner["team"]["id"])
        agent = add_agent(deployment)
        migrants = [verified(http, sink, f"Mia {n}", f"mia{n}@example.com") for n in range(3)]
        tickets = consented_tickets(deployment, sink, owner, migrants)
        wait_for_all_jobs_done(deployment, timeout=30)

        # The batch, with the sink slow enough that the worker is surely mid-send when killed.
        sink.data_delay = 0.3
        invitees = [f"invitee{n}@example.com" for n in range(20)]
        invite(http, owner, invitees)
        request_keys(
            http,
            owner,
            [(f"trial {n}", "trial") for n in range(5)]
            + [(f"production {n}", "production") for n in range(5)],
        )
        for ticket_id in tickets:
            approved = http.post(
                f"/v1/support/migration-tickets/{ticket_id}/approve",
                json={"note": "ok"},
                headers=agent["headers"],
            )
            assert approved.status_code == 202, approved.text
        wait_until(
            lambda: sink.count(lambda m: "invited you" in m["Subject"]) >= 3,
            timeout=30,
            what="the worker mid-batch",
        )
        # Killed while every one of its threads waits for the server's answer to DATA, so
        # each has recorded its previous send: a kill between a server's "250" and that
        # record is at-least-once's one window (a re-send then carries the same Message-ID),
        # and with sends in parallel only holding them all keeps the kill out of it.
        sink.paused = True
        wait_until(
            lambda: sink.held >= WORKER_THREADS, timeout=30, what="every worker thread mid-send"
        )
        workers[0].kill()
        # Answer the held messages only once the sink has seen every killed connection close
        # (the worker's own process may outlive its parent by a moment): a held message whose
        # client is gone is not kept, so the run that takes the job over sends it once.
        wait_until(
            lambda: sink.gone >= WORKER_THREADS, timeout=30, what="the killed connections closed"
        )
        done_before = sink.count(lambda m: "invited you" in m["Subject"])
        sink.data_delay = 0.0
        sink.paused = False
        workers.append(WorkerProcess(broker_settings, tmp_path / "worker-2.log"))
        fault_end = utcnow()
        assert done_before < len(invitees), "the batch was over before the kill"

        recovered(deployment, "SIGKILL mid-batch", fault_end, broker_settings, timeout=90)

        assert_delivered_once(deployment, sink, invitees)
        with deployment.runtime.db.unit_of_work() as uow:
            keys = list(uow.session.scalars(select(ApiKey)))
            settled = list(uow.session.scalars(select(MigrationTicket)))
        assert len(keys) == 10 and [k.name for k in keys if k.status != "active"] == []
        assert len(settled) == 3 and [t.status for t in settled] == ["completed"] * 3
        assert_invariants(deployment)


def test_requests_made_while_redis_is_down_lose_and_double_nothing(
    broker_behind_proxy: tuple[TcpProxy, Deployment], sink: FaultySink
) -> None:
    proxy, deployment = broker_behind_proxy
    http = deployment.http
    owner = verified(http, sink, "Olive", "olive@example.com")
    approve_for_production(deployment, owner["team"]["id"])
    wait_for_all_jobs_done(deployment, timeout=30)

    proxy.down()
    invitees = [f"invitee{n}@example.com" for n in range(10)]
    invite(http, owner, invitees)
    request_keys(http, owner, [(f"production {n}", "production") for n in range(5)])
    for n in range(3):
        sign_up(http, f"Newcomer {n}", f"newcomer{n}@example.com")
    time.sleep(2.0)
    assert sink.count(lambda m: "invited you" in m["Subject"]) == 0

    proxy.up()
    fault_end = utcnow()
    settings = deployment.runtime.settings
    recovered(deployment, "Redis down during requests", fault_end, settings, timeout=60)

    assert_delivered_once(deployment, sink, invitees)
    with deployment.runtime.db.unit_of_work() as uow:
        keys = list(uow.session.scalars(select(ApiKey)))
    assert len(keys) == 5 and [k.name for k in keys if k.status != "active"] == []
    assert_invariants(deployment)


REFUSAL_SECONDS = 60.0


def test_an_smtp_server_refusing_mail_for_a_minute_loses_and_doubles_nothing(
    broker_settings: Settings,
    sink: FaultySink,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    # Backoff stays at the test's 0.2-1 s; enough attempts to outlast the minute.
    patient = broker_settings.model_copy(update={"job_max_attempts": 1000})
    with Deployment(patient) as deployment:
        http = deployment.http
        workers.append(WorkerProcess(patient, tmp_path / "worker.log"))
        owner = verified(http, sink, "Olive", "olive@example.com")
        wait_for_all_jobs_done(deployment, timeout=30)
        before = len(sink.messages)

        sink.refuse_with = (451, "4.3.0 try again later")
        refused_from = time.monotonic()
        invitees = [f"invitee{n}@example.com" for n in range(20)]
        invite(http, owner, invitees[:10])
        sign_up(http, "Newcomer 1", "newcomer1@example.com")
        time.sleep(REFUSAL_SECONDS / 2)
        invite(http, owner, invitees[10:])
        sign_up(http, "Newcomer 2", "newcomer2@example.com")
        time.sleep(max(REFUSAL_SECONDS - (time.monotonic() - refused_from), 0.0))
        assert len(sink.messages) == before
        sink.refuse_with = None
        fault_end = utcnow()

        recovered(deployment, "SMTP refusing (451) for a minute", fault_end, patient, timeout=60)

        with deployment.runtime.db.unit_of_work() as uow:
            most_attempts = uow.session.scalar(select(func.max(Job.attempts)))
        assert most_attempts is not None and most_attempts > 10  # the refusals really happened
        assert_delivered_once(deployment, sink, invitees)
        assert_invariants(deployment)


def test_a_worker_stopped_mid_batch_finishes_its_jobs_and_gives_the_rest_back(
    redis_settings: Settings,
    sink: FaultySink,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    """SIGTERM to the worker's whole process group, as honcho and systemd send it: every
    Dramatiq worker process gets it twice (from the group kill and from Dramatiq's main
    process) and must still finish its running jobs, give its prefetched messages back and
    exit 0. A job cut off mid-run would be attempted twice, after a run lease longer than this
    test waits."""
    patient = redis_settings.model_copy(update={"job_run_lease_seconds": 120.0})
    with Deployment(patient) as deployment:
        http = deployment.http
        log_path = tmp_path / "worker-1.log"
        workers.append(WorkerProcess(patient, log_path, processes=2, threads=2))
        workers[0].wait_ready()
        owner = verified(http, sink, "Olive", "olive@example.com")
        wait_for_all_jobs_done(deployment, timeout=30)

        sink.data_delay = 0.3  # each send holds its worker thread mid-DATA for a while
        invitees = [f"invitee{n}@example.com" for n in range(20)]
        invite(http, owner, invitees)
        wait_until(
            lambda: sink.held >= 1 and sink.count(lambda m: "invited you" in m["Subject"]) >= 2,
            timeout=30,
            what="the worker mid-batch and mid-send",
        )
        assert workers[0].terminate() == 0, log_path.read_text()
        done_before = sink.count(lambda m: "invited you" in m["Subject"])
        assert done_before < len(invitees), "the batch was over before the stop"

        log_text = log_path.read_text()
        assert "Stopping worker process" in log_text
        assert "Killing worker process" not in log_text
        assert "Traceback" not in log_text
        with deployment.runtime.db.unit_of_work() as uow:
            running = uow.session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.status == "pending", Job.started_at.is_not(None))
            )
        assert running == 0  # none was left mid-run, waiting for its run lease

        sink.data_delay = 0.0
        workers.append(WorkerProcess(patient, tmp_path / "worker-2.log"))
        wait_for_all_jobs_done(deployment, timeout=60)  # half the run lease
        assert_delivered_once(deployment, sink, invitees)
        with deployment.runtime.db.unit_of_work() as uow:
            attempts = uow.session.scalars(select(Job.attempts)).all()
        assert set(attempts) == {1}, "a job was cut off and run again"

"""The reliability contract, proven the hard way: workers killed mid-job, the broker down at
request time, the mail server down or refusing, and messages delivered twice."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from domain.models import Email, Job
from infra.settings import Settings
from teamkeys.runtime import Runtime
from tests.conftest import System
from tests.e2e.conftest import AddSupportAgent, dead_emails
from tests.faults import Deployment, TcpProxy, WorkerProcess
from tests.faulty_sink import FaultySink
from tests.support import to, wait_until


def emails_to(system: System, address: str) -> list[Email]:
    with system.runtime.db.unit_of_work() as uow:
        return list(uow.session.scalars(select(Email).where(Email.to_address == address)))


def job_of(runtime: Runtime, email_id: str) -> Job:
    """The job that sends the email: a ``send_email`` job names the email; the verification
    email's job names its link (the email's cause), and makes the email when it first runs."""
    with runtime.db.unit_of_work() as uow:
        email = uow.session.get(Email, email_id)
        assert email is not None
        kind, _, link_id = email.cause.partition(":")
        if kind == "account_link":
            found = Job.args["link_id"].as_string() == link_id
        else:
            found = Job.args["email_id"].as_string() == email_id
        job = uow.session.scalar(select(Job).where(found))
        assert job is not None
        return job


def sign_up(http: httpx.Client, email: str) -> None:
    """Sign up over HTTP: the verification email is the one these tests follow."""
    response = http.post(
        "/v1/signup", json={"email": email, "name": "Ada", "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text


def the_email_to(system: System, address: str) -> Email:
    """The one email to ``address``, once its job has put it on record."""
    found: list[Email] = wait_until(
        lambda: emails_to(system, address), what=f"an email to {address}"
    )
    [email] = found
    return email


def test_duplicate_delivery_of_a_job_sends_no_second_email(system: System) -> None:
    sign_up(system.http, "dup@example.com")
    system.sink.wait_for(to("dup@example.com"))
    email = the_email_to(system, "dup@example.com")
    job = job_of(system.runtime, email.id)

    # The broker delivers the finished job again, twice at once (at-least-once delivery).
    for _ in range(2):
        system.runtime.actors[job.name].send(job.id)
    system.runtime.broker.join("email")
    time.sleep(0.3)

    assert system.sink.count(to("dup@example.com")) == 1
    assert job_of(system.runtime, email.id).attempts == 1


def test_an_smtp_outage_loses_no_email(system: System) -> None:
    system.sink.stop()
    sign_up(system.http, "outage@example.com")
    email = the_email_to(system, "outage@example.com")
    failed = wait_until(lambda: job_of(system.runtime, email.id).attempts >= 2, what="retries")
    assert failed
    assert "SMTP" in (emails_to(system, "outage@example.com")[0].last_error or "")

    system.sink.start()
    system.sink.wait_for(to("outage@example.com"), timeout=15)
    wait_until(
        lambda: emails_to(system, "outage@example.com")[0].status == "sent",
        what="email recorded as sent",
    )
    time.sleep(0.5)
    assert system.sink.count(to("outage@example.com")) == 1


def test_a_temporary_refusal_is_retried_until_accepted(system: System) -> None:
    system.sink.refuse_with = (451, "4.3.0 try again later")
    sign_up(system.http, "busy@example.com")
    email = the_email_to(system, "busy@example.com")
    wait_until(lambda: job_of(system.runtime, email.id).attempts >= 2, what="a retry")
    system.sink.refuse_with = None
    system.sink.wait_for(to("busy@example.com"), timeout=15)
    assert system.sink.count(to("busy@example.com")) == 1


def test_a_permanent_refusal_is_recorded_and_never_retried(system: System) -> None:
    system.sink.refuse_with = (550, "5.1.1 no such mailbox")
    sign_up(system.http, "nobody@example.com")
    email = the_email_to(system, "nobody@example.com")
    wait_until(
        lambda: emails_to(system, "nobody@example.com")[0].status == "failed",
        what="the email marked failed",
    )
    job = job_of(system.runtime, email.id)
    assert job.status == "done" and job.attempts == 1
    assert "550" in (emails_to(system, "nobody@example.com")[0].last_error or "")


def test_an_email_that_never_gets_through_goes_dead_where_support_sees_it(
    system: System,
    add_support_agent: AddSupportAgent,
) -> None:
    system.sink.refuse_with = (421, "4.7.0 closing")
    sign_up(system.http, "never@example.com")
    email = the_email_to(system, "never@example.com")
    attempts = system.runtime.settings.job_max_attempts
    wait_until(
        lambda: job_of(system.runtime, email.id).status == "dead", timeout=30, what="the job to die"
    )
    assert job_of(system.runtime, email.id).attempts == attempts
    assert emails_to(system, "never@example.com")[0].status == "dead"

    # A support agent sees it, with the reason.
    dead = dead_emails(system, add_support_agent)
    [item] = [i for i in dead if i["to_address"] == "never@example.com"]
    assert item["template"] == "email_verification" and "421" in item["last_error"]


# --- with a real Redis and real worker processes -------------------------------------------


@pytest.mark.redis
def test_a_worker_killed_mid_job_loses_no_job(
    broker_settings: Settings,
    sink: FaultySink,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    sink.data_delay = 60.0  # the server sits on the message: the worker is stuck mid-send
    with Deployment(broker_settings) as deployment:
        workers.append(WorkerProcess(broker_settings, tmp_path / "worker-1.log"))
        sign_up(deployment.http, "killed@example.com")
        wait_until(lambda: sink.held == 1, timeout=30, what="the worker to be mid-send")

        workers[0].kill()
        killed_at = time.monotonic()
        sink.data_delay = 0.0
        workers.append(WorkerProcess(broker_settings, tmp_path / "worker-2.log"))

        sink.wait_for(to("killed@example.com"), timeout=150)
        recovery = time.monotonic() - killed_at
        print(
            f"\nrecovery after SIGKILL: {recovery:.1f} s "
            f"(run lease {broker_settings.job_run_lease_seconds:g} s, "
            f"relay every {broker_settings.relay_interval_seconds:g} s)"
        )
        time.sleep(1.0)
        assert sink.count(to("killed@example.com")) == 1
        with deployment.runtime.db.unit_of_work() as uow:
            email = uow.session.scalar(
                select(Email).where(Email.to_address == "killed@example.com")
            )
            assert email is not None and email.status == "sent"
        assert job_of(deployment.runtime, email.id).status == "done"


@pytest.mark.redis
def test_a_request_made_while_redis_is_down_loses_no_job(
    broker_behind_proxy: tuple[TcpProxy, Deployment], sink: FaultySink
) -> None:
    proxy, deployment = broker_behind_proxy
    proxy.down()

    sign_up(deployment.http, "offline@example.com")  # answered while Redis is away
    with deployment.runtime.db.unit_of_work() as uow:
        job = uow.session.scalar(select(Job))
        assert job is not None and job.status == "pending"
    time.sleep(1.0)
    assert sink.count(to("offline@example.com")) == 0

    proxy.up()
    came_back = time.monotonic()
    sink.wait_for(to("offline@example.com"), timeout=60)
    print(f"\ndelivered {time.monotonic() - came_back:.1f} s after Redis came back")
    time.sleep(0.5)
    assert sink.count(to("offline@example.com")) == 1

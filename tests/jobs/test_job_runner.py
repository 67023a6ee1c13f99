"""The job runner's claim: a job handed to several workers at once runs once, and a run whose
lease ran out changes nothing once another run has the job."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from email.message import EmailMessage

import pytest

from domain.emails import Address, NewEmail, Template, queue_email
from domain.jobs import JobName, enqueue_job, jobs_to_dispatch
from domain.models import Email, EmailStatus, Job, JobStatus
from infra.mail.errors import TransientMailError
from infra.mail.transport import MailTransport
from infra.mailsink import MailSink
from infra.metrics import JobOutcome
from teamkeys.runtime import Runtime
from workers.registry import JOB_SPECS
from workers.runner import JobRun, JobSpec, WorkerContext, run_job

ROUNDS = 5


def test_a_job_handed_to_two_workers_at_once_runs_once(runtime: Runtime) -> None:
    ctx = runtime.worker_context
    runs: list[str] = []

    def handler(_ctx: WorkerContext, _run: JobRun, email_id: str) -> None:
        runs.append(email_id)
        time.sleep(0.05)  # still running when the other worker tries

    spec = JobSpec("test_job", "tests", handler)
    for round_ in range(ROUNDS):
        with ctx.db.unit_of_work() as uow:
            job_id = enqueue_job(uow.session, JobName.SEND_EMAIL, email_id=f"round-{round_}").id
            # session.commit(), not uow.commit(): the job is not handed to the broker, and its
            # dispatch lease keeps the relay away, so only the two workers below see it.
            uow.session.commit()
        barrier = threading.Barrier(2)

        def worker(job_id: str = job_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=10)
            run_job(ctx, spec, job_id)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        with ctx.db.unit_of_work() as uow:
            job = uow.session.get(Job, job_id)
            assert job is not None
            assert (job.status, job.attempts) == (JobStatus.DONE, 1)
    assert runs == [f"round-{n}" for n in range(ROUNDS)]


def test_a_run_whose_lease_ran_out_changes_nothing_once_another_run_has_the_job(
    runtime: Runtime,
) -> None:
    """Run A stalls past its lease; the relay's re-delivery starts run B. A failing while B
    still runs must neither record a failure nor take the job from B, and B ends it."""
    ctx = runtime.worker_context
    a_started, a_may_fail = threading.Event(), threading.Event()
    b_started, b_may_end = threading.Event(), threading.Event()

    def handler(_ctx: WorkerContext, run: JobRun, email_id: str) -> None:
        if run.attempt == 1:
            a_started.set()
            assert a_may_fail.wait(timeout=10)
            raise RuntimeError("run A woke up after its lease ran out")
        b_started.set()
        assert b_may_end.wait(timeout=10)

    spec = JobSpec("test_job", "tests", handler)
    with ctx.db.unit_of_work() as uow:
        job_id = enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="stale").id
        uow.session.commit()  # not handed to the broker (see above)

    run_a = threading.Thread(target=run_job, args=(ctx, spec, job_id))
    run_a.start()
    assert a_started.wait(timeout=10)
    with ctx.db.unit_of_work() as uow:  # A's lease runs out
        job = uow.session.get(Job, job_id)
        assert job is not None and job.lease_until is not None
        job.lease_until = job.started_at
        uow.commit()
    run_b = threading.Thread(target=run_job, args=(ctx, spec, job_id))
    run_b.start()
    assert b_started.wait(timeout=10)

    a_may_fail.set()
    run_a.join(timeout=30)
    with ctx.db.unit_of_work() as uow:  # still B's, as B left it
        job = uow.session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.last_error) == (JobStatus.PENDING, None)
        assert job.started_at is not None and job.lease_until is not None
    b_may_end.set()
    run_b.join(timeout=30)

    with ctx.db.unit_of_work() as uow:
        job = uow.session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, None)


def job_status(ctx: WorkerContext, job_id: str) -> str | None:
    with ctx.db.unit_of_work() as uow:
        job = uow.session.get(Job, job_id)
        return job.status if job is not None else None


class StallingTransport:
    """The first send stalls until released, then fails as a dropped connection would; every
    later send goes through ``inner``."""

    def __init__(self, inner: MailTransport) -> None:
        self.inner = inner
        self.stalled, self.release = threading.Event(), threading.Event()
        self.sends = 0

    def send(self, message: EmailMessage) -> None:
        self.sends += 1
        if self.sends == 1:
            self.stalled.set()
            assert self.release.wait(timeout=10)
            raise TransientMailError("connection dropped after a long wait")
        self.inner.send(message)

    def close(self) -> None:
        self.inner.close()


def test_a_stale_runs_late_smtp_answer_leaves_the_email_as_the_run_that_sent_it_left_it(
    runtime: Runtime, sink: MailSink
) -> None:
    """Run A's SMTP conversation outlasts its lease; run B takes the job over and sends the
    email. A's late failure must not put the email back in the queue (it would be sent again)
    nor count an attempt on it."""
    transport = StallingTransport(runtime.worker_context.transport)
    ctx = replace(runtime.worker_context, transport=transport)
    spec = JOB_SPECS[JobName.SEND_EMAIL]
    with ctx.db.unit_of_work() as uow:
        email = queue_email(
            uow.session,
            NewEmail(
                Template.WELCOME,
                cause="test:stale-email",
                to=Address("stale@example.com", "Stale"),
                context={"account_name": "Stale", "team_name": "Stale's Team"},
                reason="A test sent this.",
            ),
        )
        email_id = email.id
        [job_id] = [job for job, _name in jobs_to_dispatch(uow.session)]
        uow.session.commit()  # not handed to the broker (see above)

    a = threading.Thread(target=run_job, args=(ctx, spec, job_id))
    a.start()
    assert transport.stalled.wait(timeout=10)
    with ctx.db.unit_of_work() as uow:  # A's lease runs out
        job = uow.session.get(Job, job_id)
        assert job is not None
        job.lease_until = job.started_at
        uow.commit()
    run_job(ctx, spec, job_id)  # run B: sends and records, before A wakes up
    assert job_status(ctx, job_id) == JobStatus.DONE
    transport.release.set()
    a.join(timeout=30)

    assert not a.is_alive()
    assert sink.count(lambda message: message["To"] == "Stale <stale@example.com>") == 1
    with ctx.db.unit_of_work() as uow:
        sent = uow.session.get(Email, email_id)
        assert sent is not None
        assert (sent.status, sent.attempts, sent.last_error) == (EmailStatus.SENT, 1, None)
        job = uow.session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.attempts) == (JobStatus.DONE, 2)


def test_a_run_that_returns_after_another_ended_its_job_says_so_and_counts_it_skipped(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """Run A stalls past its lease, run B takes the job over and ends it; A then returns as
    if all went well. A ends nothing, and says the job was another run's, not done."""
    ctx = runtime.worker_context
    outcomes: list[str] = []
    a_started, a_may_return = threading.Event(), threading.Event()

    def handler(_ctx: WorkerContext, run: JobRun, email_id: str) -> None:
        if run.attempt == 1:
            a_started.set()
            assert a_may_return.wait(timeout=10)

    spec = JobSpec("test_job", "tests", handler)
    with ctx.db.unit_of_work() as uow:
        job_id = enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="late").id
        uow.session.commit()
    counted = ctx.metrics.job
    ctx.metrics.job = lambda name, outcome, *rest: outcomes.append(outcome)  # type: ignore[method-assign]
    try:
        run_a = threading.Thread(target=run_job, args=(ctx, spec, job_id))
        run_a.start()
        assert a_started.wait(timeout=10)
        with ctx.db.unit_of_work() as uow:  # A's lease runs out
            job = uow.session.get(Job, job_id)
            assert job is not None
            job.lease_until = job.started_at
            uow.commit()
        run_job(ctx, spec, job_id)  # run B, to the end
        with caplog.at_level(logging.INFO, logger="teamkeys"):
            a_may_return.set()
            run_a.join(timeout=30)
    finally:
        ctx.metrics.job = counted  # type: ignore[method-assign]
    assert outcomes == [JobOutcome.DONE, JobOutcome.SKIPPED]
    said = [r.getMessage() for r in caplog.records]
    assert any("(attempt 1): its lease ran out and another run has it" in m for m in said), said
    assert not any("done (attempt 1)" in m for m in said), said
    assert job_status(ctx, job_id) == JobStatus.DONE

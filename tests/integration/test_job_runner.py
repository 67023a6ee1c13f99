"""The job runner's claim: a job handed to several workers at once runs once."""

from __future__ import annotations

import threading
import time

from domain.jobs import JobName, enqueue_job
from domain.models import Job, JobStatus
from tests.conftest import System
from workers.runner import JobRun, JobSpec, WorkerContext, run_job

ROUNDS = 5


def test_a_job_handed_to_two_workers_at_once_runs_once(system: System) -> None:
    ctx = system.runtime.worker_context
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

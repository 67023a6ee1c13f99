"""Running one outbox job: claim it, run its handler, then record done, retry later, or dead.

Retries live here and nowhere else: a failed attempt is written back to the job row with the
time of the next try, and the relay hands it to the broker again then. Dramatiq's own retries
are off for our actors, so a job's whole history is in the database, visible to support.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dramatiq.middleware import Interrupt
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import Job, JobStatus
from domain.secrets import SecretBox
from infra.db import Database
from infra.logs import request_id
from infra.mail.errors import PermanentMailError
from infra.mail.render import EmailRenderer
from infra.mail.transport import MailTransport
from infra.metrics import JobOutcome, Metrics
from infra.services import Policies
from infra.settings import Settings

log = logging.getLogger("teamkeys.jobs")


class PermanentJobError(Exception):
    """The job can never succeed; retrying would only repeat the failure."""


@dataclass
class WorkerContext:
    """What a job handler may use: the database, settings and the mail pipeline."""

    settings: Settings
    db: Database
    renderer: EmailRenderer
    transport: MailTransport
    secret_box: SecretBox
    #: Key of the HMAC that makes emailed links' tokens (``domain.links``).
    link_secret: bytes
    #: The process's policies, built once from settings (``infra.services.build_policies``).
    policies: Policies
    #: Where each run's outcome and duration is counted.
    metrics: Metrics


@dataclass(frozen=True)
class JobSpec:
    """A kind of job: its queue, its handler, and what to record when it dies."""

    name: str
    queue: str
    handler: Callable[..., None]
    #: Called in the transaction that marks the job dead, to leave a trace support can see.
    on_dead: Callable[[Session, Job, str], None] | None = None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with jitter: min, 2 min, 4 min and so on, capped at max."""
    base = settings.job_min_backoff_seconds * 2 ** max(attempts - 1, 0)
    capped = min(base, settings.job_max_backoff_seconds)
    return timedelta(seconds=capped * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto


@dataclass
class JobRun:
    """One claimed run of a job, as its handler sees it.

    A handler calls :meth:`finish` in the transaction it commits last, so the job is marked
    done together with what it did: a worker dying between the two cannot leave the work
    done and the job pending. A handler that does not is finished by the runner on return.
    """

    job_id: str
    attempt: int
    #: When this run claimed the job: only this run may end it (not a stale one).
    started_at: datetime
    finished: bool = False
    #: :meth:`finish` found the job no longer this run's: its lease ran out, another run has
    #: it and ends it.
    lost: bool = False

    def finish(self, session: Session) -> bool:
        """Mark the job done in ``session``'s transaction, if this run still holds it; whether
        it did (a run whose lease ran out while another took the job over did not)."""
        ended = session.execute(
            update(Job)
            .where(*self.still_ours())
            .values(status=JobStatus.DONE, finished_at=utcnow(), lease_until=None, last_error=None)
        )
        self.finished = True
        self.lost = not ended.rowcount  # type: ignore[attr-defined]
        return not self.lost

    def still_ours(self) -> tuple[ColumnElement[bool], ...]:
        """Matches the job's row only while this run holds it: pending, claimed by this run."""
        return (
            Job.id == self.job_id,
            Job.status == JobStatus.PENDING,
            Job.started_at == self.started_at,
        )


def run_job(ctx: WorkerContext, spec: JobSpec, job_id: str) -> None:
    """Run ``job_id`` once, whatever number of times the broker delivers it; count how it went
    (``teamkeys_jobs_total``, ``teamkeys_job_duration_seconds``)."""
    started = time.perf_counter()
    claimed = _claim(ctx, job_id)
    if claimed is None:
        ctx.metrics.job(spec.name, JobOutcome.SKIPPED)
        return
    run, job_args, caused_by = claimed
    # Every line this run logs carries the id of the request that caused the job, and so do
    # the jobs it writes (``infra.db``).
    context = request_id.set(caused_by)
    try:
        outcome = _run(ctx, spec, run, job_args)
    finally:
        request_id.reset(context)
    ctx.metrics.job(spec.name, outcome, time.perf_counter() - started)


def _run(ctx: WorkerContext, spec: JobSpec, run: JobRun, job_args: dict[str, str]) -> str:
    try:
        spec.handler(ctx, run, **job_args)
        if not run.finished:
            with ctx.db.unit_of_work() as uow:
                run.finish(uow.session)
                uow.commit()
    except (PermanentJobError, PermanentMailError) as exc:
        # e.g. a template that does not render: retrying cannot help
        return _finish_failed(ctx, spec, run, exc, permanent=True)
    except (Exception, Interrupt) as exc:
        return _finish_failed(ctx, spec, run, exc, permanent=False)
    if run.lost:
        log.warning(
            "job %s %s (attempt %d): its lease ran out and another run has it, which ends it",
            spec.name,
            run.job_id,
            run.attempt,
        )
        return JobOutcome.SKIPPED
    log.info("job %s %s done (attempt %d)", spec.name, run.job_id, run.attempt)
    return JobOutcome.DONE


def _claim(ctx: WorkerContext, job_id: str) -> tuple[JobRun, dict[str, str], str | None] | None:
    """Mark the job started and leased to this worker, and give its arguments and the id of the
    request that caused it; ``None`` if it is not ours to run: done or dead already, an early
    duplicate (the relay sends it again when it is due), or running elsewhere right now.

    One conditional UPDATE: of two workers handed the same job at once, the second finds the
    row changed under its lock and claims nothing."""
    now = utcnow()
    claim = (
        update(Job)
        .where(
            Job.id == job_id,
            Job.status == JobStatus.PENDING,
            Job.available_at <= now,
            or_(Job.started_at.is_(None), Job.lease_until.is_(None), Job.lease_until <= now),
        )
        .values(
            attempts=Job.attempts + 1,
            started_at=now,
            lease_until=now + timedelta(seconds=ctx.settings.job_run_lease_seconds),
        )
        .returning(Job.args, Job.attempts, Job.request_id)
    )
    with ctx.db.engine.begin() as conn:
        row = conn.execute(claim).one_or_none()
    if row is None:
        log.debug("job %s: not ours to run now", job_id)
        return None
    return JobRun(job_id, int(row.attempts), now), dict(row.args), row.request_id


def _finish_failed(
    ctx: WorkerContext,
    spec: JobSpec,
    run: JobRun,
    exc: BaseException,
    *,
    permanent: bool,
) -> str:
    """Record the failed attempt; its outcome: dead, or to be retried."""
    reason = f"{type(exc).__name__}: {exc}"
    with ctx.db.unit_of_work() as uow:
        job = uow.session.scalar(select(Job).where(*run.still_ours()).with_for_update())
        if job is None:
            # Finished by this run before the failure, or no longer ours (its lease ran out and
            # another run has it): that run records its own outcome.
            log.warning("job %s %s: failed after it ended: %s", spec.name, run.job_id, reason)
            return JobOutcome.DONE if run.finished else JobOutcome.RETRY
        job.last_error = reason
        job.started_at, job.lease_until = None, None
        dead = permanent or job.attempts >= ctx.settings.job_max_attempts
        if dead:
            job.status, job.finished_at = JobStatus.DEAD, utcnow()
            if spec.on_dead is not None:
                spec.on_dead(uow.session, job, reason)
            log.error(
                "job %s %s dead after %d attempt(s): %s",
                spec.name,
                run.job_id,
                job.attempts,
                reason,
            )
        else:
            delay = backoff(ctx.settings, job.attempts)
            job.available_at = utcnow() + delay
            log.warning(
                "job %s %s failed (attempt %d), retrying in %.0f s: %s",
                spec.name,
                run.job_id,
                job.attempts,
                delay.total_seconds(),
                reason,
            )
        uow.commit()
    return JobOutcome.DEAD if dead else JobOutcome.RETRY

"""Running one outbox job: claim it, run its handler, then record done, retry later, or dead.

Retries live here and nowhere else: a failed attempt is written back to the job row with the
time of the next try, and the relay hands it to the broker again then. Dramatiq's own retries
are off for our actors, so a job's whole history is in the database, visible to support.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from dramatiq.middleware import Interrupt
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import Job, JobStatus
from domain.secrets import SecretBox
from teamkeys.db import Database
from teamkeys.settings import Settings
from workers.mail.errors import PermanentMailError
from workers.mail.render import EmailRenderer
from workers.mail.transport import MailTransport

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
    #: Key of the HMAC that makes invitation (and consent) links' tokens.
    link_secret: bytes


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


def run_job(ctx: WorkerContext, spec: JobSpec, job_id: str) -> None:
    """Run ``job_id`` once, whatever number of times the broker delivers it."""
    job_args = _claim(ctx, job_id)
    if job_args is None:
        return
    try:
        spec.handler(ctx, **job_args)
    except (PermanentJobError, PermanentMailError) as exc:
        # e.g. a template that does not render: retrying cannot help
        _finish_failed(ctx, spec, job_id, exc, permanent=True)
    except (Exception, Interrupt) as exc:
        _finish_failed(ctx, spec, job_id, exc, permanent=False)
    else:
        with ctx.db.unit_of_work() as uow:
            job = uow.session.get(Job, job_id, with_for_update=True)
            assert job is not None
            job.status, job.finished_at, job.lease_until = JobStatus.DONE, utcnow(), None
            job.last_error = None
            uow.commit()
        log.info("job %s %s done (attempt %d)", spec.name, job_id, job.attempts)


def _claim(ctx: WorkerContext, job_id: str) -> dict[str, str] | None:
    """Mark the job started and leased to this worker; ``None`` if it is not ours to run."""
    with ctx.db.unit_of_work() as uow:
        job = uow.session.get(Job, job_id, with_for_update=True)
        now = utcnow()
        if job is None or job.status != JobStatus.PENDING:
            log.debug("job %s: nothing to do (%s)", job_id, job.status if job else "missing")
            return None
        if job.available_at > now:
            return None  # an early duplicate; the relay sends it again when it is due
        if job.started_at is not None and job.lease_until is not None and job.lease_until > now:
            return None  # running elsewhere right now
        job.attempts += 1
        job.started_at = now
        job.lease_until = now + timedelta(seconds=ctx.settings.job_run_lease_seconds)
        args = dict(job.args)
        uow.commit()
        return args


def _finish_failed(
    ctx: WorkerContext,
    spec: JobSpec,
    job_id: str,
    exc: BaseException,
    *,
    permanent: bool,
) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    with ctx.db.unit_of_work() as uow:
        job = uow.session.get(Job, job_id, with_for_update=True)
        assert job is not None
        job.last_error = reason
        job.started_at, job.lease_until = None, None
        if permanent or job.attempts >= ctx.settings.job_max_attempts:
            job.status, job.finished_at = JobStatus.DEAD, utcnow()
            if spec.on_dead is not None:
                spec.on_dead(uow.session, job, reason)
            log.error(
                "job %s %s dead after %d attempt(s): %s", spec.name, job_id, job.attempts, reason
            )
        else:
            delay = backoff(ctx.settings, job.attempts)
            job.available_at = utcnow() + delay
            log.warning(
                "job %s %s failed (attempt %d), retrying in %.0f s: %s",
                spec.name,
                job_id,
                job.attempts,
                delay.total_seconds(),
                reason,
            )
        uow.commit()

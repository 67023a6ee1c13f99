"""Every kind of job, its queue and its Dramatiq actor: one actor per job (docs/product.md,
"Jobs")."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq

from domain import account_links, invitations, migration_tickets
from domain.jobs import JobName
from workers.billing import generate_invoice, generate_invoice_died, notify_invoice_owners
from workers.generate_api_key import generate_api_key
from workers.migrate_account import migrate_account
from workers.review_production import review_production
from workers.runner import JobSpec, WorkerContext, run_job
from workers.send_email import send_email, send_email_died
from workers.send_link import link_job

JOB_SPECS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(JobName.SEND_EMAIL, "email", send_email, on_dead=send_email_died),
        link_job(JobName.SEND_INVITATION, "invitations", invitations.SENDING),
        link_job(JobName.SEND_ACCOUNT_LINK, "email", account_links.SENDING),
        JobSpec(JobName.GENERATE_API_KEY, "api_keys", generate_api_key),
        JobSpec(JobName.REVIEW_PRODUCTION, "production", review_production),
        JobSpec(
            JobName.GENERATE_INVOICE, "billing", generate_invoice, on_dead=generate_invoice_died
        ),
        JobSpec(JobName.NOTIFY_INVOICE_OWNERS, "billing", notify_invoice_owners),
        link_job(JobName.SEND_MIGRATION_CONSENT, "migrations", migration_tickets.CONSENT_SENDING),
        JobSpec(JobName.MIGRATE_ACCOUNT, "migrations", migrate_account),
    )
}


#: A job's actor: it takes the job's id and nothing else.
JobActor = dramatiq.Actor[[str], None]


def time_limit_seconds(run_lease_seconds: float) -> float:
    """How long one run may take: shorter than the run lease, by a fifth of it and at most 10 s,
    so a stuck run is interrupted (and recorded as a failed attempt) before the lease ends and
    the relay hands the job to another worker — never two runs of one job at once."""
    return run_lease_seconds - min(run_lease_seconds / 5, 10.0)


def register_actors(broker: dramatiq.Broker, ctx: WorkerContext) -> dict[str, JobActor]:
    """Bind one actor per job kind to ``broker``.

    Dramatiq's retries are off (the runner retries through the outbox). Its time limit
    (:func:`time_limit_seconds`) interrupts a run before its lease ends.
    """
    time_limit_ms = int(time_limit_seconds(ctx.settings.job_run_lease_seconds) * 1000)
    return {
        name: dramatiq.actor(
            actor_name=name,
            queue_name=spec.queue,
            broker=broker,
            max_retries=0,
            time_limit=time_limit_ms,
        )(_performer(ctx, spec))
        for name, spec in JOB_SPECS.items()
    }


def _performer(ctx: WorkerContext, spec: JobSpec) -> Callable[[str], None]:
    def perform(job_id: str) -> None:
        run_job(ctx, spec, job_id)

    perform.__name__ = spec.name
    return perform

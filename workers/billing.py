"""Monthly invoices: the scheduler's trigger (with catch-up), the per-team job, and the job
that tells an invoice's owners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.billing import (
    INVOICE_BATCH,
    Generated,
    Period,
    PriceSchedule,
    check_closed,
    count_in_run,
    due_at,
    first_run,
    format_money,
    generate_invoices,
    invoice_emails,
    start_run,
    teams_with_production_usage,
)
from domain.clock import utcnow
from domain.jobs import JobName, enqueue_jobs
from domain.models import Job, ScheduledRun
from infra.db import Database
from workers.runner import JobRun, WorkerContext

log = logging.getLogger("teamkeys.billing")

#: How far back a restarted scheduler catches up on months it missed (never before its first run).
CATCH_UP_MONTHS = 12


def schedule_invoices(db: Database, currency: str, now: datetime | None = None) -> list[str]:
    """Enqueue one invoice job per team with production usage, for every month (of the last
    twelve, none that ended before the scheduler's first run on this database) whose run time
    has passed and that no scheduler has run yet. The run's rows are written in the same
    transaction as its jobs, so two schedulers cannot both run a month."""
    now = now or utcnow()
    with db.unit_of_work() as uow:
        began = first_run(uow.session, now)
        uow.commit()
    period = Period.of(now).previous
    due: list[Period] = []
    for _ in range(CATCH_UP_MONTHS):
        if due_at(period) <= now and period.end >= began:
            due.append(period)
        period = period.previous
    scheduled = []
    for period in reversed(due):
        with db.unit_of_work() as uow:
            if uow.session.get(ScheduledRun, ("invoices", str(period))) is not None:
                continue
            try:
                with uow.session.begin_nested():
                    uow.session.add(ScheduledRun(name="invoices", key=str(period), ran_at=now))
            except IntegrityError:
                continue  # another scheduler got there first
            teams = teams_with_production_usage(uow.session, period)
            invoice_run = start_run(
                uow.session, period, "scheduler", teams=len(teams), currency=currency, now=now
            )
            enqueue_jobs(
                uow.session,
                JobName.GENERATE_INVOICE,
                [
                    {"team_id": team_id, "period": str(period), "run_id": invoice_run.id}
                    for team_id in teams
                ],
            )
            uow.commit()
        if teams:
            log.info(
                "invoices for %s: %d job(s) enqueued, one per team with production usage",
                period,
                len(teams),
            )
        else:
            log.info("invoices for %s: nothing to bill (no production usage recorded)", period)
        scheduled.append(str(period))
    return scheduled


def generate_invoice(
    ctx: WorkerContext, run: JobRun, team_id: str, period: str, run_id: str | None = None
) -> None:
    """The per-team job; running it again changes nothing. Its run (``run_id``) counts it in
    the same transaction."""
    with ctx.db.unit_of_work() as uow:
        result = generate_invoices(
            uow.session, Period.parse(period), ctx.settings.prices, [team_id]
        )
        if not run.finish(uow.session):
            # This run's lease ran out and another run has the job: that one issues and counts
            # the invoice; this one's work rolls back (the runner says so).
            return
        if run_id is not None:
            count_in_run(uow.session, run_id, result.created, teams=1)
        uow.commit()
    for invoice in result.created:
        log.info(
            "invoice %s for team %s, %s: %s",
            invoice.id,
            team_id,
            period,
            format_money(invoice.total_cents, invoice.currency),
        )


def generate_invoice_died(session: Session, job: Job, reason: str) -> None:
    """A team's invoice job out of attempts: its run counts the team as failed, so the run
    finishes and shows it (the job, dead with its reason, is in the jobs table)."""
    run_id = job.args.get("run_id")
    if run_id:
        count_in_run(session, str(run_id), [], teams=1, failed=1)


def notify_invoice_owners(ctx: WorkerContext, run: JobRun, invoice_id: str) -> None:
    """Queue the invoice's ``invoice_ready`` emails, one per owner the team has now; each goes
    out as a ``send_email`` job of its own, so one owner's mail server refusing for a while
    delays only that owner's email. Running it again queues nothing new."""
    with ctx.db.unit_of_work() as uow:
        invoice_emails(uow.session, invoice_id)
        run.finish(uow.session)
        uow.commit()


@dataclass
class IssuedInvoices(Generated):
    """What one run of :func:`issue_invoices` did: its batches' results added up, and how many
    teams had production usage."""

    teams: int = 0


def issue_invoices(
    db: Database,
    prices: PriceSchedule,
    period: Period,
    *,
    batch: int = INVOICE_BATCH,
    progress: Callable[[str], None] | None = None,
) -> IssuedInvoices:
    """Issue ``period``'s invoices for every team with production usage, ``batch`` teams per
    transaction: what `teamkeys invoices generate` (and `teamkeys demo`) run, recorded as a run
    of its own. Idempotent per team and period; owners' emails go through the outbox."""
    check_closed(period)  # before the run is recorded: a refused month leaves no run behind
    issued = IssuedInvoices()
    with db.unit_of_work() as uow:
        teams = teams_with_production_usage(uow.session, period)
        run_id = start_run(
            uow.session, period, "command", teams=len(teams), currency=prices.currency
        ).id
        uow.commit()
    issued.teams = len(teams)
    if progress:
        progress(f"{period}: {len(teams)} team(s) with production usage")
    for start in range(0, len(teams), batch):
        chunk = teams[start : start + batch]
        try:
            with db.unit_of_work() as uow:
                result = generate_invoices(uow.session, period, prices, chunk)
                count_in_run(uow.session, run_id, result.created, teams=len(chunk))
                uow.commit()
        except Exception:
            # The run ends here, with the teams not reached counted failed (as a dead job's
            # team is): it shows finished, with what it did not do, instead of running for ever.
            left = len(teams) - start
            with db.unit_of_work() as uow:
                count_in_run(uow.session, run_id, [], teams=left, failed=left)
                uow.commit()
            raise
        issued.created.extend(result.created)
        issued.existing += result.existing
        if progress:
            progress(
                f"  {min(start + batch, len(teams))}/{len(teams)} teams: "
                f"{len(issued.created)} invoice(s) issued, {issued.existing} already existed"
            )
    return issued

"""Monthly invoices: the scheduler's trigger (with catch-up), the per-team job, and the job
that tells an invoice's owners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from sqlalchemy.exc import IntegrityError

from domain.billing import (
    INVOICE_BATCH,
    IssuedInvoice,
    Period,
    PriceTable,
    generate_invoices,
    invoice_emails,
    teams_with_production_usage,
)
from domain.clock import utcnow
from domain.jobs import JobName, enqueue_jobs
from domain.models import ScheduledRun
from infra.db import Database
from workers.runner import JobRun, WorkerContext

log = logging.getLogger("teamkeys.billing")

#: A month's invoices are due at this time (UTC) on the 1st of the next month.
RUN_AT = time(0, 5)
#: How far back a restarted scheduler catches up on months it missed.
CATCH_UP_MONTHS = 12


def due_at(period: Period) -> datetime:
    first = period.next.first_day
    return datetime.combine(first, RUN_AT, tzinfo=UTC)


def schedule_invoices(db: Database, now: datetime | None = None) -> list[str]:
    """Enqueue one invoice job per team with production usage, for every month (of the last
    twelve) whose run time has passed and that no scheduler has run yet. The run's row is
    written in the same transaction as its jobs, so two schedulers cannot both run a month."""
    now = now or utcnow()
    period = Period.of(now).previous
    due: list[Period] = []
    for _ in range(CATCH_UP_MONTHS):
        if due_at(period) <= now:
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
            enqueue_jobs(
                uow.session,
                JobName.GENERATE_INVOICE,
                [{"team_id": team_id, "period": str(period)} for team_id in teams],
            )
            uow.commit()
        # A month without production usage is routine (and a fresh install catches up on
        # twelve of them): only months that bill someone are worth an INFO line.
        (log.info if teams else log.debug)(
            "invoices for %s: %d job(s) enqueued, one per team with production usage",
            period,
            len(teams),
        )
        scheduled.append(str(period))
    return scheduled


def generate_invoice(ctx: WorkerContext, run: JobRun, team_id: str, period: str) -> None:
    """The per-team job; running it again changes nothing."""
    with ctx.db.unit_of_work() as uow:
        result = generate_invoices(
            uow.session, Period.parse(period), ctx.settings.prices, [team_id]
        )
        run.finish(uow.session)
        uow.commit()
    for invoice in result.created:
        log.info(
            "invoice %s for team %s, %s: %d %s",
            invoice.id,
            team_id,
            period,
            invoice.total_cents,
            invoice.currency,
        )


def notify_invoice_owners(ctx: WorkerContext, run: JobRun, invoice_id: str) -> None:
    """Queue the invoice's ``invoice_ready`` emails, one per owner the team has now; each goes
    out as a ``send_email`` job of its own, so one owner's mail server refusing for a while
    delays only that owner's email. Running it again queues nothing new."""
    with ctx.db.unit_of_work() as uow:
        invoice_emails(uow.session, invoice_id)
        run.finish(uow.session)
        uow.commit()


@dataclass
class IssuedInvoices:
    """What one run of :func:`issue_invoices` did."""

    teams: int = 0
    created: list[IssuedInvoice] = field(default_factory=list)
    existing: int = 0


def issue_invoices(
    db: Database,
    prices: PriceTable,
    period: Period,
    *,
    batch: int = INVOICE_BATCH,
    progress: Callable[[str], None] | None = None,
) -> IssuedInvoices:
    """Issue ``period``'s invoices for every team with production usage, ``batch`` teams per
    transaction: what `teamkeys invoices generate` (and `teamkeys demo`) run. Idempotent per
    team and period; owners' emails go through the outbox."""
    issued = IssuedInvoices()
    with db.unit_of_work() as uow:
        teams = teams_with_production_usage(uow.session, period)
    issued.teams = len(teams)
    if progress:
        progress(f"{period}: {len(teams)} team(s) with production usage")
    for start in range(0, len(teams), batch):
        with db.unit_of_work() as uow:
            result = generate_invoices(uow.session, period, prices, teams[start : start + batch])
            uow.commit()
        issued.created.extend(result.created)
        issued.existing += result.existing
        if progress:
            progress(
                f"  {min(start + batch, len(teams))}/{len(teams)} teams: "
                f"{len(issued.created)} invoice(s) issued, {issued.existing} already existed"
            )
    return issued

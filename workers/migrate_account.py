"""The migration job: one transaction that re-checks an approved ticket and moves the account."""

from __future__ import annotations

from domain.migration_tickets import migrate_account as carry_out
from workers.runner import JobRun, WorkerContext


def migrate_account(ctx: WorkerContext, run: JobRun, ticket_id: str) -> None:
    """Running it again after it completed (or failed) finds the ticket settled and stops."""
    with ctx.db.unit_of_work() as uow:
        carry_out(uow.session, ticket_id)
        run.finish(uow.session)
        uow.commit()

"""The scheduler process: periodic work (outbox relay, sweeps), each task on its own interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain.accounts import purge_expired_sessions, remove_stale_unverified
from domain.api_keys import wipe_unrevealed_secrets
from domain.invitations import expire_invitations
from domain.migration_tickets import expire_tickets
from teamkeys.runtime import Runtime
from workers.billing import schedule_invoices

log = logging.getLogger("teamkeys.scheduler")


@dataclass
class Periodic:
    name: str
    every: float
    run: Callable[[], object]
    next_at: float = 0.0


def sweep(runtime: Runtime, work: Callable[[Session], int], what: str) -> int:
    """Run one sweep in its own transaction; log how many rows it changed, if any."""
    with runtime.db.unit_of_work() as uow:
        changed = work(uow.session)
        uow.commit()
    if changed:
        log.info("%s: %d", what, changed)
    return changed


def sweep_invitations(runtime: Runtime) -> int:
    return sweep(runtime, expire_invitations, "invitations marked expired")


def sweep_migration_tickets(runtime: Runtime) -> int:
    return sweep(runtime, expire_tickets, "migration tickets marked expired")


def wipe_secrets(runtime: Runtime) -> int:
    return sweep(
        runtime,
        lambda session: wipe_unrevealed_secrets(session, runtime.key_policy),
        "production key secrets wiped, never revealed in their window",
    )


def purge_sessions(runtime: Runtime) -> int:
    return sweep(runtime, purge_expired_sessions, "expired sessions purged")


def sweep_unverified_accounts(runtime: Runtime) -> int:
    return sweep(
        runtime,
        lambda session: remove_stale_unverified(session, runtime.account_policy),
        "unverified accounts deleted, never verified",
    )


def periodic_tasks(runtime: Runtime) -> list[Periodic]:
    settings = runtime.settings
    return [
        Periodic("outbox relay", settings.relay_interval_seconds, runtime.relay.run_once),
        Periodic(
            "expire invitations",
            settings.invitation_sweep_interval_seconds,
            lambda: sweep_invitations(runtime),
        ),
        Periodic(
            "monthly invoices",
            settings.invoice_check_interval_seconds,
            lambda: schedule_invoices(runtime.db),
        ),
        Periodic(
            "expire migration tickets",
            settings.migration_sweep_interval_seconds,
            lambda: sweep_migration_tickets(runtime),
        ),
        Periodic("wipe unrevealed production secrets", 60.0, lambda: wipe_secrets(runtime)),
        Periodic("purge expired sessions", 3600.0, lambda: purge_sessions(runtime)),
        Periodic(
            "delete unverified accounts",
            settings.unverified_sweep_interval_seconds,
            lambda: sweep_unverified_accounts(runtime),
        ),
    ]


def run_scheduler(tasks: list[Periodic], stop: threading.Event) -> None:
    """Run each task when due until ``stop`` is set; a failing task is logged, never fatal."""
    log.info("scheduler started: %s", ", ".join(f"{t.name} every {t.every:g} s" for t in tasks))
    while not stop.is_set():
        now = time.monotonic()
        for task in tasks:
            if now >= task.next_at:
                task.next_at = now + task.every
                try:
                    task.run()
                except Exception:
                    log.exception(
                        "periodic task %r failed; it runs again in %g s", task.name, task.every
                    )
        wait = min(task.next_at for task in tasks) - time.monotonic()
        stop.wait(max(wait, 0.05))
    log.info("scheduler stopped")

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
from infra.services import Services
from workers.billing import schedule_invoices
from workers.relay import Relay

log = logging.getLogger("teamkeys.scheduler")


@dataclass
class Periodic:
    name: str
    every: float
    run: Callable[[], object]
    next_at: float = 0.0


def sweep(services: Services, work: Callable[[Session], int], what: str) -> int:
    """Run one sweep in its own transaction; log how many rows it changed, if any."""
    with services.db.unit_of_work() as uow:
        changed = work(uow.session)
        uow.commit()
    if changed:
        log.info("%s: %d", what, changed)
    return changed


def sweep_invitations(services: Services) -> int:
    return sweep(services, expire_invitations, "invitations marked expired")


def sweep_migration_tickets(services: Services) -> int:
    return sweep(services, expire_tickets, "migration tickets marked expired")


def wipe_secrets(services: Services) -> int:
    return sweep(
        services,
        lambda session: wipe_unrevealed_secrets(session, services.key_policy),
        "production key secrets wiped, never revealed in their window",
    )


def purge_sessions(services: Services) -> int:
    return sweep(services, purge_expired_sessions, "expired sessions purged")


def sweep_unverified_accounts(services: Services) -> int:
    return sweep(
        services,
        lambda session: remove_stale_unverified(session, services.account_policy),
        "unverified accounts deleted, never verified",
    )


def periodic_tasks(services: Services, relay: Relay) -> list[Periodic]:
    settings = services.settings
    return [
        Periodic("outbox relay", settings.relay_interval_seconds, relay.run_once),
        Periodic(
            "expire invitations",
            settings.invitation_sweep_interval_seconds,
            lambda: sweep_invitations(services),
        ),
        Periodic(
            "monthly invoices",
            settings.invoice_check_interval_seconds,
            lambda: schedule_invoices(services.db, settings.prices.currency),
        ),
        Periodic(
            "expire migration tickets",
            settings.migration_sweep_interval_seconds,
            lambda: sweep_migration_tickets(services),
        ),
        Periodic("wipe unrevealed production secrets", 60.0, lambda: wipe_secrets(services)),
        Periodic("purge expired sessions", 3600.0, lambda: purge_sessions(services)),
        Periodic(
            "delete unverified accounts",
            settings.unverified_sweep_interval_seconds,
            lambda: sweep_unverified_accounts(services),
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

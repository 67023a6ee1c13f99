"""The scheduler process: periodic work (outbox relay, sweeps), each task on its own interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from domain.accounts import purge_expired_sessions
from domain.invitations import expire_invitations
from domain.migration_tickets import expire_tickets
from teamkeys.runtime import Runtime

log = logging.getLogger("teamkeys.scheduler")


@dataclass
class Periodic:
    name: str
    every: float
    run: Callable[[], object]
    next_at: float = 0.0


def purge_sessions(runtime: Runtime) -> int:
    with runtime.db.unit_of_work() as uow:
        purged = purge_expired_sessions(uow.session)
        uow.commit()
    if purged:
        log.info("purged %d expired session(s)", purged)
    return purged


def sweep_invitations(runtime: Runtime) -> int:
    with runtime.db.unit_of_work() as uow:
        expired = expire_invitations(uow.session)
        uow.commit()
    if expired:
        log.info("marked %d invitation(s) expired", expired)
    return expired


def sweep_migration_tickets(runtime: Runtime) -> int:
    with runtime.db.unit_of_work() as uow:
        expired = expire_tickets(uow.session)
        uow.commit()
    if expired:
        log.info("marked %d migration ticket(s) expired", expired)
    return expired


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
            "expire migration tickets",
            settings.migration_sweep_interval_seconds,
            lambda: sweep_migration_tickets(runtime),
        ),
        Periodic("purge expired sessions", 3600.0, lambda: purge_sessions(runtime)),
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

"""The scheduler process: periodic work (outbox relay, sweeps), each task on its own interval."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from domain.accounts import purge_expired_sessions, remove_stale_unverified
from domain.api_keys import wipe_unrevealed_secrets
from domain.invitations import expire_invitations
from domain.migration_tickets import expire_tickets
from domain.scheduler_lease import hold_lease, release_lease
from infra.db import Database
from infra.outages import dependency_down, describe
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


def holder_name() -> str:
    """This process among the schedulers: host, process id and a random part (a restarted
    process with a recycled id is still a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseHolder:
    """This process's side of the scheduler lease (``domain.scheduler_lease``): :meth:`beat`
    takes or renews it every ``TEAMKEYS_SCHEDULER_BEAT_SECONDS`` and logs each change of
    role; :attr:`active` says whether this process may run the tasks now."""

    def __init__(self, db: Database, *, beat: float, lease: float, holder: str | None = None):
        self.db = db
        self.every = beat
        self.lease = timedelta(seconds=lease)
        self.holder = holder or holder_name()
        #: Until when (this process's monotonic clock) the lease last taken is surely ours:
        #: counted from before the statement that took it, so never later than in the database.
        self._ours_until = 0.0
        self._role: str | None = None  # "active", "waiting" or "unknown"

    @property
    def active(self) -> bool:
        return time.monotonic() < self._ours_until

    def beat(self) -> bool:
        """Take or renew the lease; whether this process holds it now."""
        started = time.monotonic()
        try:
            with self.db.unit_of_work() as uow:
                state = hold_lease(uow.session, self.holder, lease=self.lease)
                uow.commit()
        except Exception as exc:
            if self._role != "unknown":
                log.warning(
                    "could not renew the scheduler lease (%s); %s",
                    describe(exc),
                    "still active until it runs out" if self.active else "waiting",
                )
            self._role = "unknown"
            return self.active
        if state.held:
            self._ours_until = started + self.lease.total_seconds()
            if state.previous is not None:
                log.info(
                    "scheduler %s took over from %s (its lease ran out or was released)",
                    self.holder,
                    state.previous,
                )
            elif self._role != "active":
                log.info("scheduler %s is the active one", self.holder)
            self._role = "active"
        else:
            self._ours_until = 0.0
            if self._role != "waiting":
                log.info(
                    "another scheduler is active: %s; this one (%s) waits and takes over if "
                    "its lease (%g s) runs out",
                    state.holder,
                    self.holder,
                    self.lease.total_seconds(),
                )
            self._role = "waiting"
        return state.held

    def release(self) -> None:
        """Give the lease up (on a clean stop), so another scheduler takes over at once."""
        if self._role is None:
            return
        self._ours_until = 0.0
        try:
            with self.db.unit_of_work() as uow:
                released = release_lease(uow.session, self.holder, lease=self.lease)
                uow.commit()
        except Exception:
            log.exception("could not release the scheduler lease; another takes over when it ends")
            return
        if released:
            log.info("scheduler %s released its lease", self.holder)


def lease_holder(services: Services) -> LeaseHolder:
    settings = services.settings
    return LeaseHolder(
        services.db,
        beat=settings.scheduler_beat_seconds,
        lease=settings.scheduler_lease_seconds,
    )


def run_scheduler(tasks: list[Periodic], stop: threading.Event, lease: LeaseHolder) -> None:
    """Until ``stop`` is set: beat the lease, and while this process holds it run each task
    when due; a failing task is logged, never fatal. A task under way when ``stop`` is set
    finishes; then the lease is released."""
    log.info("scheduler started: %s", ", ".join(f"{t.name} every {t.every:g} s" for t in tasks))
    next_beat = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + lease.every
                lease.beat()
            for task in tasks:
                # Asked before each task: one that ran long may have outlasted the lease.
                if stop.is_set() or not lease.active:
                    break
                now = time.monotonic()
                if now >= task.next_at:
                    task.next_at = now + task.every
                    try:
                        task.run()
                    except Exception as exc:
                        again = f"it runs again in {task.every:g} s"
                        if dependency_down(exc) is None:
                            log.exception("periodic task %r failed; %s", task.name, again)
                        else:  # an outage, not a bug: one line, no traceback
                            log.warning(
                                "periodic task %r: %s is down (%s); %s",
                                task.name,
                                dependency_down(exc),
                                describe(exc),
                                again,
                            )
            wake = next_beat
            if lease.active:
                wake = min([wake, *(task.next_at for task in tasks)])
            stop.wait(max(wake - time.monotonic(), 0.05))
    finally:
        lease.release()
        log.info("scheduler stopped")

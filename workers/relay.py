"""The outbox relay: hands committed jobs to the broker, at once after commit and again later
for any that did not get through (broker down) or were lost (worker killed mid-job)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import dramatiq
from sqlalchemy import or_, select, update

from domain.clock import utcnow
from domain.models import Job, JobStatus
from infra.db import Database

log = logging.getLogger("teamkeys.relay")

#: Most jobs handed over in one pass; the next pass takes the rest.
BATCH = 500


def release_jobs(db: Database, job_ids: Sequence[str]) -> None:
    """Let the relay's next pass send these jobs (their first hand-over did not happen, or
    took too long). A job a worker has claimed meanwhile (a late send got through) is left
    alone: releasing it would free a running job for a second run."""
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.status == JobStatus.PENDING, Job.started_at.is_(None))
            .values(lease_until=None)
        )
        uow.commit()


#: Threads per process that hand committed jobs to the broker (:meth:`Relay.hand_over`): the
#: most sends a hung broker can hold at once; past them, jobs go straight to the relay.
HANDOVER_THREADS = 8


class Relay:
    def __init__(
        self,
        db: Database,
        actors: Mapping[str, dramatiq.Actor[[str], None]],
        *,
        dispatch_lease: float,
        handover_timeout: float = 0.5,
    ) -> None:
        self.db = db
        self.actors = actors
        self.dispatch_lease = timedelta(seconds=dispatch_lease)
        self.handover_timeout = handover_timeout
        self._handovers = ThreadPoolExecutor(HANDOVER_THREADS, thread_name_prefix="handover")
        # A slot per thread, taken before a hand-over is submitted: nothing ever queues behind
        # sends stuck on a frozen broker's socket, however long it stays frozen.
        self._slots = threading.BoundedSemaphore(HANDOVER_THREADS)

    def hand_over(self, jobs: Sequence[tuple[str, str]]) -> None:
        """Right after commit, on the request's thread: :meth:`dispatch_new` on a hand-over
        thread, waited for at most ``handover_timeout`` whatever the broker does. Past it the
        request goes on and the jobs are released to the relay's next pass; a send still stuck
        may yet get through, and the job then arrives twice, which its claim makes harmless."""
        deadline = time.monotonic() + self.handover_timeout
        if not self._slots.acquire(timeout=self.handover_timeout):
            self._leave_to_relay(jobs, "every hand-over thread is waiting on the broker")
            return
        try:
            handed = self._handovers.submit(self._dispatch_in_slot, jobs)
        except RuntimeError:  # shut down: the process is stopping
            self._slots.release()
            self._leave_to_relay(jobs, "the process is stopping")
            return
        try:
            handed.result(timeout=max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            self._leave_to_relay(
                jobs, f"the broker did not take them within {self.handover_timeout:g} s"
            )

    def close(self) -> None:
        """Wait for hand-overs under way (a stuck one, up to the broker's socket timeout)."""
        self._handovers.shutdown(wait=True, cancel_futures=True)

    def _dispatch_in_slot(self, jobs: Sequence[tuple[str, str]]) -> None:
        try:
            self.dispatch_new(jobs)
        finally:
            self._slots.release()

    def _leave_to_relay(self, jobs: Sequence[tuple[str, str]], why: str) -> None:
        log.warning("%d job(s) left to the relay: %s", len(jobs), why)
        try:
            release_jobs(self.db, [job_id for job_id, _ in jobs])
        except Exception:
            log.exception(
                "could not release %d job(s); the relay will find them when their lease ends",
                len(jobs),
            )

    def dispatch_new(self, jobs: Sequence[tuple[str, str]]) -> None:
        """Right after commit: send the jobs just written. If the broker is down the request
        still succeeds; the jobs are released so the next relay pass sends them."""
        failed: list[str] = []
        for job_id, name in jobs:
            # After one failure the broker is presumably down: release the rest unsent
            # rather than make the request wait for a connection timeout per job.
            if failed or not self._send(job_id, name):
                failed.append(job_id)
        if failed:
            try:
                release_jobs(self.db, failed)
            except Exception:
                log.exception(
                    "could not release %d undelivered job(s); the relay will find "
                    "them when their lease ends",
                    len(failed),
                )

    def run_once(self) -> int:
        """One pass: send every due job whose lease has run out. Returns how many were sent."""
        now = utcnow()
        with self.db.unit_of_work() as uow:
            due = uow.session.scalars(
                select(Job)
                .where(
                    Job.status == JobStatus.PENDING,
                    Job.available_at <= now,
                    or_(Job.lease_until.is_(None), Job.lease_until < now),
                )
                .order_by(Job.available_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            sent = 0
            for job in due:
                if not self._send(job.id, job.name):
                    break  # the broker is down; keep the rest for the next pass
                if job.started_at is not None:
                    log.warning(
                        "job %s %s re-sent: its worker stopped answering mid-job", job.name, job.id
                    )
                job.lease_until = now + self.dispatch_lease
                job.started_at = None
                sent += 1
            uow.commit()
        if sent:
            log.info("relay handed %d job(s) to the broker", sent)
        return sent

    def _send(self, job_id: str, name: str | None) -> bool:
        actor = self.actors.get(name or "")
        if actor is None:
            log.error("job %s has unknown kind %r; it stays pending", job_id, name)
            return False
        try:
            actor.send(job_id)
        except Exception as exc:
            log.warning(
                "could not hand job %s %s to the broker (%s); the relay will retry",
                name,
                job_id,
                exc,
            )
            return False
        return True

"""``teamkeys scheduler`` on every machine, one active at a time by the lease in the database:
the others wait, and one takes over when the active one stops (at once: it releases the lease)
or is killed (when its lease runs out). Real processes, stopped the way honcho and systemd
stop them: a signal to the whole process group."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.clock import utcnow
from domain.models import SchedulerLease
from infra.settings import Settings
from tests.e2e.test_chaos import sign_up
from tests.faults import Deployment, TeamkeysProcess, WorkerProcess
from tests.faulty_sink import FaultySink
from tests.support import services_only, to, wait_until

pytestmark = [
    pytest.mark.redis,
    services_only("scheduler processes need PostgreSQL + Redis"),
]

ACTIVE = re.compile(r"scheduler (\S+) is the active one")


@pytest.fixture
def processes() -> Iterator[list[TeamkeysProcess]]:
    """Processes a test starts; stopped (or already gone) at the end."""
    started: list[TeamkeysProcess] = []
    yield started
    for process in started:  # all told at once: each takes a second or two to stop
        if process.process.poll() is None:
            os.killpg(process.process.pid, signal.SIGTERM)
    for process in started:
        process.stop()


def two_schedulers_and_a_worker(
    deployment: Deployment, tmp_path: Path, processes: list[TeamkeysProcess]
) -> tuple[TeamkeysProcess, str, TeamkeysProcess]:
    """Start a worker and two schedulers for ``deployment`` at once; wait until one scheduler
    is active and the other says it waits for it, and the worker is ready. The active one, its
    holder name, and the waiting one."""
    settings = deployment.runtime.settings
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    processes.append(worker)
    both = [TeamkeysProcess(settings, tmp_path / f"scheduler-{n}.log", "scheduler") for n in (1, 2)]
    processes.extend(both)

    def one_active() -> tuple[TeamkeysProcess, str, TeamkeysProcess] | None:
        for active, waiting in (both, both[::-1]):
            found = ACTIVE.search(active.output())
            if found and f"another scheduler is active: {found.group(1)};" in waiting.output():
                return active, found.group(1), waiting
        return None

    found: tuple[TeamkeysProcess, str, TeamkeysProcess] = wait_until(
        one_active, timeout=60, what="one scheduler active, the other waiting"
    )
    assert ACTIVE.search(found[2].output()) is None
    worker.wait_ready()
    return found


def takes_over(process: TeamkeysProcess, holder: str, timeout: float) -> None:
    wait_until(
        lambda: re.search(rf"scheduler \S+ took over from {re.escape(holder)} ", process.output()),
        timeout=timeout,
        what="the waiting scheduler to take over",
    )


def a_job_flows(deployment: Deployment, sink: FaultySink, address: str) -> None:
    """Sign up: the verification email gets to the worker through a scheduler's relay only
    (this deployment hands nothing to the broker at commit) and arrives."""
    sign_up(deployment.http, "Ada", address)
    sink.wait_for(to(address), timeout=30)


def relay_only(settings: Settings, lease_seconds: float) -> Deployment:
    """The API in this process, with no scheduler of its own and no hand-over at commit: every
    job reaches the workers through the relay of a ``teamkeys scheduler`` process. Schedulers
    beat every 0.2 s, on a lease of ``lease_seconds``."""
    settings = settings.model_copy(
        update={"scheduler_beat_seconds": 0.2, "scheduler_lease_seconds": lease_seconds}
    )
    deployment = Deployment(settings, scheduler=False)
    deployment.runtime.db.dispatch = deployment.runtime.db.dispatch_lease = None
    return deployment


def test_a_stopped_scheduler_releases_its_lease_and_another_takes_over_at_once(
    redis_settings: Settings,
    sink: FaultySink,
    processes: list[TeamkeysProcess],
    tmp_path: Path,
) -> None:
    # A lease far longer than this test waits: a takeover can only come from the release.
    with relay_only(redis_settings, lease_seconds=600.0) as deployment:
        first, holder, second = two_schedulers_and_a_worker(deployment, tmp_path, processes)

        assert first.terminate(timeout=30) == 0, first.output()
        assert f"scheduler {holder} released its lease" in first.output()
        assert "Traceback" not in first.output()
        takes_over(second, holder, timeout=30)
        a_job_flows(deployment, sink, "after-the-stop@example.com")

        assert second.terminate(timeout=30) == 0, second.output()
        with deployment.runtime.db.unit_of_work() as uow:
            lease = uow.session.scalar(select(SchedulerLease))
        assert lease is not None and lease.expires_at < utcnow()  # free for the next one


def test_a_killed_scheduler_is_replaced_when_its_lease_runs_out(
    redis_settings: Settings,
    sink: FaultySink,
    processes: list[TeamkeysProcess],
    tmp_path: Path,
) -> None:
    with relay_only(redis_settings, lease_seconds=2.0) as deployment:
        first, holder, second = two_schedulers_and_a_worker(deployment, tmp_path, processes)

        a_job_flows(deployment, sink, "before-the-kill@example.com")
        assert "relay handed" in first.output()
        assert "relay handed" not in second.output()  # the waiting one does nothing

        first.kill()
        takes_over(second, holder, timeout=30)
        a_job_flows(deployment, sink, "after-the-kill@example.com")
        assert "relay handed" in second.output()

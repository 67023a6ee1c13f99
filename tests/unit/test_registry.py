"""Every job kind's actor, and the time a run may take."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from domain.jobs import JobName
from workers.registry import JOB_SPECS, register_actors, time_limit_seconds
from workers.runner import WorkerContext


@pytest.mark.parametrize(("lease", "limit"), [(60, 50), (300, 290), (5, 4), (1, 0.8)])
def test_a_run_is_interrupted_before_its_lease_ends(lease: float, limit: float) -> None:
    assert time_limit_seconds(lease) == pytest.approx(limit)


def test_every_job_kind_has_one_actor_with_no_dramatiq_retries() -> None:
    assert set(JOB_SPECS) == {str(name) for name in JobName}

    class Settings:
        job_run_lease_seconds = 60.0

    broker = StubBroker()
    actors = register_actors(broker, WorkerContext(Settings(), *[None] * 7))  # type: ignore[arg-type]
    for name, actor in actors.items():
        assert isinstance(actor, dramatiq.Actor)
        assert actor.actor_name == name and actor.queue_name == JOB_SPECS[name].queue
        assert actor.options["max_retries"] == 0 and actor.options["time_limit"] == 50_000

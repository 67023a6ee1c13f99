"""The jobs tier: workers, the runner, the relay and the outbox, with commits, SMTP (a MailSink
on loopback) and schema migrations, but no HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.settings import Settings
from teamkeys.runtime import Runtime, build_runtime
from tests.support import empty_queues


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """What a worker process builds (database, broker, actors, relay, SMTP to ``sink``), with
    no worker, relay or scheduler running: a test runs jobs itself, and nothing else does."""
    built = build_runtime(settings)
    try:
        yield built
    finally:
        built.close()
        empty_queues(built.broker)

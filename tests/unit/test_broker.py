"""The broker ``TEAMKEYS_BROKER_URL`` names: Redis, RabbitMQ (failing fast when unreachable), or
the in-process one of the embedded mode."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from infra.broker import (
    PIKA_TRANSPORT_LOGGERS,
    QUEUES,
    broker_answers,
    broker_ready,
    build_broker,
    quiet_lost_connections,
)
from infra.settings import Settings


def broker_for(url: str) -> Any:
    return build_broker(Settings(_env_file=None, broker_url=url))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("", StubBroker),
        ("redis://127.0.0.1:6379/0", RedisBroker),
        ("rediss://cache.example:6380/0", RedisBroker),
        ("amqp://guest:guest@127.0.0.1:5672/teamkeys", RabbitmqBroker),
        ("amqps://guest:guest@mq.example:5671/teamkeys", RabbitmqBroker),
    ],
)
def test_the_url_s_scheme_chooses_the_broker_and_every_queue_is_declared(
    url: str, kind: type
) -> None:
    broker = broker_for(url)
    try:
        assert kind in type(broker).__mro__
        assert set(QUEUES) <= broker.get_declared_queues()
    finally:
        broker.close()


def test_rabbitmq_fails_fast_confirms_publishes_and_beats() -> None:
    broker = broker_for("amqp://guest:guest@127.0.0.1:5672/teamkeys")
    parameters = broker.parameters
    assert broker.confirm_delivery
    assert parameters.virtual_host == "teamkeys"
    assert parameters.connection_attempts == 1
    assert parameters.socket_timeout == 2
    assert parameters.stack_timeout == 5
    assert parameters.blocked_connection_timeout == 10
    assert parameters.heartbeat == 20


def test_the_url_s_own_connection_settings_win() -> None:
    broker = broker_for("amqp://guest:guest@a:5672/t?heartbeat=60;amqp://guest:guest@b:5672/t")
    first, second = broker.parameters
    assert (first.host, first.heartbeat, first.socket_timeout) == ("a", 60, 2)
    assert (second.host, second.heartbeat) == ("b", 20)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1/"])
def test_a_broker_that_does_not_answer_is_not_ready(url: str) -> None:
    broker = broker_for(url)
    try:
        assert broker_ready(broker) is False
    finally:
        broker.close()


def test_a_hung_broker_is_not_ready_within_the_probe_s_second() -> None:
    """A Redis that takes the connection and never answers (frozen, as a partition looks):
    the probe says so after its timeout, not the socket's ten seconds, and probes asked
    meanwhile wait on the same check."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        host, port = hung.getsockname()
        broker = broker_for(f"redis://{host}:{port}/0")
        started = time.monotonic()
        answers = [broker_answers(broker, timeout=0.3) for _ in range(3)]
        waited = time.monotonic() - started

    assert answers == [False, False, False]
    assert waited < 5  # well under the socket's 10 s, whatever the machine's load
    assert broker_answers(broker_for(""), timeout=0.3)  # in-process: always ready


def test_pika_s_lost_connection_notices_are_dropped_and_its_other_errors_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An idle publishing connection RabbitMQ closed is reconnected at once: pika's traceback
    about it is noise. Anything else pika says at ERROR still shows."""
    quiet_lost_connections()
    quiet_lost_connections()  # once is enough: a second call adds no second filter
    logger = logging.getLogger(PIKA_TRANSPORT_LOGGERS[0])
    ours = [f for f in logger.filters if type(f).__module__ == "infra.broker"]
    assert len(ours) == 1  # (Dramatiq's RabbitMQ broker adds a filter of its own)
    with caplog.at_level(logging.ERROR, logger="pika"):
        logger.error("Socket failed: StreamLostError: ('Transport indicated EOF',)")
        logger.error("send failed: [Errno 32] Broken pipe")
        logger.error("Connection to broker refused: AMQPConnectionError")
    assert [r.getMessage() for r in caplog.records] == [
        "Connection to broker refused: AMQPConnectionError"
    ]

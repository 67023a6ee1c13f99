"""Choosing the Dramatiq broker: Redis when configured, otherwise an in-process one."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from infra.settings import Settings

#: Every queue of docs/product.md "Jobs"; workers consume all of them by default.
QUEUES = ("email", "invitations", "api_keys", "production", "migrations", "billing", "maintenance")


def build_broker(settings: Settings) -> dramatiq.Broker:
    """A new broker. It is not made global here: actors are bound to it explicitly."""
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.redis_url,
            namespace=settings.redis_namespace,
            # A Redis that is unreachable must fail a hand-over fast (the relay retries it),
            # not hold a request until the kernel gives up on the connection.
            socket_connect_timeout=2,
            socket_timeout=10,
        )
    else:
        broker = StubBroker()
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


def broker_ready(broker: dramatiq.Broker) -> bool:
    """Whether the broker answers right now (``/readyz``)."""
    if isinstance(broker, RedisBroker):
        try:
            return bool(broker.client.ping())
        except Exception:
            return False
    return True

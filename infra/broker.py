"""Choosing the Dramatiq broker from ``TEAMKEYS_BROKER_URL``: Redis, RabbitMQ, or (none set) an
in-process one for the embedded mode."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from infra.settings import Settings

#: Every queue of docs/product.md "Jobs"; workers consume all of them by default.
QUEUES = ("email", "invitations", "api_keys", "production", "migrations", "billing", "maintenance")

#: pika's connection settings for RabbitMQ, unless the URL's query gives its own. A broker that
#: is unreachable or hung must fail a hand-over within seconds (the relay retries it), not hold
#: a request until the kernel gives up on the connection: one attempt, 2 s to connect, 5 s for
#: the AMQP handshake, 10 s while RabbitMQ blocks publishers (memory or disk alarm). Heartbeats
#: every 20 s let both sides notice a dead peer (an idle publisher's connection, closed by
#: RabbitMQ after two missed beats, is reopened by Dramatiq at its next publish).
RABBITMQ_CONNECTION = {
    "connection_attempts": "1",
    "socket_timeout": "2",
    "stack_timeout": "5",
    "blocked_connection_timeout": "10",
    "heartbeat": "20",
}


def rabbitmq_url(url: str) -> str:
    """``url`` with :data:`RABBITMQ_CONNECTION`'s settings for those its query leaves out (each
    of a cluster's URLs, which Dramatiq takes separated by ``;``)."""

    def with_defaults(one: str) -> str:
        parts = urlsplit(one)
        query = {**RABBITMQ_CONNECTION, **dict(parse_qsl(parts.query))}
        return urlunsplit(parts._replace(query=urlencode(query)))

    return ";".join(with_defaults(one) for one in url.split(";"))


class _LostConnectionNotice(logging.Filter):
    """Drops pika's own ERRORs (with tracebacks) that a connection was lost. It logs them each
    time a publishing thread's idle connection turns out closed by RabbitMQ (missed
    heartbeats: a thread that only publishes never beats), and Dramatiq then reconnects and
    publishes at once. A broker really gone still shows: Dramatiq's consumers log it, and a
    hand-over that fails is the relay's to say and retry."""

    LOST = ("StreamLostError", "ConnectionResetError", "Connection reset by peer", "Broken pipe")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(sign in message for sign in self.LOST)


#: The pika loggers that report a lost connection, each in its own words.
PIKA_TRANSPORT_LOGGERS = (
    "pika.adapters.blocking_connection",
    "pika.adapters.base_connection",
    "pika.adapters.utils.io_services_utils",
)


def quiet_lost_connections() -> None:
    for name in PIKA_TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _LostConnectionNotice) for f in logger.filters):
            logger.addFilter(_LostConnectionNotice())


def build_broker(settings: Settings) -> dramatiq.Broker:
    """A new broker. It is not made global here: actors are bound to it explicitly.

    Queues are declared to Dramatiq, which creates them on the server lazily (RabbitMQ: at the
    first publish or consume, with their delay and dead-letter queues): building a broker never
    connects, so a web process starts, and takes requests into the outbox, while the broker is
    down."""
    broker: dramatiq.Broker
    if settings.broker_is_redis:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.broker_url,
            namespace=settings.redis_namespace,
            # A Redis that is unreachable must fail a hand-over fast (the relay retries it),
            # not hold a request until the kernel gives up on the connection.
            socket_connect_timeout=2,
            socket_timeout=10,
        )
    elif settings.broker_is_rabbitmq:
        quiet_lost_connections()
        broker = RabbitmqBroker(
            url=rabbitmq_url(settings.broker_url),
            # A job counts as handed over only once RabbitMQ has it (a publisher confirm), and a
            # queue deleted under us is declared again (Dramatiq needs confirms to notice).
            confirm_delivery=True,
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
    if isinstance(broker, RabbitmqBroker):
        import pika

        # A connection of its own, opened and closed: the broker's are per thread, and one left
        # idle may have been closed by RabbitMQ without a word, which says nothing of now.
        try:
            pika.BlockingConnection(broker.parameters).close()
        except Exception:
            return False
        return True
    return True


#: A probe waits this long for the broker's answer; a hung broker is "not ready" by then.
PROBE_TIMEOUT = 1.0
_probes = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="broker-probe")
_pending: dict[int, concurrent.futures.Future[bool]] = {}
_pending_lock = threading.Lock()


def broker_answers(broker: dramatiq.Broker, timeout: float = PROBE_TIMEOUT) -> bool:
    """:func:`broker_ready` within ``timeout`` (a hung broker's socket would hold a probe for
    its whole timeout, longer than a load balancer waits). A check still waiting on the broker
    is awaited again rather than joined by another, so probes never pile up threads."""
    with _pending_lock:
        probe = _pending.get(id(broker))
        if probe is None or probe.done():
            probe = _pending[id(broker)] = _probes.submit(broker_ready, broker)
    try:
        return probe.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return False

"""Test plumbing shared by the tiers: backends, a live HTTP server, small client helpers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from domain.limits import Limit
from domain.models import Base
from infra.settings import Settings
from teamkeys.loopback import LoopbackServer

#: A fixed Fernet key for tests (never used outside them).
TEST_ENCRYPTION_KEY = "dGVhbWtleXMtdGVzdHMtb25seS0zMi1ieXRlcy1rZXk="
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: "embedded" (SQLite + in-process broker, the default) or "services" (PostgreSQL + a broker).
BACKEND = os.environ.get("TEAMKEYS_TEST_BACKEND", "embedded")
#: The broker of the services backend, and of the tests that run worker processes: "redis"
#: (the default) or "rabbitmq".
BROKER = os.environ.get("TEAMKEYS_TEST_BROKER", "redis")
if BROKER not in ("redis", "rabbitmq"):
    raise ValueError(f"TEAMKEYS_TEST_BROKER must be redis or rabbitmq, not {BROKER!r}")
POSTGRES_ADMIN_URL = os.environ.get(
    "TEAMKEYS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEAMKEYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: RabbitMQ without a virtual host: each test session makes its own (``rabbitmq_vhost``).
RABBITMQ_URL = os.environ.get("TEAMKEYS_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")


def missing_service(what: str) -> None:
    """A needed service is down: fail under CI (a green run must mean it ran), else skip."""
    message = f"{what} is not reachable"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(
        ["rabbitmqctl", "--quiet", *args], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")


@contextmanager
def rabbitmq_vhost(name: str) -> Iterator[str]:
    """A RabbitMQ virtual host of this test session's own, and the broker URL into it: its
    queues (and their delay and dead-letter queues) are seen by no other session, as a Redis
    namespace keeps Redis keys apart. Dramatiq's RabbitMQ broker has no namespace, and AMQP
    cannot make a virtual host, so ``rabbitmqctl`` does (about a second, once per session; the
    management plugin's HTTP API would need the plugin enabled). Deleted at the end, with all
    it holds."""
    from urllib.parse import urlsplit

    user = urlsplit(RABBITMQ_URL).username or "guest"
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(f"{RABBITMQ_URL}/?socket_timeout=2")).close()
    except Exception:
        missing_service(f"RabbitMQ at {RABBITMQ_URL}")
    if shutil.which("rabbitmqctl") is None:
        missing_service("rabbitmqctl (to make a RabbitMQ virtual host per test session)")
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield f"{RABBITMQ_URL}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


@dataclass
class Backend:
    """Where one test session's data lives; made once, emptied between tests."""

    database_url: str
    broker_url: str
    redis_namespace: str
    drop: Callable[[], None]
    #: Where the abuse limits count: "" is the broker's Redis (or memory, embedded); with
    #: RabbitMQ, the Redis of TEAMKEYS_LIMITS_URL, so that setting is exercised too.
    limits_url: str = ""


@contextmanager
def make_backend(tmp: Path) -> Iterator[Backend]:
    namespace = f"teamkeys-test-{uuid.uuid4().hex[:8]}"
    if BACKEND == "embedded":
        yield Backend(f"sqlite:///{tmp / 'teamkeys.db'}", "", namespace, lambda: None)
        return
    if not redis_available():
        missing_service(f"Redis at {REDIS_URL}")
    if BROKER == "rabbitmq":
        with rabbitmq_vhost(namespace) as broker_url, _services_backend(namespace) as made:
            made.broker_url, made.limits_url = broker_url, REDIS_URL
            yield made
        return
    with _services_backend(namespace) as made:
        yield made


@contextmanager
def _services_backend(namespace: str) -> Iterator[Backend]:
    """A PostgreSQL database of this session's own, and Redis (the broker, the limits'
    counters) under ``namespace``, emptied at the end."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"teamkeys_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        missing_service(f"PostgreSQL at {POSTGRES_ADMIN_URL}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        _flush_redis_namespace(namespace)

    try:
        yield Backend(url, REDIS_URL, namespace, drop)
    finally:
        drop()


def empty_queues(broker: dramatiq.Broker) -> None:
    """Drop the messages a test left in its broker's queues, after its runtime was closed, so
    the next test of the session starts with none. A closed RabbitMQ broker still holds this
    thread's closed connection: it purges on a new one, closed in turn."""
    if isinstance(broker, RabbitmqBroker):
        del broker.connection
        try:
            broker.flush_all()
        finally:
            broker.close()
    else:
        broker.flush_all()


def _flush_redis_namespace(namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()


#: Abuse limits no test meets unless it sets its own: a suite signs up many people from one
#: address.
UNLIMITED = {limit.setting: "100000/minute" for limit in Limit}


def test_settings(backend: Backend, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: cheap password hashing, fast relay and short backoff, no abuse
    limits in the way."""
    values: dict[str, Any] = {
        **UNLIMITED,
        "database_url": backend.database_url,
        "broker_url": backend.broker_url,
        "redis_url": "",
        "limits_url": backend.limits_url,
        "redis_namespace": backend.redis_namespace,
        "data_dir": data_dir,
        "public_url": "https://app.teamkeys.test",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "relay_interval_seconds": 0.2,
        "job_min_backoff_seconds": 0.2,
        "job_max_backoff_seconds": 1.0,
        "job_max_attempts": 4,
        "job_dispatch_lease_seconds": 5.0,
        "job_run_lease_seconds": 5.0,
        "smtp_timeout": 5.0,
        "encryption_key": TEST_ENCRYPTION_KEY,
        # Tests run many `teamkeys worker`s at once: one that serves metrics picks a free port.
        "worker_metrics_port": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


#: A payment method as the front end sends it: the provider's token and display fields.
CARD: dict[str, Any] = {
    "billing_email": "billing@acme.example",
    "provider_token": "pm_1Nx8Qb2eZvKYlo2C",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2030,
}

#: The Go to Production form, filled in as an owner would.
PRODUCTION_FORM: dict[str, Any] = {
    "company_name": "Acme Robotics",
    "website": "https://acme.example",
    "use_case": "Summarising support tickets for our customer service team, about 2k a day.",
    "expected_monthly_requests": 60_000,
    "contact_email": "cto@acme.example",
}

#: Names that carry a link into the emails they appear in.
LINKS = [
    "Security Team. Your account will be deleted; confirm at https://evil.example/login",
    "visit www.evil.example",
    "evil.example/login now",
    "mailto:someone@evil.example",
    "HTTP://EVIL.EXAMPLE",
]


#: Whether this process may have committed rows since the database was last emptied for a
#: test that commits nothing (``empty_database_if_used``).
_database_used = True


def empty_database_if_used(database_url: str) -> None:
    """Empty the database for a test that commits nothing (a rules test, on a session rolled
    back at its end), unless it is empty still: such tests mostly follow one another."""
    global _database_used
    if _database_used:
        empty_database(database_url)
        _database_used = False


def empty_database(database_url: str) -> None:
    """Delete every row (children first) so each test starts from an empty schema; the test
    that asks will commit rows of its own."""
    global _database_used
    _database_used = True
    engine = create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


def services_only(why: str) -> pytest.MarkDecorator:
    """Skip unless the tests run on PostgreSQL and a broker; ``why`` says what needs them."""
    return pytest.mark.skipif(
        BACKEND != "services", reason=f"{why} (TEAMKEYS_TEST_BACKEND=services)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer(LoopbackServer):
    """The real HTTP stack (uvicorn) on a loopback port, in a thread; its port is taken before
    the thread starts, so no other test process (the suite runs on every CPU) takes it."""

    def __init__(self, app: Any) -> None:
        super().__init__(app, what="the test HTTP server", thread_name="live-server")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def to(address: str) -> Callable[[EmailMessage], bool]:
    """Matches messages addressed to ``address``."""
    return lambda message: address.lower() in str(message["To"]).lower()


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


#: A Prometheus scrape's samples, by name and labels.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metric_samples(text: str) -> Samples:
    """Every sample of a scrape (``/metrics``), parsed by ``prometheus_client``."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric_value(samples: Samples, name: str, **labels: str) -> float:
    """The sample of ``name`` with exactly these labels; 0 if there is none."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def metric_total(samples: Samples, name: str) -> float:
    """The sum of every sample of ``name``, whatever its labels."""
    return sum(v for (n, _), v in samples.items() if n == name)


def wait_until_ready(http: httpx.Client, what: str, timeout: float = 90.0) -> None:
    """Wait until a server started as its own process answers ``/readyz`` with 200 (starting
    one, migrations included, takes a while on a loaded two-core machine)."""

    def ready() -> bool:
        try:
            return http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout=timeout, what=f"{what} to answer")


@contextmanager
def teamkeys_dev(
    folder: Path, log_path: Path, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    """``teamkeys dev`` as a newcomer runs it in ``folder`` (data in ``folder/var``, no other
    TEAMKEYS_ setting but ``settings``), its output in ``log_path``: the process and a client
    once it is ready; SIGTERM afterwards, so its ``returncode`` says how it stopped."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    env |= {"TEAMKEYS_DATA_DIR": str(folder / "var"), "TEAMKEYS_ARGON2_MEMORY_KIB": "1024"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "teamkeys.cli", "dev", "--port", str(port)],
            cwd=folder,
            env=env | settings,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            wait_until_ready(http, "teamkeys dev")
            yield process, http
    finally:
        process.terminate()
        process.wait(timeout=30)

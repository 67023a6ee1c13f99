"""The figures operators scrape (Prometheus, by the ``prometheus_client`` library): requests,
jobs, and what the database holds right now. Every metric is listed in docs/architecture.md
("Metrics").

A process counts its own requests and job runs. Where several processes answer for one service
(``teamkeys worker``'s Dramatiq processes, ``teamkeys web --workers N``), the command sets
``PROMETHEUS_MULTIPROC_DIR`` (``infra.metrics_directory``) before any of them imports
``prometheus_client``: each process then writes its counts to a file there, and a scrape adds
them up. The database's figures are read at scrape time, one cheap query each
(:class:`DatabaseFigures`); a database that does not answer leaves them out of that scrape
rather than failing it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.jobs import JobName
from domain.models import Email, EmailStatus, Job, JobStatus
from domain.scheduler_lease import scheduler_last_beat
from infra.db import Database
from infra.settings import Settings, networks_of

log = logging.getLogger("teamkeys.metrics")

#: Why a client that may not read the metrics is refused (403), on every port that serves them.
METRICS_REFUSED = "The metrics are for the service's operators."
#: What a scrape answers with.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The name of the scheduler's lease row (``domain.models.SchedulerLease``).
#: Methods counted by name; any other is counted as ``other`` (a client picks the method, and
#: must not mint label values).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: A job run takes from milliseconds (a key) to seconds (an email through a slow server); its
#: run lease is a minute by default.
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class JobOutcome:
    """How one delivery of a job ended (the ``outcome`` label)."""

    DONE = "done"
    #: Failed; the outbox runs it again later.
    RETRY = "retry"
    #: Failed for good, or out of attempts.
    DEAD = "dead"
    #: Not this delivery's to run: done already, not yet due, or running elsewhere.
    SKIPPED = "skipped"


def multiprocess() -> bool:
    """Whether this process writes its counts to ``PROMETHEUS_MULTIPROC_DIR`` for a scrape to
    add up. Decided when ``prometheus_client`` was first imported."""
    return bool(values.ValueClass is not values.MutexValue)


def multiprocess_registry() -> CollectorRegistry:
    """The counts of every process writing to ``PROMETHEUS_MULTIPROC_DIR``, added up."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class Metrics:
    """The process's request and job figures, and what a scrape of it answers (:meth:`scrape`).

    One per process's services (tests make several in one process, each counting its own)."""

    def __init__(self, database: Database | None = None) -> None:
        shared = multiprocess()
        self.registry = multiprocess_registry() if shared else CollectorRegistry()
        # In multiprocess mode the counts go to files, and the registry reads them all back.
        own = None if shared else self.registry
        self.requests = Counter(
            "teamkeys_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.request_seconds = Histogram(
            "teamkeys_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=own,
        )
        self.jobs = Counter(
            "teamkeys_jobs_total",
            "Deliveries of outbox jobs to a worker, by actor (the job's name) and outcome.",
            ["actor", "outcome"],
            registry=own,
        )
        self.job_seconds = Histogram(
            "teamkeys_job_duration_seconds",
            "Time a job's run took, by actor and outcome (skipped deliveries are not timed).",
            ["actor", "outcome"],
            buckets=JOB_BUCKETS,
            registry=own,
        )
        if not shared:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        if database is not None:
            self.registry.register(DatabaseFigures(database))

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def job(self, actor: str, outcome: str, seconds: float | None = None) -> None:
        self.jobs.labels(actor, outcome).inc()
        if seconds is not None:
            self.job_seconds.labels(actor, outcome).observe(seconds)

    def scrape(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


class DatabaseFigures(Collector):
    """Gauges read from the database when scraped: the outbox's backlog and its oldest job's
    age, emails by status, the scheduler's last beat."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self._read())
        except Exception as exc:
            # One line a scrape, no traceback: /readyz says which dependency is down.
            log.warning("metrics: the database's figures are left out: %s", type(exc).__name__)
            return []

    def _read(self) -> Iterator[Metric]:
        now = utcnow()
        with self.database.engine.connect() as connection, Session(bind=connection) as session:
            backlog = connection.execute(
                select(Job.name, func.count(), func.min(Job.created_at))
                .where(Job.status == JobStatus.PENDING)
                .group_by(Job.name)
            ).all()
            emails = connection.execute(
                select(Email.status, func.count()).group_by(Email.status)
            ).all()
            beat = scheduler_last_beat(session)

        pending = GaugeMetricFamily(
            "teamkeys_outbox_pending_jobs",
            "Jobs in the outbox not yet done or dead (waiting, in the broker, running or "
            "retrying later), by actor.",
            labels=["actor"],
        )
        oldest = GaugeMetricFamily(
            "teamkeys_outbox_oldest_pending_age_seconds",
            "Age of the oldest job not yet done or dead, by actor (0: none).",
            labels=["actor"],
        )
        counts = {str(name): (0, 0.0) for name in JobName}
        for name, count, created_at in backlog:
            age = (now - created_at).total_seconds() if created_at is not None else 0.0
            counts[name] = (int(count), max(age, 0.0))
        for name, (count, age) in sorted(counts.items()):
            pending.add_metric([name], count)
            oldest.add_metric([name], age)
        yield pending
        yield oldest

        by_status = GaugeMetricFamily(
            "teamkeys_emails", "Emails by status (queued, sent, failed, dead).", labels=["status"]
        )
        email_counts = {str(status): 0 for status in EmailStatus}
        email_counts.update({str(status): int(count) for status, count in emails})
        for status, count in sorted(email_counts.items()):
            by_status.add_metric([status], count)
        yield by_status

        if beat is not None:
            yield GaugeMetricFamily(
                "teamkeys_scheduler_last_beat_timestamp_seconds",
                "When the active scheduler last renewed its lease (Unix time).",
                value=beat.timestamp(),
            )


def may_read_metrics(settings: Settings, client: str, authorization: str) -> bool:
    """Whether a client may read the metrics: its address is in ``TEAMKEYS_METRICS_NETWORKS``,
    or it sends ``Authorization: Bearer`` with ``TEAMKEYS_METRICS_TOKEN``. The figures tell
    how the business goes (sign-ups, invoices, emails): a stranger may not read them."""
    token = settings.metrics_token
    scheme, _, credentials = authorization.partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credentials.strip().encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return any(address in network for network in networks_of(settings.metrics_networks))

"""The composition root: the shared services (``infra.services``) with the workers bound to
their broker and the outbox relay that feeds them. Every process (web, worker, scheduler, dev)
starts here."""

from __future__ import annotations

from dataclasses import dataclass, fields

from infra.mail.render import EmailRenderer, templates_root
from infra.mail.transport import MailTransport
from infra.services import Services, build_services, smtp_transport
from infra.settings import Settings
from workers.registry import JobActor, register_actors
from workers.relay import Relay
from workers.runner import WorkerContext


@dataclass
class Runtime(Services):
    actors: dict[str, JobActor]
    relay: Relay
    worker_context: WorkerContext

    def close(self) -> None:
        self.relay.close()  # hand-overs under way finish before the broker and database close
        super().close()
        self.worker_context.transport.close()


def build_runtime(
    settings: Settings,
    *,
    transport: MailTransport | None = None,
    with_workers: bool = False,
) -> Runtime:
    """Everything a process needs. Jobs are handed to the broker right after commit when it is
    shared (Redis, RabbitMQ), or the in-process broker of a process that runs workers
    (``with_workers``); a
    command-line process without either leaves them to the relay of a running scheduler."""
    services = build_services(settings)
    context = WorkerContext(
        settings=settings,
        db=services.db,
        renderer=EmailRenderer(templates_root()),
        transport=transport or smtp_transport(settings),
        secret_box=services.secret_box,
        link_secret=services.link_secret,
        policies=services,
        metrics=services.metrics,
    )
    actors = register_actors(services.broker, context)
    relay = Relay(
        services.db,
        actors,
        dispatch_lease=settings.job_dispatch_lease_seconds,
        handover_timeout=settings.job_handover_timeout_seconds,
    )
    if settings.broker_url or with_workers:
        services.db.dispatch_through(relay.hand_over, relay.dispatch_lease)
    shared = {field.name: getattr(services, field.name) for field in fields(services)}
    return Runtime(**shared, actors=actors, relay=relay, worker_context=context)

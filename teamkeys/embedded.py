"""The embedded all-in-one: the same code as production in one process, on SQLite, with an
in-process broker and workers, the scheduler, and a local mail sink that keeps every email."""

from __future__ import annotations

import logging
import threading

import dramatiq

from infra.mailsink import MailSink
from infra.services import smtp_transport
from infra.settings import Settings
from teamkeys.migrate import upgrade
from teamkeys.runtime import Runtime, build_runtime
from workers.scheduler import lease_holder, periodic_tasks, run_scheduler

log = logging.getLogger("teamkeys.embedded")


class Embedded:
    """Starts, in order: migrations, mail sink (unless an SMTP server is configured), runtime,
    workers and scheduler; :meth:`stop` undoes them in reverse."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sink: MailSink | None = None
        self.runtime: Runtime | None = None
        self.worker: dramatiq.Worker | None = None
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None

    def start(self) -> Runtime:
        settings = self.settings
        if not settings.database_url:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.effective_database_url)
        if not settings.smtp_host:
            self.sink = MailSink(directory=settings.mail_dir.resolve())
            self.sink.start()
            settings = settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": self.sink.port}
            )
            log.info(
                "local mail sink on 127.0.0.1:%d keeps every email in %s",
                self.sink.port,
                settings.mail_dir.resolve(),
            )
        else:
            log.info("sending email through %s:%d", settings.smtp_host, settings.smtp_port)
        runtime = build_runtime(settings, transport=smtp_transport(settings), with_workers=True)
        self.runtime = runtime
        self.worker = dramatiq.Worker(
            runtime.broker, worker_threads=settings.worker_threads, worker_timeout=100
        )
        self.worker.start()
        self._scheduler = threading.Thread(
            target=run_scheduler,
            # The same lease as a `teamkeys scheduler` process: one active at a time.
            args=(periodic_tasks(runtime, runtime.relay), self._stop, lease_holder(runtime)),
            name="teamkeys-scheduler",
            daemon=True,
        )
        self._scheduler.start()
        return runtime

    def stop(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=10)
        if self.worker is not None:
            self.worker.stop()
        if self.runtime is not None:
            self.runtime.close()
        if self.sink is not None:
            self.sink.stop()

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()

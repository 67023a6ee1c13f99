"""Fault injection for the reliability tests: a TCP proxy that can cut a service off, and
worker processes that can be killed."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from infra.settings import Settings
from teamkeys.runtime import build_runtime
from teamkeys.web import build_app
from tests.support import LiveServer, wait_until
from workers.scheduler import periodic_tasks, run_scheduler

ROOT = Path(__file__).resolve().parents[1]


class TcpProxy:
    """Forwards a loopback port to ``target``; :meth:`down` refuses and cuts every connection,
    as a crashed server would, and :meth:`up` serves again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                for sock in (a, b):
                    self._sockets.discard(sock)
                    sock.close()


@contextlib.contextmanager
def broker_through_proxy(settings: Settings) -> Iterator[tuple[TcpProxy, Settings]]:
    """A proxy, up, in front of ``settings``' broker (Redis or RabbitMQ), and the settings that
    reach it through the proxy: a test takes the proxy down, never the real broker (other tests
    share it). Down at the end. The abuse limits' counters keep their own way to Redis."""
    url = urlsplit(settings.broker_url)
    assert url.hostname and url.port, settings.broker_url
    proxy = TcpProxy(url.hostname, url.port)
    proxy.up()
    credentials = url.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    update = {
        "broker_url": urlunsplit(url._replace(netloc=netloc)),
        "limits_url": settings.effective_limits_url or "memory://",
    }
    try:
        yield proxy, settings.model_copy(update=update)
    finally:
        proxy.down()


#: The name tests knew it by when the broker could only be Redis.
redis_through_proxy = broker_through_proxy


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the TEAMKEYS_* environment a child process reads them from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    for name, value in settings.model_dump(mode="json").items():
        env[f"TEAMKEYS_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class WorkerProcess:
    """``teamkeys worker`` (Dramatiq's CLI) as its own process group, as in production; made
    once every Dramatiq process says it is ready (on a loaded machine importing teamkeys can
    take longer than a test's first wait for a job)."""

    def __init__(
        self, settings: Settings, log_path: Path, *, processes: int = 1, threads: int = 2
    ) -> None:
        self.log = log_path.open("ab")
        start = self.log.tell()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "teamkeys.cli",
                "worker",
                "--processes",
                str(processes),
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            env=settings_env(settings),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            with log_path.open("rb") as log:
                log.seek(start)
                said = log.read()
            if self.process.poll() is not None:
                raise AssertionError(f"teamkeys worker exited: {said.decode(errors='replace')}")
            return said.count(b"Worker process is ready for action") >= processes

        wait_until(ready, timeout=90, what="the worker processes to be ready")

    def kill(self) -> None:
        """SIGKILL the whole group: no handler runs, nothing is acknowledged or cleaned up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class Deployment:
    """The web process and the scheduler (relay) in this process; workers elsewhere."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = build_runtime(settings)
        self.server = LiveServer(build_app(self.runtime))
        self.stop_scheduler = threading.Event()
        self.scheduler = threading.Thread(
            target=run_scheduler,
            args=(periodic_tasks(self.runtime, self.runtime.relay), self.stop_scheduler),
            daemon=True,
        )

    def __enter__(self) -> Deployment:
        self.server.start()
        self.scheduler.start()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()
        self.stop_scheduler.set()
        self.scheduler.join(timeout=10)
        self.server.stop()
        self.runtime.broker.flush_all()
        self.runtime.close()

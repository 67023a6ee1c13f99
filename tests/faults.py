"""Fault injection for the reliability tests: a TCP proxy that can cut a service off, and
worker processes that can be killed."""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.engine import make_url

from infra.settings import Settings
from teamkeys.runtime import build_runtime
from teamkeys.web import build_app
from tests.support import LiveServer, wait_until
from workers.scheduler import lease_holder, periodic_tasks, run_scheduler

ROOT = Path(__file__).resolve().parents[1]


def quiet_port() -> int:
    """A free loopback port outside the kernel's range for outgoing connections. While a proxy
    is down nothing listens on its port, and a client reconnecting to a port in that range can
    be given the same port as its own source: the connection then reaches itself (a TCP
    self-connect), and a Redis client talking to itself reads its own commands back; seen as
    "Connection reset" for a minute after the proxy was up again."""
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(100):
        port = random.randrange(10_000, min(low, 32_768))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


class TcpProxy:
    """Forwards a loopback port to ``target``; :meth:`down` refuses and cuts every connection,
    as a crashed server would, and :meth:`up` serves again on the same port. :meth:`freeze`
    stops forwarding but keeps every connection open and takes new ones, as a hung server or a
    network partition does, until :meth:`resume` passes on what waited."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self.port: int = quiet_port()

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
            # Closing alone would leave the accept() blocked in the accepting thread holding the
            # socket open on Linux: one more connection would still get through.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def freeze(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError as exc:
                # Said, so that a test failing on a proxy that is up says why (pytest shows it).
                print(f"TcpProxy :{self.port}: could not reach {self.target}: {exc}", flush=True)
                client.close()
                continue
            upstream.settimeout(None)  # the connect's bound only: _pipe waits on its selector
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        # epoll, not select(): select() takes no descriptor above 1023, and a long test process
        # (an xdist worker late in the suite) has more open than that; each connection through
        # the proxy then ended at once ("Connection reset by peer").
        watching = selectors.DefaultSelector()
        try:
            for sock in (a, b):
                watching.register(sock, selectors.EVENT_READ)
            while a.fileno() >= 0 and b.fileno() >= 0:  # closed by down()
                if not self._flowing.wait(timeout=1.0):
                    continue  # frozen: bytes wait in the kernel's buffers, unread
                for key, _ in watching.select(timeout=1.0):
                    sock = cast(socket.socket, key.fileobj)
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            watching.close()
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


@contextlib.contextmanager
def database_through_proxy(settings: Settings) -> Iterator[tuple[TcpProxy, Settings]]:
    """The same for ``settings``' PostgreSQL database."""
    url = make_url(settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        yield proxy, settings.model_copy(update={"database_url": proxied})
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


def terminate_group(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM to ``process``'s whole process group (honcho's and systemd's way of stopping
    it), then its exit status; SIGKILL if it is still there after ``timeout``."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        raise


class TeamkeysProcess:
    """A ``teamkeys`` command as its own process group, as in production (honcho starts each
    process of the Procfile in a new session), its output in ``log_path``."""

    def __init__(self, settings: Settings, log_path: Path, *argv: str) -> None:
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.start = self.log.tell()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "teamkeys.cli", *argv],
            cwd=ROOT,
            env=settings_env(settings),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole group: no handler runs, nothing is acknowledged or cleaned up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM to the whole group, as honcho and systemd stop it; its exit status."""
        return terminate_group(self.process, timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()


class WorkerProcess(TeamkeysProcess):
    """``teamkeys worker`` (Dramatiq's CLI), made once every Dramatiq process says it is ready
    (on a loaded machine importing teamkeys can take longer than a test's first wait for a
    job)."""

    def __init__(
        self, settings: Settings, log_path: Path, *, processes: int = 1, threads: int = 2
    ) -> None:
        self.processes = processes
        super().__init__(
            settings,
            log_path,
            "worker",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        )
        self.wait_ready(timeout=90)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every worker process has booted (slow on a busy machine)."""

        def ready() -> bool:
            said = self.output()[self.start :]
            if self.process.poll() is not None:
                raise AssertionError(f"teamkeys worker exited: {said}")
            return said.count("Worker process is ready") >= self.processes

        wait_until(ready, timeout=timeout, what="the worker processes to boot")


class Deployment:
    """The web process and the scheduler (relay) in this process; workers elsewhere. With
    ``scheduler=False`` the scheduler runs elsewhere too (``teamkeys scheduler`` processes)."""

    def __init__(self, settings: Settings, *, scheduler: bool = True) -> None:
        self.runtime = build_runtime(settings)
        self.server = LiveServer(build_app(self.runtime))
        self.stop_scheduler = threading.Event()
        self.scheduler = threading.Thread(
            target=run_scheduler,
            args=(
                periodic_tasks(self.runtime, self.runtime.relay),
                self.stop_scheduler,
                lease_holder(self.runtime),
            ),
            daemon=True,
        )
        self.with_scheduler = scheduler

    def __enter__(self) -> Deployment:
        self.server.start()
        if self.with_scheduler:
            self.scheduler.start()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()
        self.stop_scheduler.set()
        if self.with_scheduler:
            self.scheduler.join(timeout=10)
        self.server.stop()
        self.runtime.broker.flush_all()
        self.runtime.close()

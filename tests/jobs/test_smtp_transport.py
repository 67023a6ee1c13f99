"""SmtpTransport against a real SMTP server (FaultySink) on loopback."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.mail.errors import PermanentMailError, TransientMailError
from infra.mail.message import build_message, message_id_for
from infra.mail.render import RenderedEmail
from infra.mail.transport import SmtpTransport
from infra.services import smtp_transport
from infra.settings import Settings
from tests.faulty_sink import FaultySink


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[FaultySink]:
    with FaultySink(directory=tmp_path / "mail") as running:
        yield running


@pytest.fixture
def transport(sink: FaultySink) -> Iterator[SmtpTransport]:
    smtp = SmtpTransport(sink.host, sink.port, timeout=2.0, local_hostname="localhost")
    yield smtp
    smtp.close()


def message(n: int, subject: str | None = None) -> EmailMessage:
    rendered = RenderedEmail(
        subject=subject or f"Message {n}", text=f"text {n}\n", html=f"<p>html {n}</p>\n"
    )
    return build_message(
        rendered,
        sender_name="teamkeys",
        sender_address="noreply@teamkeys.example",
        to_name="Alice",
        to_address="alice@example.com",
        message_id=message_id_for(f"test:{n}", "teamkeys.example"),
    )


def test_three_messages_share_one_connection(sink: FaultySink, transport: SmtpTransport) -> None:
    for n in range(3):
        transport.send(message(n))

    assert [m["Subject"] for m in sink.messages] == ["Message 0", "Message 1", "Message 2"]
    assert sink.connections == 1


def test_concurrent_senders_share_one_connection(
    sink: FaultySink, transport: SmtpTransport
) -> None:
    threads = [threading.Thread(target=transport.send, args=(message(n),)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(m["Subject"] for m in sink.messages) == [f"Message {n}" for n in range(6)]
    assert sink.connections == 1


def test_received_message_keeps_structure_and_is_saved_as_eml(
    sink: FaultySink, transport: SmtpTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="teamkeys.mailsink")

    transport.send(message(1, subject="Welcome to teamkeys: Acme is ready!"))

    expected_id = message_id_for("test:1", "teamkeys.example")
    received = sink.wait_for(lambda m: m["Message-ID"] == expected_id)
    assert received.get_content_type() == "multipart/alternative"
    assert sink.directory is not None
    (saved,) = sink.directory.glob("*.eml")
    assert saved.name.endswith("-1-welcome-to-teamkeys-acme-is-ready.eml")
    parsed = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Welcome to teamkeys: Acme is ready!"
    assert f"saved as {saved}" in caplog.text
    assert 'email to alice@example.com "Welcome to teamkeys: Acme is ready!"' in caplog.text


def test_reconnects_after_server_restart(sink: FaultySink, transport: SmtpTransport) -> None:
    transport.send(message(1))
    sink.stop()
    sink.start()

    transport.send(message(2))

    assert sink.count(lambda m: True) == 2
    assert sink.connections == 2


def test_4xx_refusal_is_transient(sink: FaultySink, transport: SmtpTransport) -> None:
    sink.refuse_with = (451, "4.3.0 try later")

    with pytest.raises(TransientMailError, match="451"):
        transport.send(message(1))

    sink.refuse_with = None
    transport.send(message(2))
    assert [m["Subject"] for m in sink.messages] == ["Message 2"]


def test_5xx_refusal_is_permanent(sink: FaultySink, transport: SmtpTransport) -> None:
    sink.refuse_with = (550, "5.1.1 no such user")

    with pytest.raises(PermanentMailError, match="550"):
        transport.send(message(1))

    assert sink.messages == []


def test_server_down_is_transient(sink: FaultySink, transport: SmtpTransport) -> None:
    sink.stop()

    with pytest.raises(TransientMailError):
        transport.send(message(1))


def test_slow_server_times_out_as_transient(sink: FaultySink) -> None:
    sink.data_delay = 1.0
    smtp = SmtpTransport(sink.host, sink.port, timeout=0.2, local_hostname="localhost")
    try:
        with pytest.raises(TransientMailError):
            smtp.send(message(1))
    finally:
        smtp.close()


def test_wait_for_names_what_arrived_on_timeout(sink: FaultySink, transport: SmtpTransport) -> None:
    transport.send(message(1))

    with pytest.raises(TimeoutError, match="Message 1"):
        sink.wait_for(lambda m: m["Subject"] == "never", timeout=0.1)


# --- the pool: connections in parallel, each reused ------------------------------------------


def send_from_threads(
    transport: SmtpTransport, numbers: list[int], threads: int
) -> list[BaseException]:
    """Send ``message(n)`` for each number from ``threads`` threads at once, as a worker
    process's threads do; returns what the sends raised."""
    pending = list(numbers)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                if not pending:
                    return
                n = pending.pop(0)
            try:
                transport.send(message(n))
            except Exception as exc:
                with lock:
                    failures.append(exc)

    running = [threading.Thread(target=sender) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return failures


def subjects(sink: FaultySink) -> list[str]:
    return sorted(str(m["Subject"]) for m in sink.messages)


@contextmanager
def pool(sink: FaultySink, connections: int) -> Iterator[SmtpTransport]:
    """A transport to the sink with a pool of ``connections``, closed afterwards."""
    smtp = SmtpTransport(
        sink.host, sink.port, timeout=5.0, local_hostname="localhost", connections=connections
    )
    try:
        yield smtp
    finally:
        smtp.close()


@pytest.mark.parametrize(
    ("connections", "threads", "in_parallel"),
    [(3, 6, 3), (0, 4, 4)],
    ids=["pool-of-3-caps-it", "pool-of-0-opens-one-per-sending-thread"],
)
def test_concurrent_sends_use_up_to_the_pool_size_in_parallel(
    sink: FaultySink, connections: int, threads: int, in_parallel: int
) -> None:
    sink.data_delay = 0.5
    with pool(sink, connections) as smtp:
        assert send_from_threads(smtp, list(range(threads)), threads=threads) == []

    assert subjects(sink) == sorted(f"Message {n}" for n in range(threads))
    assert sink.held_most == in_parallel
    assert sink.connections == in_parallel


def test_connections_are_reused_across_many_messages(sink: FaultySink) -> None:
    sink.data_delay = 0.02
    with pool(sink, 3) as smtp:
        assert send_from_threads(smtp, list(range(30)), threads=5) == []

    assert len(sink.messages) == 30
    assert 1 <= sink.connections <= 3


def test_close_says_quit_on_every_connection(sink: FaultySink) -> None:
    sink.data_delay = 0.5
    with pool(sink, 3) as smtp:
        assert send_from_threads(smtp, list(range(3)), threads=3) == []
        assert sink.connections == 3

        smtp.close()

        assert sink.quits == 3


def test_dropped_connections_are_replaced(sink: FaultySink) -> None:
    sink.data_delay = 0.5
    with pool(sink, 2) as smtp:
        assert send_from_threads(smtp, [1, 2], threads=2) == []
        assert sink.connections == 2
        sink.stop()  # the server hangs up on both connections, idle in the pool
        sink.start()

        assert send_from_threads(smtp, [3, 4, 5, 6], threads=2) == []

    assert subjects(sink) == [f"Message {n}" for n in range(1, 7)]
    assert sink.connections == 4  # two, then two to replace them, reused thereafter


def test_5xx_is_permanent_on_every_connection_of_the_pool(sink: FaultySink) -> None:
    sink.data_delay = 0.1
    sink.refuse_with = (550, "5.1.1 no such user")
    with pool(sink, 3) as smtp:
        failures = send_from_threads(smtp, list(range(6)), threads=3)
        assert len(failures) == 6
        assert all(isinstance(f, PermanentMailError) and "550" in str(f) for f in failures)
        assert sink.messages == []

        sink.refuse_with = None
        assert send_from_threads(smtp, [7, 8, 9], threads=3) == []

    assert subjects(sink) == ["Message 7", "Message 8", "Message 9"]


def test_the_pool_size_setting_reaches_the_transport(
    sink: FaultySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMKEYS_SMTP_HOST", sink.host)
    monkeypatch.setenv("TEAMKEYS_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("TEAMKEYS_SMTP_CONNECTIONS", "2")
    sink.data_delay = 0.5
    smtp = smtp_transport(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        assert send_from_threads(smtp, list(range(4)), threads=4) == []
    finally:
        smtp.close()

    assert len(sink.messages) == 4
    assert sink.held_most == 2
    assert sink.connections == 2


def test_a_negative_pool_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMKEYS_SMTP_CONNECTIONS", "-1")

    with pytest.raises(ValidationError, match="smtp_connections"):
        Settings(_env_file=None)  # type: ignore[call-arg]

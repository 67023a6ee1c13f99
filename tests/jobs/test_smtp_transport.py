"""SmtpTransport against a real SMTP server (FaultySink) on loopback."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from infra.mail.errors import PermanentMailError, TransientMailError
from infra.mail.message import build_message, message_id_for
from infra.mail.render import RenderedEmail
from infra.mail.transport import SmtpTransport
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

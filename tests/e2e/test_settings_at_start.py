"""Settings as an operator meets them: the real ``teamkeys`` commands, started with a bad or
missing setting, stop at once with one line per problem (exit 1, no traceback) before they
connect to anything; argparse refuses counts, durations and ports that cannot be."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.settings import Settings
from teamkeys import cli
from tests.faults import ROOT
from tests.support import TEST_ENCRYPTION_KEY, services_only

#: Good production settings, pointing nowhere: every command below must exit before it
#: connects (port 1 refuses at once if anything did try).
GOOD = {
    "TEAMKEYS_DATABASE_URL": "postgresql://teamkeys:secret-db-password@127.0.0.1:1/teamkeys",
    "TEAMKEYS_BROKER_URL": "redis://127.0.0.1:1/0",
    "TEAMKEYS_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
}
COMMANDS = {
    "web": ["web", "--port", "1"],
    "worker": ["worker", "--processes", "1", "--threads", "1"],
    "scheduler": ["scheduler"],
}


def teamkeys(
    *argv: str, env: dict[str, str], module: str = "teamkeys.cli", cwd: Path = ROOT
) -> tuple[int, str]:
    """Runs ``python -m module argv`` with only ``env``'s TEAMKEYS_ settings; its exit status
    and everything it wrote."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    done = subprocess.run(
        [sys.executable, "-m", module, *argv],
        cwd=cwd,
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("command", "variable", "value", "line"),
    [
        (
            "web",
            "TEAMKEYS_ENCRYPTION_KEY",
            "not-a-key",
            "teamkeys: TEAMKEYS_ENCRYPTION_KEY: not a Fernet key (URL-safe base64 of 32 bytes); "
            "make one with `teamkeys new-encryption-key`",
        ),
        (
            "worker",
            "TEAMKEYS_PRICES",
            '{"currency": "USD", "models": {',
            # The JSON is not repeated (a price list is long); where it breaks is said.
            "teamkeys: TEAMKEYS_PRICES: not valid JSON (Expecting property name enclosed in double "
            "quotes: line 1 column 32 (char 31))",
        ),
        (
            "scheduler",
            "TEAMKEYS_PRICES",
            '{"currency": "dollars"}',
            "teamkeys: TEAMKEYS_PRICES: currency must be an ISO 4217 code such as USD or EUR",
        ),
        (
            "scheduler",
            "TEAMKEYS_SMTP_PORT",
            "abc",
            "teamkeys: TEAMKEYS_SMTP_PORT: not a whole number ('abc')",
        ),
        (
            "worker",
            "TEAMKEYS_STOP_GRACE_SECONDS",
            "inf",
            "teamkeys: TEAMKEYS_STOP_GRACE_SECONDS: Input should be a finite number ('inf')",
        ),
        (
            "scheduler",
            "TEAMKEYS_SCHEDULER_BEAT_SECONDS",
            "0",
            "teamkeys: TEAMKEYS_SCHEDULER_BEAT_SECONDS: must be more than 0 ('0')",
        ),
        (
            "worker",
            "TEAMKEYS_WORKER_METRICS_PORT",
            "70000",
            "teamkeys: TEAMKEYS_WORKER_METRICS_PORT: must be 65535 or less ('70000')",
        ),
        (
            "web",
            "TEAMKEYS_JOB_RUN_LEASE_SECONDS",
            "0",
            "teamkeys: TEAMKEYS_JOB_RUN_LEASE_SECONDS: must be more than 0 ('0')",
        ),
        (
            "worker",
            "TEAMKEYS_BROKER_URL",
            "kafka://127.0.0.1:9092",
            "teamkeys: TEAMKEYS_BROKER_URL: not a Redis (redis://HOST:6379/0) or RabbitMQ "
            "(amqp://USER:PASSWORD@HOST:5672/VHOST) URL ('kafka://127.0.0.1:9092')",
        ),
        (
            "web",
            "TEAMKEYS_DATABASE_URL",
            "mysql://teamkeys:secret-db-password@127.0.0.1/teamkeys",
            "teamkeys: TEAMKEYS_DATABASE_URL: not a PostgreSQL URL "
            "(postgresql://USER:PASSWORD@HOST:5432/DATABASE) or an SQLite one (sqlite:///PATH) "
            "('mysql://teamkeys:***@127.0.0.1/teamkeys')",
        ),
        (
            "scheduler",
            "TEAMKEYS_LIMIT_SIGN_UP_PER_IP",
            "lots",
            "teamkeys: TEAMKEYS_LIMIT_SIGN_UP_PER_IP: 'lots' is not a rate; write it as "
            "'5/15 minutes', '20/hour' or '3/7 days'",
        ),
    ],
)
def test_a_bad_setting_stops_the_process_with_one_line(
    command: str, variable: str, value: str, line: str
) -> None:
    code, output = teamkeys(*COMMANDS[command], env=GOOD | {variable: value})
    assert code == 1, output
    assert output.splitlines() == [line]
    assert "secret-db-password" not in output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_production_processes_refuse_the_embedded_default(command: str, tmp_path: Path) -> None:
    """Without a database, a key and a broker, each says what to set, one line each; none
    makes a SQLite file or a key of its own (no ./var appears where it ran)."""
    code, output = teamkeys(*COMMANDS[command], env={}, cwd=tmp_path)
    assert code == 1, output
    lines = output.splitlines()
    assert [line.split(":")[1].split()[0] for line in lines] == [
        "TEAMKEYS_DATABASE_URL",
        "TEAMKEYS_ENCRYPTION_KEY",
        "TEAMKEYS_BROKER_URL",
    ]
    assert all(line.startswith(f"teamkeys {command}: ") for line in lines), output
    assert "use `teamkeys dev`" in lines[0]
    assert "teamkeys new-encryption-key" in lines[1]
    assert "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_an_operator_command_on_a_database_without_its_key_says_so() -> None:
    """``support add-agent`` may use the embedded default, but a real database's secrets need
    the key they were sealed with: one line, before the database is touched."""
    env = {"TEAMKEYS_DATABASE_URL": GOOD["TEAMKEYS_DATABASE_URL"]}
    code, output = teamkeys("support", "add-agent", "sam@example.com", "--name", "Sam", env=env)
    assert code == 1, output
    assert output.splitlines() == [
        "teamkeys: TEAMKEYS_ENCRYPTION_KEY is not set: make one with `teamkeys new-encryption-key` "
        "and give the same value to every process (web, worker, scheduler)"
    ]


@pytest.mark.parametrize("argv", [["db", "upgrade"], ["invoices", "runs"]], ids=" ".join)
def test_an_operator_command_on_a_database_that_does_not_answer_says_so(argv: list[str]) -> None:
    """One line naming the database and its setting, exit 1, no traceback."""
    code, output = teamkeys(*argv, env=GOOD)
    assert code == 1, output
    [line] = output.splitlines()
    assert line.startswith("teamkeys: the database does not answer (OperationalError: "), line
    assert line.endswith("is it running, and is TEAMKEYS_DATABASE_URL right?"), line
    assert "secret-db-password" not in line


def test_a_dramatiq_worker_process_checks_the_settings_too() -> None:
    """``dramatiq teamkeys.entrypoint``, as ``teamkeys worker`` runs it (or an operator does):
    each worker process says what is wrong, and Dramatiq exits 1."""
    code, output = teamkeys(
        "teamkeys.entrypoint",
        "--processes",
        "1",
        "--threads",
        "1",
        env=GOOD | {"TEAMKEYS_SMTP_PORT": "abc"},
        module="dramatiq",
    )
    assert code == 1, output
    assert "teamkeys worker: TEAMKEYS_SMTP_PORT: not a whole number ('abc')" in output
    assert "Traceback" not in output


def test_the_deprecated_redis_url_still_names_the_broker() -> None:
    env = {k: v for k, v in GOOD.items() if k != "TEAMKEYS_BROKER_URL"}
    env |= {"TEAMKEYS_REDIS_URL": "redis://127.0.0.1:1/0", "TEAMKEYS_ENCRYPTION_KEY": ""}
    code, output = teamkeys(*COMMANDS["scheduler"], env=env)
    assert code == 1, output
    warning, refusal = output.splitlines()
    assert warning.endswith(
        "WARNING teamkeys: TEAMKEYS_REDIS_URL is deprecated: name the broker TEAMKEYS_BROKER_URL"
    )
    # The broker is there (by its old name): only the key is missing.
    assert refusal == (
        "teamkeys scheduler: TEAMKEYS_ENCRYPTION_KEY is not set: make one with "
        "`teamkeys new-encryption-key` and give the same value to every process (web, worker, "
        "scheduler)"
    )


def test_version() -> None:
    code, output = teamkeys("--version", env={"TEAMKEYS_SMTP_PORT": "abc"})
    assert code == 0, output
    assert output == f"teamkeys {importlib.metadata.version('teamkeys')}\n"


def test_a_new_key_can_be_made_while_the_configured_one_is_bad() -> None:
    code, output = teamkeys("new-encryption-key", env={"TEAMKEYS_ENCRYPTION_KEY": "typo"})
    assert code == 0, output
    assert Settings(_env_file=None, encryption_key=output.strip())  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["invoices", "generate", "--period", "2026-10", "--batch", "0"], "--batch: must be 1"),
        (["invoices", "generate", "--period", "2026-10", "--batch", "x"], "--batch: not a whole"),
        (["demo", "--timeout", "-5"], "--timeout: must be a number of seconds more than 0"),
        (["demo", "--timeout", "nan"], "--timeout: must be a number of seconds more than 0"),
        (["worker", "--processes", "0"], "--processes: must be 1 or more"),
        (["worker", "--threads", "-1"], "--threads: must be 1 or more"),
        (["web", "--port", "0"], "--port: not a port number (1 to 65535)"),
        (["dev", "--port", "70000"], "--port: not a port number (1 to 65535)"),
        (["support", "tickets", "--limit", "0"], "--limit: must be 1 or more"),
        (["invoices", "runs", "--limit", "-3"], "--limit: must be 1 or more"),
    ],
)
def test_the_command_line_refuses_numbers_that_cannot_be(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert f"error: argument {error}" in capsys.readouterr().err


def test_a_port_from_the_platform_is_checked_like_a_flag() -> None:
    code, output = teamkeys("web", env=GOOD | {"PORT": "http"})
    assert code == 2, output
    assert "error: argument --port: not a port number: 'http'" in output
    assert "Traceback" not in output


@services_only("needs PostgreSQL")
def test_a_postgres_url_as_platforms_give_it_is_accepted(settings: Settings) -> None:
    """``postgres://`` (Heroku and others) means psycopg 3: ``db upgrade`` runs on it."""
    url = settings.database_url.replace("postgresql+psycopg://", "postgres://", 1)
    assert url.startswith("postgres://")
    code, output = teamkeys("db", "upgrade", env={"TEAMKEYS_DATABASE_URL": url})
    assert code == 0, output
    assert "database is up to date" in output

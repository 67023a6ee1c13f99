"""Each setting's default lives in ``infra.settings.Settings``; ``.env.example`` documents every
one with that default, and the policies are built from them in one place."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.billing import Period, Price
from domain.secrets import SecretBox
from infra.services import build_policies
from infra.settings import InvalidSettings, Settings, get_settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def example_values() -> dict[str, str]:
    """``NAME=value`` lines of .env.example (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not NAME=value: {line!r}"
        assert name not in values, f"{name} twice in .env.example"
        values[name] = value
    return values


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No TEAMKEYS_ setting from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("TEAMKEYS_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_env_example_names_exactly_the_settings() -> None:
    documented = set(example_values())
    settings = {f"TEAMKEYS_{name.upper()}" for name in Settings.model_fields}
    assert documented - settings == set(), "in .env.example but not a setting"
    assert settings - documented == set(), "a setting .env.example does not document"


def test_env_example_shows_each_default(clean_environment: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name, value in example_values().items():
        clean_environment.setenv(name, value)
    documented = Settings(_env_file=None)  # type: ignore[call-arg]
    for field in Settings.model_fields:
        assert getattr(documented, field) == getattr(defaults, field), field


def test_policies_carry_the_configured_values() -> None:
    policies = build_policies(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            key_reveal_window_minutes=3,
            invitation_daily_limit=7,
            production_manual_review_above=11,
        )
    )
    assert policies.key_policy.reveal_window == timedelta(minutes=3)
    assert policies.invitation_policy.daily_limit == 7
    assert policies.review_policy.manual_review_above == 11


def test_a_scheduler_lease_must_outlast_its_beat(clean_environment: pytest.MonkeyPatch) -> None:
    """A lease that ran out between two beats would pass from scheduler to scheduler."""
    clean_environment.setenv("TEAMKEYS_SCHEDULER_BEAT_SECONDS", "10")
    clean_environment.setenv("TEAMKEYS_SCHEDULER_LEASE_SECONDS", "10")
    with pytest.raises(ValueError, match="SCHEDULER_LEASE_SECONDS must be longer"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def problems(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ``get_settings`` says of ``environment`` (the only TEAMKEYS_ variables set)."""
    for name in list(os.environ):
        if name.startswith("TEAMKEYS_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        get_settings()
    except InvalidSettings as exc:
        return exc.problems
    finally:
        get_settings.cache_clear()
    return []


@pytest.mark.parametrize(
    "url",
    [
        "postgres://teamkeys:pw@db.example:5432/teamkeys",
        "postgresql://teamkeys:pw@db.example:5432/teamkeys",
        "postgresql+psycopg://teamkeys:pw@db.example:5432/teamkeys",
    ],
)
def test_postgres_urls_mean_psycopg_3(url: str) -> None:
    assert settings(database_url=url).database_url == (
        "postgresql+psycopg://teamkeys:pw@db.example:5432/teamkeys"
    )


def test_every_problem_is_a_line_and_no_secret_is_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    said = problems(
        {
            "TEAMKEYS_ENCRYPTION_KEY": "hunter2-not-a-key",
            "TEAMKEYS_SMTP_PASSWORD": "irrelevant",
            "TEAMKEYS_SMTP_PORT": "70000",
            "TEAMKEYS_SMTP_STARTTLS": "maybe",
            "TEAMKEYS_BROKER_URL": "nats://user:hunter2@127.0.0.1:4222",
            "TEAMKEYS_LIMITS_URL": "memcached://127.0.0.1",
            "TEAMKEYS_PUBLIC_URL": "app.example.com",
            "TEAMKEYS_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal",
            "TEAMKEYS_LOG_LEVEL": "chatty",
            "TEAMKEYS_PRICES": '{"currency": "USD", "models": {"m": {"input": -1, "output": 1}}}',
        },
        monkeypatch,
    )
    assert said == [
        "TEAMKEYS_BROKER_URL: not a Redis (redis://HOST:6379/0) or RabbitMQ "
        "(amqp://USER:PASSWORD@HOST:5672/VHOST) URL ('nats://user:***@127.0.0.1:4222')",
        "TEAMKEYS_LIMITS_URL: not a Redis URL (redis://HOST:6379/0) or memory:// "
        "('memcached://127.0.0.1')",
        "TEAMKEYS_PUBLIC_URL: not an http:// or https:// address ('app.example.com')",
        "TEAMKEYS_SMTP_PORT: must be 65535 or less ('70000')",
        "TEAMKEYS_SMTP_STARTTLS: not true or false ('maybe')",
        "TEAMKEYS_ENCRYPTION_KEY: not a Fernet key (URL-safe base64 of 32 bytes); make one with "
        "`teamkeys new-encryption-key`",
        "TEAMKEYS_PRICES: models.m: prices cannot be negative",
        "TEAMKEYS_TRUSTED_PROXIES: 'proxy.internal' is not an IP address or network "
        "('10.0.0.0/8, proxy.internal')",
        "TEAMKEYS_LOG_LEVEL: not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL) ('chatty')",
    ]
    assert "hunter2" not in "\n".join(said)


def test_the_old_redis_name_names_the_broker_unless_it_disagrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = settings(redis_url="redis://r:6379/0")
    assert old.broker_url == "redis://r:6379/0"
    assert old.warnings() == [
        "TEAMKEYS_REDIS_URL is deprecated: name the broker TEAMKEYS_BROKER_URL"
    ]
    assert problems(
        {"TEAMKEYS_REDIS_URL": "redis://r:6379/0", "TEAMKEYS_BROKER_URL": "amqp://q/"},
        monkeypatch,
    ) == [
        "TEAMKEYS_REDIS_URL is the old name of TEAMKEYS_BROKER_URL and says otherwise; unset "
        "TEAMKEYS_REDIS_URL"
    ]


@pytest.mark.parametrize(
    ("broker_url", "limits_url", "counted_in", "warned"),
    [
        ("", "", "", False),  # embedded: process memory, as it is one process
        ("redis://r:6379/0", "", "redis://r:6379/0", False),
        ("amqp://guest:guest@q:5672/teamkeys", "", "", True),
        ("amqp://guest:guest@q:5672/teamkeys", "redis://r:6379/1", "redis://r:6379/1", False),
        ("amqp://guest:guest@q:5672/teamkeys", "memory://", "", False),
        ("redis://r:6379/0", "memory://", "", False),
    ],
)
def test_where_the_abuse_limits_count(
    broker_url: str, limits_url: str, counted_in: str, warned: bool
) -> None:
    chosen = settings(broker_url=broker_url, limits_url=limits_url)
    assert chosen.effective_limits_url == counted_in
    assert any("abuse limits" in line for line in chosen.warnings()) == warned


def test_production_needs_a_database_a_key_and_a_broker() -> None:
    assert [line.split()[0] for line in settings().production_problems()] == [
        "TEAMKEYS_DATABASE_URL",
        "TEAMKEYS_ENCRYPTION_KEY",
        "TEAMKEYS_BROKER_URL",
    ]
    complete = settings(
        database_url="postgres://db/teamkeys",
        encryption_key=SecretBox.new_key(),
        broker_url="amqps://guest:guest@q:5671/teamkeys",
    )
    assert complete.production_problems() == []


def test_prices_are_one_table_or_a_dated_list_and_say_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed = [
        {"from": "2026-01", "currency": "EUR", "default": {"input": "0.15", "output": 1}},
        {"from": "2026-07", "currency": "EUR", "models": {"m": {"input": 9, "output": 9}}},
    ]
    monkeypatch.setenv("TEAMKEYS_PRICES", json.dumps(changed))
    schedule = settings().prices
    assert [str(start) for start, _ in schedule.tables] == ["2026-01", "2026-07"]
    assert schedule.table_for(Period(2026, 6)).default == Price(Decimal("0.15"), Decimal(1))
    assert schedule.table_for(Period(2026, 7)).price_of("m") == Price(Decimal(9), Decimal(9))
    # As the setting says them, so a process started with these settings gets the same.
    monkeypatch.setenv("TEAMKEYS_PRICES", json.dumps(settings().model_dump(mode="json")["prices"]))
    assert settings().prices == schedule
    monkeypatch.setenv("TEAMKEYS_PRICES", json.dumps(changed[1:]))  # one table, from a month
    dated = settings().prices
    monkeypatch.setenv("TEAMKEYS_PRICES", json.dumps(settings().model_dump(mode="json")["prices"]))
    assert settings().prices == dated

    def said(prices: object) -> list[str]:
        return problems({"TEAMKEYS_PRICES": json.dumps(prices)}, monkeypatch)

    assert said([changed[1], changed[0]]) == [
        'TEAMKEYS_PRICES: each table\'s "from" must be a month after the one before it'
    ]
    assert said([changed[0], {**changed[1], "currency": "USD"}]) == [
        "TEAMKEYS_PRICES: every table must be in one currency (an invoice has one)"
    ]
    assert said([{"currency": "EUR"}]) == [
        'TEAMKEYS_PRICES: table 1: "from" must be the month it starts in, YYYY-MM'
    ]
    assert said([changed[0], {**changed[1], "default": {"input": -1, "output": 0}}]) == [
        "TEAMKEYS_PRICES: table 2 (from 2026-07): default: prices cannot be negative"
    ]
    assert said({"currncy": "EUR"}) == [
        "TEAMKEYS_PRICES: unknown key 'currncy' (a table has currency, default and models)"
    ]
    assert said([]) == [
        "TEAMKEYS_PRICES: must be a JSON object (one price table) or a list of them"
    ]

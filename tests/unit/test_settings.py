"""Each setting's default lives in ``infra.settings.Settings``; ``.env.example`` documents every
one with that default, and the policies are built from them in one place."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from infra.services import build_policies
from infra.settings import Settings

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

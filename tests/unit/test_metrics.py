"""Who may read the metrics, and a scrape while the database is down (``infra.metrics``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.db import Database, make_engine
from infra.metrics import Metrics, may_read_metrics
from infra.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("client", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("203.0.113.7", False),
        ("", False),
        ("testclient", False),
    ],
)
def test_by_default_only_loopback_may_read_the_metrics(client: str, allowed: bool) -> None:
    assert may_read_metrics(settings(), client, "") is allowed


def test_the_token_opens_the_metrics_from_anywhere_and_nothing_else_does() -> None:
    guarded = settings(metrics_token="s3cret-token-for-prometheus", metrics_networks="10.0.0.0/8")
    assert may_read_metrics(guarded, "203.0.113.7", "Bearer s3cret-token-for-prometheus")
    assert may_read_metrics(guarded, "203.0.113.7", "bearer s3cret-token-for-prometheus")
    assert may_read_metrics(guarded, "10.1.2.3", "")
    for wrong in ("", "Bearer", "Bearer s3cret", "Basic s3cret-token-for-prometheus", "x"):
        assert not may_read_metrics(guarded, "203.0.113.7", wrong), wrong
    assert not may_read_metrics(guarded, "127.0.0.1", "")  # loopback was not listed
    assert not may_read_metrics(settings(metrics_networks=""), "127.0.0.1", "Bearer ")


def test_a_network_that_is_not_one_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="metrics_networks"):
        settings(metrics_networks="127.0.0.1/8,localhost")
    with pytest.raises(ValueError, match="'localhost' is not an IP address or network"):
        settings(metrics_networks="localhost")
    with pytest.raises(ValueError, match=r"'\*' is not an IP address"):  # any: proxies only
        settings(metrics_networks="*")


def test_a_scrape_while_the_database_is_down_answers_without_its_figures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = Database(
        make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False)
    )
    metrics = Metrics(down)
    metrics.request("GET", "/v1/me", 200, 0.01)
    metrics.request("BREW", "(no route)", 405, 0.01)
    with caplog.at_level(logging.WARNING, "teamkeys.metrics"):
        families = {f.name for f in text_string_to_metric_families(metrics.scrape().decode())}
    assert "teamkeys_http_requests" in families and "teamkeys_emails" not in families
    assert [r.getMessage() for r in caplog.records] == [
        "metrics: the database's figures are left out: OperationalError"
    ]
    samples = {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(metrics.scrape().decode())
        if f.name == "teamkeys_http_requests"
        for s in f.samples
        if s.name == "teamkeys_http_requests_total"
    }
    assert samples[(("method", "other"), ("route", "(no route)"), ("status", "405"))] == 1
    down.dispose()

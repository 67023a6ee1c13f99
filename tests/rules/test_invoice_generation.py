"""The two ways ``generate_invoices`` issues invoices give the same rows.

On PostgreSQL one SQL statement prices the lines (exact numeric arithmetic); on SQLite they
are priced in Python with ``line_amount``. Here both run on the test backend's database (the
SQL one only where it exists), each in a session rolled back after it, over usage chosen to sit
on rounding edges, with fractional prices and a custom model, and must match ``line_amount``
line by line, and each other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import billing
from domain.billing import (
    Generated,
    Period,
    Price,
    PriceSchedule,
    PriceTable,
    format_money,
    line_amount,
)
from domain.jobs import jobs_to_dispatch, take_jobs_to_dispatch
from domain.models import (
    Account,
    CustomModel,
    Email,
    Invoice,
    Job,
    Membership,
    Team,
    UsageRecord,
)

PERIOD = Period(2026, 1)
JANUARY_PRICES = PriceTable(
    "EUR",
    Price(Decimal("0.15"), Decimal("1.234567")),
    {"big": Price(Decimal(300), Decimal("1500.5")), "tiny": Price(Decimal("0.000001"), Decimal(0))},
)
#: Prices changed twice: late usage from November and December keeps its own month's prices.
PRICES = PriceSchedule(
    (
        (
            Period(2025, 6),  # and every month before it
            PriceTable(
                "EUR",
                Price(Decimal(7), Decimal(7)),
                {"tiny": Price(Decimal(2_000_000), Decimal(3))},
            ),
        ),
        (
            Period(2025, 12),
            PriceTable(
                "EUR", Price(Decimal(1), Decimal(1)), {"big": Price(Decimal("0.5"), Decimal(9))}
            ),
        ),
        (PERIOD, JANUARY_PRICES),
    )
)
#: (team, model, input tokens, output tokens) per call; several calls per line.
CALLS = [
    ("a", "big", 1_000_000, 100_000),
    ("a", "big", 500_000, 1),
    ("a", "other", 3_333_333, 0),  # 0.49999995 cents: down
    ("a", "a-bot", 0, 999),  # custom model priced as "big"
    ("b", "other", 3_333_334, 0),  # 0.5000001 cents: up
    ("b", "tiny", 500_000_000_000, 0),  # 0.5 cents exactly: up
    ("b", "tiny", 9, 0),
    ("c", "big", 9_000_000_000_000, 7_000_000_000_000),  # prices x 10**6: past 64 bits
]
JANUARY = datetime(2026, 1, 15, 12, tzinfo=UTC)
#: (team, model, input tokens, output tokens, happened, recorded): only calls recorded in
#: January are January's to bill, whenever they happened.
LATE_CALLS = [
    # December's, recorded in January: late usage, on January's invoice.
    (
        "a",
        "big",
        7_777_777,
        3,
        datetime(2025, 12, 20, tzinfo=UTC),
        datetime(2026, 1, 2, tzinfo=UTC),
    ),
    ("a", "big", 1, 0, datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ("b", "tiny", 9, 0, datetime(2025, 11, 30, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    # December's, recorded in December (December's invoice); January's, recorded in February
    # (February's invoice, as late usage): neither is January's.
    (
        "c",
        "big",
        10**9,
        0,
        datetime(2025, 12, 31, tzinfo=UTC),
        datetime(2025, 12, 31, 23, tzinfo=UTC),
    ),
    ("c", "big", 10**9, 0, JANUARY, datetime(2026, 2, 1, tzinfo=UTC)),
]


@pytest.fixture
def usage(session: Session) -> Session:
    """Three teams' calls recorded in January, some of them late, on ``session``."""
    when = JANUARY
    for team in ("a", "b", "c"):
        session.add(Team(id=f"team_{team}", name=f"Team {team}"))
        session.add(
            Account(
                id=f"acc_{team}",
                email=f"{team}@example.com",
                name=f"Owner {team}",
                password_hash="x",
            )
        )
    session.add(Account(id="acc_u", email="u@example.com", name="User", password_hash="x"))
    session.flush()
    for team in ("a", "b", "c"):
        session.add(Membership(account_id=f"acc_{team}", team_id=f"team_{team}", role="owner"))
    session.add(Membership(account_id="acc_u", team_id="team_a", role="user"))
    session.add(CustomModel(team_id="team_a", name="a-bot", base_model="big", created_by="acc_a"))
    calls = [
        *(("production", f"r{n}", *call, when, when) for n, call in enumerate(CALLS)),
        *(("production", f"late{n}", *call) for n, call in enumerate(LATE_CALLS)),
        ("trial", "trial", "a", "big", 10**9, 0, when, when),
    ]
    for kind, request_id, team, model, tokens_in, tokens_out, happened, recorded in calls:
        session.add(
            UsageRecord(
                team_id=f"team_{team}",
                request_id=request_id,
                api_key_id="key",
                key_kind=kind,
                model=model,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                occurred_at=happened,
                occurred_on=happened.date(),
                recorded_at=recorded,
            )
        )
    session.commit()
    return session


Generate = Callable[..., Generated]


def issue(session: Session, generate: Generate) -> dict[str, Any]:
    """Run ``generate``; what it wrote, keyed by team. Rolled back after."""
    take_jobs_to_dispatch(session)  # the other way's, rolled back
    try:
        result = generate(session, PERIOD, PRICES, None)
        invoices = {i.team_id: i for i in session.scalars(select(Invoice))}
        lines = {
            team: [
                (
                    line.model,
                    line.late_from,
                    line.calls,
                    line.input_tokens,
                    line.output_tokens,
                    line.amount_cents,
                )
                for line in invoice.line_items
            ]
            for team, invoice in invoices.items()
        }
        jobs = list(session.scalars(select(Job)))
        assert sorted(jobs_to_dispatch(session)) == sorted((j.id, j.name) for j in jobs)
        # One job per new invoice, which queues its owners' emails when it runs.
        assert sorted((j.name, j.args["invoice_id"]) for j in jobs) == sorted(
            ("notify_invoice_owners", i.id) for i in invoices.values()
        )
        assert all(j.status == "pending" and j.attempts == 0 for j in jobs)
        assert sorted(i.id for i in result.created) == sorted(i.id for i in invoices.values())
        assert result.existing == 0
        # What that job asks for: one email per owner (team_a's user gets none).
        emails = {}
        for team, invoice in invoices.items():
            (email_id,) = billing.invoice_emails(session, invoice.id)
            assert billing.invoice_emails(session, invoice.id) == [email_id]  # asked again
            e = session.get_one(Email, email_id)
            emails[team] = (
                e.template,
                e.cause.replace(invoice.id, "INVOICE"),
                e.to_address,
                e.to_name,
                {**e.context, "invoice_id": e.context["invoice_id"] == invoice.id},
                e.status,
            )
        return {
            "totals": {team: (i.total_cents, i.currency, i.status) for team, i in invoices.items()},
            "lines": lines,
            "emails": emails,
        }
    finally:
        session.rollback()


def expected_amount(model: str, tokens_in: int, tokens_out: int, late_from: str | None) -> int:
    """By hand: the table of the month the usage happened in."""
    if late_from == "2025-12":
        table = PRICES.tables[1][1]
    elif late_from is not None:
        assert late_from < "2025-12"
        table = PRICES.tables[0][1]
    else:
        table = JANUARY_PRICES
    return line_amount(tokens_in, tokens_out, table.price_of("big" if model == "a-bot" else model))


def test_every_line_is_priced_exactly_and_both_ways_agree(usage: Session) -> None:
    ways: list[Generate] = [billing._generate_in_python]
    if usage.get_bind().dialect.name == "postgresql":
        ways.append(billing._generate_in_postgresql)
    results = [issue(usage, way) for way in ways]
    issued = results[0]
    for team in ("a", "b", "c"):
        # The month's own lines by model, then the late ones by month and model.
        calls = [(*c[1:], None) for c in CALLS if c[0] == team] + [
            (model, tokens_in, tokens_out, f"{happened:%Y-%m}")
            for who, model, tokens_in, tokens_out, happened, recorded in LATE_CALLS
            if who == team and recorded.strftime("%Y-%m") == str(PERIOD)
        ]
        keys = sorted({(c[3], c[0]) for c in calls}, key=lambda k: (k[0] is not None, k))
        want = []
        for late_from, model in keys:
            mine = [c for c in calls if (c[3], c[0]) == (late_from, model)]
            tokens_in, tokens_out = sum(c[1] for c in mine), sum(c[2] for c in mine)
            amount = expected_amount(model, tokens_in, tokens_out, late_from)
            want.append((model, late_from, len(mine), tokens_in, tokens_out, amount))
        assert issued["lines"][f"team_{team}"] == want
        total = sum(line[-1] for line in want)
        assert issued["totals"][f"team_{team}"] == (total, "EUR", "issued")
        assert issued["emails"][f"team_{team}"] == (
            "invoice_ready",
            f"invoice_ready:INVOICE:acc_{team}",
            f"{team}@example.com",
            f"Owner {team}",
            {
                "team_name": f"Team {team}",
                "period": "2026-01",
                "total": format_money(total, "EUR"),
                "invoice_id": True,
                "reason": f"you are an owner of Team {team}, and owners receive its invoices.",
                "recipient_name": f"Owner {team}",
            },
            "queued",
        )
    assert issued["lines"]["team_b"][1][-1] == 1  # 0.5 + 0.000009 cents of "tiny": up
    assert [line[:2] for line in issued["lines"]["team_a"] if line[1]] == [("big", "2025-12")]
    assert [line[:2] for line in issued["lines"]["team_b"] if line[1]] == [("tiny", "2025-11")]
    # At November's prices (the table from June on): 9 tokens at 2,000,000 a million, 18 cents.
    assert [line[-1] for line in issued["lines"]["team_b"] if line[1]] == [18]
    # At December's prices: 7,777,778 input tokens at 0.5 and 3 output at 9, not January's 300.
    assert [line[-1] for line in issued["lines"]["team_a"] if line[1]] == [4]
    for other in results[1:]:
        assert other == issued

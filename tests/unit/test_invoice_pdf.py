"""The invoice PDF's table: its usage column reads from the left, late lines too."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from pypdf import PdfReader

from domain.models import Invoice, Team
from infra.invoice_pdf import invoice_pdf


def test_every_usage_line_starts_where_its_column_does() -> None:
    line: dict[str, Any] = {"calls": 1, "input_tokens": 2_000_000, "output_tokens": 0}
    invoice = Invoice(
        id="invc_1",
        team_id="team_1",
        period="2026-10",
        currency="USD",
        total_cents=615,
        issued_at=datetime(2026, 11, 1, 0, 5, tzinfo=UTC),
        lines=[
            {**line, "model": "teamkeys-small", "amount_cents": 15, "late_from": None},
            {**line, "model": "teamkeys-large", "amount_cents": 600, "late_from": "2026-09"},
        ],
    )
    page = PdfReader(
        io.BytesIO(
            invoice_pdf(
                invoice,
                Team(id="team_1", name="Acme"),
                seller_name="teamkeys",
                seller_address="1 Street",
            )
        )
    ).pages[0]
    starts: dict[str, float] = {}

    def seen(text: str, _cm: Any, matrix: Any, *_: Any) -> None:
        if text.strip():
            starts.setdefault(text.strip(), float(matrix[4]))

    page.extract_text(visitor_text=seen)
    usage = starts["Usage"]
    assert starts["teamkeys-small"] == usage
    assert starts["teamkeys-large, late usage from 2026-09"] == usage

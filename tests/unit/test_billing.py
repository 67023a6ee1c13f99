"""Pricing, rounding and periods: the arithmetic of invoices, in integer cents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.billing import (
    Period,
    Price,
    PriceSchedule,
    PriceTable,
    due_at,
    format_money,
    line_amount,
)
from domain.errors import InvalidInput


def test_a_line_is_rounded_half_up_to_the_cent() -> None:
    price = Price(Decimal(50), Decimal(150))  # cents per million tokens
    assert line_amount(10_000, 0, price) == 1  # 0.5 cent rounds up
    assert line_amount(9_999, 0, price) == 0  # 0.49995 rounds down
    assert line_amount(1_000_000, 1_000_000, price) == 200
    assert line_amount(0, 3_333_333, Price(Decimal(0), Decimal("0.15"))) == 0  # 0.49999995
    assert line_amount(0, 3_333_334, Price(Decimal(0), Decimal("0.15"))) == 1  # 0.5000001
    assert isinstance(line_amount(123, 456, price), int)


def test_fractional_prices_stay_exact() -> None:
    price = Price(Decimal("0.15"), Decimal("0.6"))
    assert line_amount(10_000_000, 0, price) == 2  # 1.5 → 2
    assert line_amount(30_000_000_000, 10_000_000_000, price) == 10_500


def test_unlisted_models_use_the_default_price() -> None:
    table = PriceTable("EUR", Price(Decimal(1), Decimal(2)), {"big": Price(Decimal(9), Decimal(9))})
    assert table.price_of("big") == Price(Decimal(9), Decimal(9))
    assert table.price_of("other") == Price(Decimal(1), Decimal(2))


def test_a_price_table_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="negative"):
        Price(Decimal(-1), Decimal(0))
    with pytest.raises(ValueError, match="ISO 4217"):
        PriceTable("dollars", Price(Decimal(1), Decimal(1)), {})


def test_a_price_schedule_prices_each_month_by_the_table_in_force_then() -> None:
    old = PriceTable("EUR", Price(Decimal(1), Decimal(1)), {})
    new = PriceTable("EUR", Price(Decimal(2), Decimal(2)), {})
    schedule = PriceSchedule(((Period(2026, 3), old), (Period(2026, 9), new)))
    assert schedule.table_for(Period(2025, 1)) == old  # before the history: its first table
    assert schedule.table_for(Period(2026, 8)) == old
    assert schedule.table_for(Period(2026, 9)) == new
    assert schedule.table_for(Period(2030, 1)) == new
    assert schedule.currency == "EUR"
    assert PriceSchedule.single(new).table_for(Period(1999, 12)) == new


def test_a_price_schedule_refuses_nonsense() -> None:
    table = PriceTable("EUR", Price(Decimal(1), Decimal(1)), {})
    with pytest.raises(ValueError, match="at least one"):
        PriceSchedule(())
    with pytest.raises(ValueError, match="after the one before"):
        PriceSchedule(((Period(2026, 9), table), (Period(2026, 9), table)))
    with pytest.raises(ValueError, match="one currency"):
        dollars = PriceTable("USD", Price(Decimal(1), Decimal(1)), {})
        PriceSchedule(((Period(2026, 1), table), (Period(2026, 9), dollars)))


def test_periods() -> None:
    assert str(Period.parse("2026-10")) == "2026-10"
    assert Period.parse("2026-12").next == Period(2027, 1)
    assert Period.parse("2027-01").previous == Period(2026, 12)
    assert Period.parse("2026-02").first_day == date(2026, 2, 1)
    for bad in ("2026-13", "2026-1", "26-10", "october"):
        with pytest.raises(InvalidInput):
            Period.parse(bad)


def test_a_months_invoices_are_due_at_0005_utc_on_the_first() -> None:
    assert due_at(Period(2026, 10)) == datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
    assert due_at(Period(2026, 12)) == datetime(2027, 1, 1, 0, 5, tzinfo=UTC)


def test_money_is_formatted_from_cents() -> None:
    assert format_money(123456, "USD") == "1,234.56 USD"
    assert format_money(5, "EUR") == "0.05 EUR"

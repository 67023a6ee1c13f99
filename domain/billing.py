"""Monthly invoices: production usage priced from the price tables, in integer cents.

A month's invoice bills the production usage *recorded* in that month. The gateway may date a
call up to 35 days back; a call dated into an earlier month is billed here all the same, on
lines of its own ("late usage from YYYY-MM"), priced at its own month's prices
(:class:`PriceSchedule`). Every call is recorded in exactly one month, so it is billed exactly
once, and never lost because its own month was invoiced before it arrived. The run at 00:05
UTC on the 1st leaves five minutes for calls recorded just before midnight to commit.

Rounding: each line (one model, one month of usage) is ``(input tokens x input price + output
tokens x output price) / 1,000,000``, prices being minor units per million tokens, rounded
half up to a whole minor unit; the total is the sum of the lines. Trial usage is never billed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, text, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from domain import emails
from domain.clock import utcnow
from domain.errors import InvalidInput, NotFound
from domain.ids import new_id
from domain.jobs import (
    JobName,
    enqueue_jobs,
    insert_jobs_params,
    insert_jobs_sql,
    jobs_written,
)
from domain.models import (
    Account,
    CustomModel,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    KeyKind,
    PaymentMethod,
    ScheduledRun,
    Team,
    UsageRecord,
    insert_unless_present,
)
from domain.permissions import Permission
from domain.teams import authorize, require_support, team_owners

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MILLION = Decimal(1_000_000)
#: Rows per multi-row INSERT (SQLite allows 32,766 parameters in one statement).
CHUNK = 1000
#: Teams per transaction when a whole month's invoices are issued at once.
INVOICE_BATCH = 500


@dataclass(frozen=True)
class Price:
    """Minor units (cents) per million tokens; decimals allowed (0.15 = 15 hundredths of a
    cent per million)."""

    input: Decimal
    output: Decimal

    def __post_init__(self) -> None:
        if self.input < 0 or self.output < 0:
            raise ValueError("prices cannot be negative")


@dataclass(frozen=True)
class PriceTable:
    currency: str = "USD"
    #: For any model not listed (custom models are priced as their base model).
    default: Price = Price(Decimal(50), Decimal(150))
    models: dict[str, Price] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError("currency must be an ISO 4217 code such as USD or EUR")

    def price_of(self, model: str) -> Price:
        return self.models.get(model, self.default)


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, raw: str) -> Period:
        match = PERIOD.match(raw)
        if not match:
            raise InvalidInput("A period is written YYYY-MM, e.g. 2026-10.", code="invalid_period")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime | date) -> Period:
        return cls(moment.year, moment.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def start(self) -> datetime:
        """The period's first moment, UTC."""
        return datetime.combine(self.first_day, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next period's first moment, UTC (not part of this one)."""
        return self.next.start

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class PriceSchedule:
    """The price tables over time, oldest first: each prices the usage of the months from its
    own (``starts``) until the next table's. The first also prices any month before its own,
    so one table alone prices every month. Usage is priced by the month it happened in: the
    month's own lines by the month's table, late usage by its own month's table."""

    tables: tuple[tuple[Period, PriceTable], ...]

    def __post_init__(self) -> None:
        if not self.tables:
            raise ValueError("at least one price table is needed")
        starts = [start for start, _ in self.tables]
        if any(later <= earlier for earlier, later in pairwise(starts)):
            raise ValueError('each table\'s "from" must be a month after the one before it')
        if len({table.currency for _, table in self.tables}) > 1:
            raise ValueError("every table must be in one currency (an invoice has one)")

    @classmethod
    def single(cls, table: PriceTable) -> PriceSchedule:
        """One table for every month."""
        return cls(((Period(1, 1), table),))

    @property
    def currency(self) -> str:
        return self.tables[0][1].currency

    def index_for(self, period: Period) -> int:
        """The position of the table that prices ``period``'s usage."""
        return max(
            (n for n, (start, _) in enumerate(self.tables) if start <= period),
            default=0,
        )

    def table_for(self, period: Period) -> PriceTable:
        return self.tables[self.index_for(period)][1]


#: Placeholder prices (set TEAMKEYS_PRICES for real ones): $0.50/$1.50 per million input/output
#: tokens by default, and two example models.
DEFAULT_PRICES = PriceSchedule.single(
    PriceTable(
        currency="USD",
        default=Price(Decimal(50), Decimal(150)),
        models={
            "teamkeys-small": Price(Decimal(15), Decimal(60)),
            "teamkeys-large": Price(Decimal(300), Decimal(1500)),
        },
    )
)


def line_amount(input_tokens: int, output_tokens: int, price: Price) -> int:
    exact = (input_tokens * price.input + output_tokens * price.output) / MILLION
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def recorded_in(period: Period) -> tuple[ColumnElement[bool], ...]:
    """Production usage that ``period``'s invoices bill: recorded in it, whenever it happened."""
    return (
        UsageRecord.key_kind == KeyKind.PRODUCTION,
        UsageRecord.recorded_at >= period.start,
        UsageRecord.recorded_at < period.end,
    )


def teams_with_production_usage(session: Session, period: Period) -> list[str]:
    return list(
        session.scalars(
            select(UsageRecord.team_id)
            .distinct()
            .where(*recorded_in(period))
            .order_by(UsageRecord.team_id)
        )
    )


@dataclass(frozen=True)
class IssuedInvoice:
    """An invoice a run has just issued, as the CLI and the job report it (a plain value: a
    month's run makes thousands, and an ORM object each would cost more than the SQL)."""

    id: str
    team_id: str
    period: str
    currency: str
    total_cents: int
    issued_at: datetime


@dataclass
class Generated:
    created: list[IssuedInvoice] = field(default_factory=list)
    #: Teams whose invoice for the period existed already (left exactly as issued).
    existing: int = 0


def generate_invoices(
    session: Session,
    period: Period,
    prices: PriceSchedule,
    team_ids: Sequence[str] | None = None,
) -> Generated:
    """Issue the period's invoices for ``team_ids`` (``None``: every team with production
    usage) that have none yet, each with a job that tells its owners.

    Invoices are unique per team and period and inserted with ON CONFLICT DO NOTHING, so a
    concurrent run or a re-run never duplicates or changes an issued invoice; ``created``
    holds only the invoices this call inserted, ``existing`` counts the teams whose invoice
    was already there. The owners' emails are queued by that job (:func:`invoice_emails`),
    for the owners the team has when it runs.

    Two ways to the same rows and amounts:

    - PostgreSQL (what production and the benchmark run): one statement, entirely in the
      database (:func:`_generate_in_postgresql`). The usage GROUP BY is the only real work;
      Python never sees a line.
    - SQLite (embedded): the lines are priced in Python with :func:`line_amount`, exactly
      (Decimal), and written with one multi-row insert (:func:`_generate_in_python`). SQLite
      has neither data-modifying CTEs nor exact integers beyond 64 bits, and an in-process
      database gains nothing from moving the arithmetic into SQL.
    """
    check_closed(period)
    if team_ids is not None and not team_ids:
        return Generated()
    if session.connection().dialect.name == "postgresql":
        return _generate_in_postgresql(session, period, prices, team_ids)
    return _generate_in_python(session, period, prices, team_ids)


#: Everything :func:`generate_invoices` does, in one PostgreSQL statement: data-modifying CTEs
#: chained by RETURNING, so the usage is grouped once and the jobs are written only for the
#: invoices this statement actually inserted (an invoice another run issued first gets none
#: from this one). Amounts: prices are scaled to integers (``:scale``), so a line is
#: ``div(tokens x scaled prices + divisor / 2, divisor)`` in exact numeric arithmetic —
#: the same half-up rounding as :func:`line_amount`. Custom models are priced as their base.
#: Each line takes the table of the month its usage happened in (:class:`PriceSchedule`): the
#: invoice's own month's, or for late usage the first table (1-based) starting at or before it.
_GENERATE_SQL = """
WITH usage AS (
    SELECT u.team_id, u.model,
           CASE WHEN u.occurred_on < :start THEN to_char(u.occurred_on, 'YYYY-MM') END
               AS late_from,
           count(*) AS calls,
           sum(u.input_tokens) AS input_tokens, sum(u.output_tokens) AS output_tokens
    FROM usage_records u
    WHERE u.key_kind = :production AND u.recorded_at >= :recorded_from
          AND u.recorded_at < :recorded_to {only_these}
    GROUP BY u.team_id, u.model, late_from
), price_tables AS (
    SELECT * FROM unnest(CAST(:table_starts AS text[]), CAST(:default_inputs AS numeric[]),
                         CAST(:default_outputs AS numeric[]))
                  WITH ORDINALITY AS t(starts, default_input, default_output, tbl)
), prices AS (
    SELECT * FROM unnest(CAST(:price_tables AS bigint[]), CAST(:price_models AS text[]),
                         CAST(:price_inputs AS numeric[]), CAST(:price_outputs AS numeric[]))
                  AS p(tbl, model, input, output)
), dated AS (
    SELECT g.*,
           CASE WHEN g.late_from IS NULL THEN CAST(:period_table AS bigint)
                ELSE coalesce((SELECT max(t.tbl) FROM price_tables t
                               WHERE t.starts <= g.late_from), 1) END AS tbl
    FROM usage g
), priced AS (
    SELECT g.team_id, g.model, g.late_from, g.calls, g.input_tokens, g.output_tokens,
           CAST(div(g.input_tokens * coalesce(p.input, t.default_input)
                    + g.output_tokens * coalesce(p.output, t.default_output)
                    + :half, :divisor) AS bigint) AS amount_cents
    FROM dated g
    JOIN price_tables t ON t.tbl = g.tbl
    LEFT JOIN custom_models cm ON cm.team_id = g.team_id AND cm.name = g.model
    LEFT JOIN prices p ON p.tbl = g.tbl AND p.model = coalesce(cm.base_model, g.model)
), invoiced AS (
    SELECT team_id, sum(amount_cents) AS total_cents,
           json_agg(json_build_object('model', model, 'calls', calls,
                                      'input_tokens', input_tokens,
                                      'output_tokens', output_tokens,
                                      'amount_cents', amount_cents,
                                      'late_from', late_from)
                    ORDER BY late_from NULLS FIRST, model) AS lines
    FROM priced GROUP BY team_id
), new_invoices AS (
    INSERT INTO invoices (id, team_id, period, status, currency, total_cents, issued_at, lines)
    SELECT 'invc_' || replace(CAST(gen_random_uuid() AS text), '-', ''), team_id, :period,
           'issued', :currency, total_cents, :now, lines
    FROM invoiced
    ON CONFLICT (team_id, period) DO NOTHING
    RETURNING id, team_id, total_cents
), new_jobs AS (
    {insert_jobs}
)
SELECT 'invoice' AS kind, id, team_id, total_cents FROM new_invoices
UNION ALL SELECT 'job', id, NULL, NULL FROM new_jobs
UNION ALL SELECT 'teams', NULL, NULL, count(*) FROM invoiced
"""


def _generate_in_postgresql(
    session: Session, period: Period, prices: PriceSchedule, team_ids: Sequence[str] | None
) -> Generated:
    """:data:`_GENERATE_SQL`, with the outbox's own insert of the jobs
    (:func:`domain.jobs.insert_jobs_sql`), handed to the broker after commit as
    :func:`enqueue_jobs`'s are."""
    now = utcnow()
    tables = [table for _, table in prices.tables]
    # Every price times 10**places is a whole number; a line's divisor grows to match.
    places = max(
        [0]
        + [
            -int(exponent)
            for table in tables
            for price in [table.default, *table.models.values()]
            for amount in (price.input, price.output)
            if isinstance(exponent := amount.as_tuple().exponent, int)
        ]
    )
    scale = 10**places
    divisor = 1_000_000 * scale
    models = [
        (n, name, price)
        for n, table in enumerate(tables, start=1)
        for name, price in sorted(table.models.items())
    ]
    params: dict[str, Any] = {
        "production": str(KeyKind.PRODUCTION),
        "start": period.first_day,
        "recorded_from": period.start,
        "recorded_to": period.end,
        "table_starts": [str(start) for start, _ in prices.tables],
        "default_inputs": [int(table.default.input * scale) for table in tables],
        "default_outputs": [int(table.default.output * scale) for table in tables],
        "period_table": prices.index_for(period) + 1,
        "price_tables": [n for n, _, _ in models],
        "price_models": [name for _, name, _ in models],
        "price_inputs": [int(price.input * scale) for _, _, price in models],
        "price_outputs": [int(price.output * scale) for _, _, price in models],
        "half": divisor // 2,
        "divisor": divisor,
        "period": str(period),
        "currency": prices.currency,
        "now": now,
        **insert_jobs_params(session, JobName.NOTIFY_INVOICE_OWNERS, now),
    }
    only_these = ""
    if team_ids is not None:
        only_these = "AND u.team_id = ANY(CAST(:teams AS text[]))"
        params["teams"] = list(team_ids)
    # A month's usage is grouped in one hash table: room for it in memory, not a spill to disk
    # (this transaction only).
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    insert_jobs = insert_jobs_sql("new_invoices", invoice_id="id")
    statement = _GENERATE_SQL.format(only_these=only_these, insert_jobs=insert_jobs)
    rows = session.execute(text(statement), params).all()
    teams = next(int(total) for kind, _, _, total in rows if kind == "teams")
    jobs_written(
        session,
        JobName.NOTIFY_INVOICE_OWNERS,
        [job_id for kind, job_id, _, _ in rows if kind == "job"],
    )
    created = sorted(
        (
            IssuedInvoice(
                id=invoice_id,
                team_id=team_id,
                period=str(period),
                currency=prices.currency,
                total_cents=int(total),
                issued_at=now,
            )
            for kind, invoice_id, team_id, total in rows
            if kind == "invoice"
        ),
        key=lambda invoice: invoice.team_id,
    )
    return Generated(created=created, existing=teams - len(created))


def _generate_in_python(
    session: Session, period: Period, prices: PriceSchedule, team_ids: Sequence[str] | None
) -> Generated:
    """The lines grouped in SQL and priced here (:func:`line_amount`); the invoices written
    with one multi-row insert, and a job for each one inserted."""
    only_these = [UsageRecord.team_id.in_(team_ids)] if team_ids is not None else []
    late_from = case(
        (UsageRecord.occurred_on < period.first_day, _month_of(session, UsageRecord.occurred_on)),
        else_=None,
    ).label("late_from")
    usage = list(
        session.execute(
            select(
                UsageRecord.team_id,
                UsageRecord.model,
                late_from,
                func.count(),
                func.sum(UsageRecord.input_tokens),
                func.sum(UsageRecord.output_tokens),
            )
            .where(*only_these, *recorded_in(period))
            .group_by(UsageRecord.team_id, UsageRecord.model, late_from)
        )
        .tuples()
        .all()
    )
    # As PostgreSQL's json_agg orders them: the month's own lines by model, then late ones.
    usage.sort(key=lambda row: (row[0], row[2] is not None, row[2] or "", row[1]))
    # Custom models are priced as their base model.
    custom = select(CustomModel.team_id, CustomModel.name, CustomModel.base_model)
    if team_ids is not None:
        custom = custom.where(CustomModel.team_id.in_(team_ids))
    base_models = {(t, n): b for t, n, b in session.execute(custom).tuples()}
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for team_id, model, late, calls, input_tokens, output_tokens in usage:
        tokens_in, tokens_out = int(input_tokens or 0), int(output_tokens or 0)
        table = prices.table_for(Period.parse(late) if late else period)
        price = table.price_of(base_models.get((team_id, model), model))
        amount = line_amount(tokens_in, tokens_out, price)
        line = InvoiceLine(model, int(calls), tokens_in, tokens_out, amount, late_from=late)
        lines[team_id].append(asdict(line))
    now = utcnow()
    rows = [
        {
            "id": new_id("invc"),
            "team_id": team_id,
            "period": str(period),
            "status": "issued",
            "currency": prices.currency,
            "issued_at": now,
            "total_cents": sum(line["amount_cents"] for line in team_lines),
            "lines": team_lines,
        }
        for team_id, team_lines in lines.items()
    ]
    connection = session.connection()
    if rows:
        # One statement, many parameter sets (the driver pipelines them). A concurrent run or
        # a re-run inserts nothing for a team that has its invoice: it is never changed.
        connection.execute(
            insert_unless_present(session, Invoice, unique=["team_id", "period"]),
            rows,
        )
    created_ids = {
        invoice_id
        for chunk in _chunks(rows)
        for invoice_id in connection.execute(
            select(Invoice.id).where(Invoice.id.in_([row["id"] for row in chunk]))
        ).scalars()
    }
    created = [
        IssuedInvoice(
            id=row["id"],
            team_id=row["team_id"],
            period=row["period"],
            currency=row["currency"],
            total_cents=row["total_cents"],
            issued_at=row["issued_at"],
        )
        for row in rows
        if row["id"] in created_ids
    ]
    enqueue_jobs(
        session, JobName.NOTIFY_INVOICE_OWNERS, [{"invoice_id": invoice.id} for invoice in created]
    )
    return Generated(created=created, existing=len(rows) - len(created))


def _month_of(session: Session, day: InstrumentedAttribute[date]) -> ColumnElement[str]:
    """``YYYY-MM`` of a date column, in the database's own words."""
    if session.connection().dialect.name == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.strftime("%Y-%m", day)


def invoice_emails(session: Session, invoice_id: str) -> list[str]:
    """Queue ``invoice_ready`` for every owner the invoice's team has now and for its billing
    email (each with its ``send_email`` job), and give the ids of those emails. One email per
    invoice and recipient (the cause says which): asking again gives the same emails, sent or
    not, and queues one only for a new owner."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        return []
    team = session.get(Team, invoice.team_id)
    assert team is not None
    total = format_money(invoice.total_cents, invoice.currency)
    payment = session.get(PaymentMethod, team.id)
    billing_email = payment.billing_email if payment is not None else None
    told = emails.invoice_ready(invoice, team, team_owners(session, team.id), total, billing_email)
    return [email.id for email in emails.queue_emails(session, told)]


# --- runs ---------------------------------------------------------------------------------

#: A month's invoices are due at this time (UTC) on the 1st of the next month: five minutes
#: for calls recorded just before midnight to commit.
RUN_AT = time(0, 5)


def due_at(period: Period) -> datetime:
    """When the scheduler runs ``period``'s invoices."""
    return datetime.combine(period.next.first_day, RUN_AT, tzinfo=UTC)


def check_closed(period: Period, now: datetime | None = None) -> None:
    """A month is invoiced from its due time on (00:05 UTC on the 1st), never before: a call
    recorded just before midnight has committed by then, or it would be billed by no invoice."""
    due = due_at(period)
    if (now or utcnow()) < due:
        raise InvalidInput(
            f"{period} is not over yet; its invoices are made from {due:%Y-%m-%d %H:%M} UTC.",
            code="period_not_over",
        )


def next_run(now: datetime) -> tuple[Period, datetime]:
    """The next scheduled run after ``now``: its period and when it is due."""
    last_month = Period.of(now).previous
    period = last_month if due_at(last_month) > now else Period.of(now)
    return period, due_at(period)


#: The row that remembers when the scheduler first ran on this database.
FIRST_RUN = ("scheduler", "first_run")


def first_run(session: Session, now: datetime) -> datetime:
    """When the scheduler first ran on this database: its catch-up never invoices a month that
    ended before then. Recorded on its first check; a database from before this record keeps
    its history (its earliest scheduled run)."""
    marker = session.get(ScheduledRun, FIRST_RUN)
    if marker is not None:
        return marker.ran_at
    earliest = session.scalar(
        select(func.min(ScheduledRun.ran_at)).where(ScheduledRun.name == "invoices")
    )
    began = min(earliest, now) if earliest is not None else now
    name, key = FIRST_RUN
    session.execute(
        insert_unless_present(session, ScheduledRun, unique=["name", "key"]),
        {"name": name, "key": key, "ran_at": began},
    )
    marker = session.get(ScheduledRun, FIRST_RUN, populate_existing=True)
    assert marker is not None
    return marker.ran_at


def start_run(
    session: Session,
    period: Period,
    source: str,
    *,
    teams: int,
    currency: str,
    now: datetime | None = None,
) -> InvoiceRun:
    """Record a run of ``period``'s invoices over ``teams`` teams (finished at once if none)."""
    started = now or utcnow()
    invoice_run = InvoiceRun(
        id=new_id("irun"),
        period=str(period),
        source=source,
        teams=teams,
        teams_done=0,
        teams_failed=0,
        invoices=0,
        total_cents=0,
        currency=currency,
        started_at=started,
        finished_at=started if teams == 0 else None,
    )
    session.add(invoice_run)
    session.flush()
    return invoice_run


def count_in_run(
    session: Session,
    run_id: str,
    created: Sequence[IssuedInvoice],
    *,
    teams: int,
    failed: int = 0,
) -> None:
    """Add ``teams`` done (``failed`` of them without their invoice: their job died) and the
    invoices they issued to the run; the last team finishes it. One UPDATE: the teams' jobs
    may count at the same moment. Count each team once: in the transaction that ends its job."""
    done = InvoiceRun.teams_done + teams
    session.execute(
        update(InvoiceRun)
        .where(InvoiceRun.id == run_id)
        .values(
            teams_done=done,
            teams_failed=InvoiceRun.teams_failed + failed,
            invoices=InvoiceRun.invoices + len(created),
            total_cents=InvoiceRun.total_cents + sum(i.total_cents for i in created),
            finished_at=case((done >= InvoiceRun.teams, utcnow()), else_=None),
        )
    )


def latest_invoice_runs(session: Session, limit: int = 100) -> list[InvoiceRun]:
    """The latest runs, newest first (``teamkeys invoices runs``)."""
    newest = (InvoiceRun.started_at.desc(), InvoiceRun.period.desc(), InvoiceRun.id)
    return list(session.scalars(select(InvoiceRun).order_by(*newest).limit(limit)))


def invoice_runs(session: Session, agent: Account, limit: int = 100) -> list[InvoiceRun]:
    """The latest runs, newest first, for a support agent."""
    require_support(agent)
    return latest_invoice_runs(session, limit)


def format_money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d} {currency}"


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


# --- reading ------------------------------------------------------------------------------


def list_invoices(session: Session, actor: Account, team_id: str) -> list[Invoice]:
    authorize(session, actor, team_id, Permission.INVOICES_VIEW)
    return list(
        session.scalars(
            select(Invoice).where(Invoice.team_id == team_id).order_by(Invoice.period.desc())
        )
    )


def get_invoice(
    session: Session, actor: Account, team_id: str, invoice_id: str
) -> tuple[Invoice, Team]:
    authorize(session, actor, team_id, Permission.INVOICES_VIEW)
    invoice = session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.team_id == team_id)
    )
    if invoice is None:
        raise NotFound("No such invoice in this team.", code="no_such_invoice")
    team = session.get(Team, team_id)
    assert team is not None
    return invoice, team

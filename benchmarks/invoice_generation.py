"""Invoice generation for 1,000 and 10,000 teams x 100 production usage records each, on
PostgreSQL, side by side with one SQL GROUP BY over the same rows.

    python -m benchmarks.invoice_generation [--teams 1000,10000] [--records 100] [--repeats 5]

For each size: a fresh database, teams with an owner each, and their usage recorded last month
on three models, one call in fifty dated into the month before (late usage), made in the
database with generate_series. Then, in one run, rounds of: the bare GROUP BY (team, model,
month of the call) that any invoicing must at least do, and the real generation — the function
the scheduler's jobs (one team each) and `teamkeys invoices generate` (every team at once)
call, which prices the lines, issues the invoices with their lines and queues a job per
invoice to email its owners, committed. Between rounds (untimed) the invoices and jobs are
deleted and vacuumed away. Printed: the medians after a warm-up round, the query
count, and the ratio, also as the median of each round's own (target <= 2x, growing linearly).

On PostgreSQL the generation is one statement that does that same GROUP BY once and feeds it
through data-modifying CTEs (invoices, jobs), so what it costs beyond the GROUP BY is writing
two rows per team (an invoice holding its lines, and its job) — and, unlike the bare GROUP
BY, a statement that writes cannot use parallel workers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, cast

from sqlalchemy import create_engine, event, text

from benchmarks._harness import fresh_database
from domain.billing import DEFAULT_PRICES, Period, generate_invoices
from domain.clock import utcnow
from infra.db import Database, make_engine
from teamkeys.migrate import upgrade

#: Teams with an owner each, and their usage last month on three models.
SEED = [
    """
    INSERT INTO teams (id, name, production_status, created_at)
    SELECT 'team_' || n, 'Team ' || n, 'approved', now() FROM generate_series(1, :teams) n
    """,
    """
    INSERT INTO accounts (id, email, name, password_hash, is_support, created_at)
    SELECT 'acc_' || n, 'owner' || n || '@example.com', 'Owner ' || n, 'x', false, now()
    FROM generate_series(1, :teams) n
    """,
    """
    INSERT INTO memberships (account_id, team_id, role, joined_at)
    SELECT 'acc_' || n, 'team_' || n, 'owner', now() FROM generate_series(1, :teams) n
    """,
    """
    INSERT INTO usage_records (team_id, request_id, api_key_id, key_kind, model,
                               input_tokens, output_tokens, occurred_at, occurred_on,
                               recorded_at)
    SELECT 'team_' || t, 'r' || r, 'key_' || t, 'production',
           (ARRAY['teamkeys-small', 'teamkeys-large', 'other'])[1 + r % 3],
           1000 + r * 7, 200 + r * 3, d, d::date,
           greatest(d, CAST(:first AS timestamptz)) + interval '1 second'
    FROM generate_series(1, :teams) t, generate_series(1, :records) r,
         -- one call in fifty is late: it happened last month and was recorded in this one
         LATERAL (SELECT CAST(:first AS timestamptz)
                         + CASE WHEN r % 50 = 0 THEN interval '-2 days'
                                ELSE (r % 27) * interval '1 day' END) AS x(d)
    """,
    "ANALYZE",
]


def seed(url: str, teams: int, records: int, period: Period) -> None:
    engine = create_engine(url)
    params = {"teams": teams, "records": records, "first": str(period.first_day)}
    with engine.begin() as conn:
        for statement in SEED:
            conn.execute(text(statement), params)
    engine.dispose()


class QueryCounter:
    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.count += 1


def measure(url: str, period: Period, repeats: int) -> dict[str, Any]:
    """``repeats`` rounds of: the GROUP BY, then a real generation, committed, then (untimed)
    its invoices and jobs deleted and vacuumed away, so the next round starts from the same
    tables. The first round of each is a warm-up; the medians of the rest are reported."""
    db = Database(make_engine(url))
    counter = QueryCounter(db.engine)
    # What any invoicing must at least do: group the usage recorded in the month by team and
    # model (and by the month it happened, which late usage needs).
    group_by = text("""
        SELECT team_id, model,
               CASE WHEN occurred_on < :start_day THEN to_char(occurred_on, 'YYYY-MM') END
                   AS late_from,
               count(*), sum(input_tokens), sum(output_tokens)
        FROM usage_records
        WHERE key_kind = 'production' AND recorded_at >= :start AND recorded_at < :end
        GROUP BY team_id, model, late_from
    """)
    params = {"start_day": period.first_day, "start": period.start, "end": period.end}
    query_times, generation_times = [], []
    for _ in range(repeats + 1):
        with db.engine.connect() as conn:
            started = time.perf_counter()
            groups = len(conn.execute(group_by, params).all())
            query_times.append(time.perf_counter() - started)

        counter.count = 0
        started = time.perf_counter()
        with db.unit_of_work() as uow:
            issued = len(generate_invoices(uow.session, period, DEFAULT_PRICES).created)
            uow.commit()
        generation_times.append(time.perf_counter() - started)
        queries = counter.count

        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DELETE FROM jobs"))
            conn.execute(text("DELETE FROM invoices"))
            conn.execute(text("VACUUM ANALYZE jobs, invoices"))
    db.dispose()
    return {
        "groups": groups,
        # Each round's generation over its own GROUP BY, run back to back: a slow spell of a
        # shared machine weighs on both sides of a round alike.
        "paired ratio": statistics.median(
            g / q for q, g in zip(query_times[1:], generation_times[1:], strict=True)
        ),
        "query s": statistics.median(query_times[1:]),
        "generation s": statistics.median(generation_times[1:]),
        "query range": (min(query_times[1:]), max(query_times[1:])),
        "generation range": (min(generation_times[1:]), max(generation_times[1:])),
        "queries": queries,
        "invoices": issued,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", default="1000,10000")
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="measured rounds (after a warm-up)")
    args = parser.parse_args()
    period = Period.of(utcnow()).previous
    results = []
    for teams in (int(n) for n in args.teams.split(",")):
        with fresh_database() as url:
            print(f"{teams:,} teams x {args.records} records: migrating and seeding …", flush=True)
            upgrade(url)
            seed(url, teams, args.records, period)
            print(f"{teams:,} teams: measuring …", flush=True)
            results.append((teams, measure(url, period, args.repeats)))

    print(
        f"\nPostgreSQL, period {period}, {args.records} production usage records per team; "
        f"medians of {args.repeats} rounds after a warm-up\n"
    )
    print(
        f"{'teams':>8}{'rows':>11}{'GROUP BY':>11}{'generation':>12}{'ratio':>8}"
        f"{'paired':>8}{'queries':>9}{'invoices':>10}"
    )
    for teams, r in results:
        print(
            f"{teams:>8,}{teams * args.records:>11,}{r['query s']:>10.3f}s"
            f"{r['generation s']:>11.3f}s{r['generation s'] / r['query s']:>8.2f}"
            f"{r['paired ratio']:>8.2f}{int(r['queries']):>9}{int(r['invoices']):>10,}"
        )
    if len(results) > 1:
        (t0, a), (t1, b) = results[0], results[-1]
        print(
            f"\ngrowth from {t0:,} to {t1:,} teams ({t1 / t0:g}x): GROUP BY "
            f"{b['query s'] / a['query s']:.1f}x, generation "
            f"{b['generation s'] / a['generation s']:.1f}x"
        )
    for teams, r in results:
        q, g = (
            cast(tuple[float, float], r["query range"]),
            cast(tuple[float, float], r["generation range"]),
        )
        print(
            f"{teams:,} teams, range over the rounds: GROUP BY {q[0]:.3f}-{q[1]:.3f} s, "
            f"generation {g[0]:.3f}-{g[1]:.3f} s"
        )
    print(
        "ratio: median generation over median GROUP BY; paired: the median of each round's "
        "generation over its own GROUP BY"
    )
    print("target: generation <= 2x the GROUP BY, growing linearly")


if __name__ == "__main__":
    main()

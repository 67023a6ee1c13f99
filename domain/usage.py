"""Usage: the gateway records each call with the API key itself; members read the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, bindparam, func, select, text
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.errors import InvalidKey, InvalidOccurredAt, InvalidRange, Throttled
from domain.key_format import key_kind
from domain.models import Account, ApiKey, KeyKind, KeyStatus, UsageRecord, UTCDateTime
from domain.permissions import Permission
from domain.secrets import token_digest
from domain.teams import authorize

#: How far back a call may be dated (docs/api.md), and how much clock skew "now" tolerates.
MAX_AGE = timedelta(days=35)
CLOCK_SKEW = timedelta(seconds=5)
#: Bounds on the history's dates, so date arithmetic on them can never overflow.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
#: The history shown when no start is given: this long before its end.
DEFAULT_SPAN = timedelta(days=30)


@dataclass(frozen=True)
class UsagePolicy:
    #: Trial calls a team may make per calendar month (UTC).
    trial_monthly_calls: int


@dataclass(frozen=True)
class Call:
    request_id: str
    model: str
    input_tokens: int
    output_tokens: int
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    api_key_id: str
    duplicate: bool


_KEY_BY_DIGEST = select(ApiKey.id, ApiKey.team_id, ApiKey.kind, ApiKey.status).where(
    ApiKey.secret_digest == bindparam("digest")
)


def key_for(session: Session, raw_key: str) -> tuple[str, str, str]:
    """(key id, team id, kind) of a live key; anything else is :class:`InvalidKey`.

    The format and checksum are checked first, so a typo costs no database lookup."""
    if key_kind(raw_key) is None:
        raise InvalidKey("This is not a teamkeys API key (wrong format or checksum).")
    row = session.connection().execute(_KEY_BY_DIGEST, {"digest": token_digest(raw_key)}).first()
    if row is None or row.status != KeyStatus.ACTIVE:
        raise InvalidKey("Unknown or deleted API key.")
    return row.id, row.team_id, row.kind


def record_usage(session: Session, raw_key: str, call: Call, policy: UsagePolicy) -> Recorded:
    """Record one call, once per ``request_id``; trial calls past the monthly cap are 429.

    Counting and checking the cap is one upsert, so concurrent calls cannot slip past it.
    This is the gateway's hot path: two statements after the key lookup, run on the
    connection without the ORM.
    """
    key_id, team_id, kind = key_for(session, raw_key)
    now = utcnow()
    occurred_at = call.occurred_at or now
    if occurred_at.tzinfo is None:
        raise InvalidOccurredAt(
            "occurred_at needs a time zone (use UTC, e.g. 2026-11-28T10:00:00Z)."
        )
    try:
        occurred_at = occurred_at.astimezone(UTC)  # days and months are UTC ones
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+14:00 is before year 1
        raise InvalidOccurredAt(
            "occurred_at is not a time that can be; send the call's UTC time."
        ) from None
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidOccurredAt("occurred_at is in the future.")
    if occurred_at < now - MAX_AGE:
        raise InvalidOccurredAt("occurred_at is more than 35 days ago.")
    connection = session.connection()
    added = connection.execute(
        _RECORD,
        {
            "team_id": team_id,
            "request_id": call.request_id,
            "api_key_id": key_id,
            "key_kind": kind,
            "model": call.model,
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "occurred_at": occurred_at,
            "occurred_on": occurred_at.date(),
            "recorded_at": now,
        },
    ).scalar_one_or_none()
    if added is None:  # the same id again: answered, not counted twice
        return Recorded(key_id, duplicate=True)
    if kind != KeyKind.TRIAL:
        return Recorded(key_id, duplicate=False)
    # Only trial calls are counted: production calls need no cap, and counting them would
    # queue all of a team's calls on one row lock.
    month = occurred_at.strftime("%Y-%m")
    calls = connection.execute(
        _COUNT, {"team_id": team_id, "month": month, "key_kind": kind}
    ).scalar_one()
    if calls > policy.trial_monthly_calls:
        # The caller's transaction rolls back on this error: the call is neither kept nor counted.
        raise Throttled(
            f"This team has used its {policy.trial_monthly_calls} trial calls for "
            f"{month}. Go to Production for unlimited calls.",
            retry_after=_seconds_to_next_month(now),
            code="trial_cap_reached",
        )
    return Recorded(key_id, duplicate=False)


#: The idempotent insert and the counting upsert. Written as SQL because SQLAlchemy does not
#: cache its ON CONFLICT constructs, and building them per call cost more than the I/O; the
#: syntax is the same on SQLite (3.35+) and PostgreSQL.
_RECORD = text(
    "INSERT INTO usage_records (team_id, request_id, api_key_id, key_kind, model, input_tokens,"
    " output_tokens, occurred_at, occurred_on, recorded_at) VALUES (:team_id, :request_id,"
    " :api_key_id, :key_kind, :model, :input_tokens, :output_tokens, :occurred_at, :occurred_on,"
    " :recorded_at) ON CONFLICT (team_id, request_id) DO NOTHING RETURNING id"
).bindparams(
    bindparam("occurred_at", type_=UTCDateTime()),
    bindparam("recorded_at", type_=UTCDateTime()),
    bindparam("occurred_on", type_=Date()),
)
_COUNT = text(
    "INSERT INTO usage_counters (team_id, month, key_kind, calls) VALUES (:team_id, :month,"
    " :key_kind, 1) ON CONFLICT (team_id, month, key_kind) DO UPDATE SET"
    " calls = usage_counters.calls + 1 RETURNING calls"
)


@dataclass(frozen=True)
class UsageRow:
    date: date
    model: str
    key_kind: str
    calls: int
    input_tokens: int
    output_tokens: int


def usage_history(
    session: Session,
    actor: Account,
    team_id: str,
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[UsageRow]:
    """Calls and tokens by day, model and key kind, ``start`` to ``end`` inclusive; by
    default the :data:`DEFAULT_SPAN` up to today (UTC)."""
    if any(day is not None and not EARLIEST <= day <= LATEST for day in (start, end)):
        raise InvalidRange(f"Dates must lie between {EARLIEST} and {LATEST}.")
    end = end or utcnow().date()
    start = start or end - DEFAULT_SPAN
    authorize(session, actor, team_id, Permission.USAGE_VIEW)
    if end < start:
        raise InvalidRange("end is before start.")
    if (end - start).days > 366:
        raise InvalidRange("Ask for at most a year at a time.")
    rows = session.execute(
        select(
            UsageRecord.occurred_on,
            UsageRecord.model,
            UsageRecord.key_kind,
            func.count(),
            func.sum(UsageRecord.input_tokens),
            func.sum(UsageRecord.output_tokens),
        )
        .where(
            UsageRecord.team_id == team_id,
            UsageRecord.occurred_on >= start,
            UsageRecord.occurred_on <= end,
        )
        .group_by(UsageRecord.occurred_on, UsageRecord.model, UsageRecord.key_kind)
        .order_by(UsageRecord.occurred_on, UsageRecord.model, UsageRecord.key_kind)
    ).all()
    return [UsageRow(d, m, k, int(c), int(i or 0), int(o or 0)) for d, m, k, c, i, o in rows]


def _seconds_to_next_month(now: datetime) -> int:
    first = (
        now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)
    ).replace(day=1)
    return max(int((first - now).total_seconds()), 1)

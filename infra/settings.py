"""Settings from the environment (prefix ``TEAMKEYS_``); see ``.env.example`` for each one.

Every value is checked as the settings are read, so a process with a bad setting stops at
start with one line per problem (:class:`InvalidSettings`), never later with a traceback."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.fernet import Fernet
from pydantic import (
    Field,
    NonNegativeInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from domain.billing import DEFAULT_PRICES, Period, PriceSchedule, PriceTable
from domain.errors import InvalidInput
from domain.limits import Limit
from infra.ratelimits import parse_rate

#: A count or a duration that must be more than zero.
Positive = Annotated[int, Field(gt=0)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: URL schemes of each kind of service teamkeys talks to.
REDIS_SCHEMES = ("redis", "rediss")
RABBITMQ_SCHEMES = ("amqp", "amqps")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def scheme_of(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


class Settings(BaseSettings):
    """Every knob teamkeys reads; built by :func:`get_settings`, never at import time."""

    model_config = SettingsConfigDict(env_prefix="TEAMKEYS_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL. Empty means the embedded default: SQLite under ``data_dir``. The
    #: ``postgres://`` and ``postgresql://`` forms (as PaaS give them) mean psycopg 3.
    database_url: str = ""
    #: The Dramatiq broker: Redis (``redis://``, ``rediss://``) or RabbitMQ (``amqp://``,
    #: ``amqps://``). Empty means an in-process broker (embedded mode only).
    broker_url: str = ""
    #: Deprecated: the old name of ``broker_url`` (Redis only), read when that is empty.
    redis_url: str = ""
    #: Prefix of every Redis key the broker writes, so several deployments can share a Redis.
    #: (RabbitMQ deployments share a server by virtual host, the URL's path.)
    redis_namespace: str = "teamkeys"
    #: Where the abuse limits' counters live: a Redis URL, or ``memory://`` (each process
    #: counts alone). Empty means the broker's Redis, or process memory when there is none.
    limits_url: str = ""
    #: Where the embedded mode keeps its SQLite database and the local mail sink's files.
    data_dir: Path = Path("var")
    #: Where the web console is served (this process's pages, or a proxy in front of them):
    #: the links in emails are built from it, and on https its cookies are Secure.
    public_url: str = "http://localhost:8000"

    # Mail
    smtp_host: str = ""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout: PositiveSeconds = 10.0
    #: SMTP connections a worker process keeps open at most, each reused across emails; 0: one
    #: per worker thread that sends at once (as many as its threads).
    smtp_connections: NonNegativeInt = 0
    mail_from_name: str = "teamkeys"
    mail_from_address: str = "no-reply@teamkeys.localhost"
    #: Domain part of every Message-ID, so receivers can tell duplicates apart from ours.
    mail_message_id_domain: str = "teamkeys.localhost"

    # Accounts and sessions
    session_ttl_hours: Positive = 24 * 14
    #: How long an email verification link works.
    verification_link_ttl_hours: Positive = 24
    #: How long a password reset link works.
    password_reset_ttl_minutes: Positive = 60
    #: Unverified accounts older than this are deleted (their holder never proved the email).
    unverified_account_ttl_days: Positive = 7
    #: How often the scheduler deletes unverified accounts past their time.
    unverified_sweep_interval_seconds: PositiveSeconds = 600.0
    #: argon2id cost. The defaults are argon2-cffi's (RFC 9106 low-memory profile).
    argon2_time_cost: Positive = 3
    argon2_memory_kib: Positive = 65536
    argon2_parallelism: Positive = 4
    #: Passwords hashed at once per process (each takes argon2_memory_kib of memory)...
    password_hashing_threads: Positive = 2
    #: ...at this nice value (Linux): hashing yields the CPU to every other request.
    password_hashing_nice: Annotated[int, Field(ge=0, le=19)] = 10

    # Invitations
    invitation_ttl_days: Positive = 7
    #: Invitations (new, renewed or resent) one team may send in 24 hours.
    invitation_daily_limit: Positive = 50
    #: How often the scheduler marks invitations past their expiry ``expired``.
    invitation_sweep_interval_seconds: PositiveSeconds = 60.0

    # Account migrations
    #: Days the account holder has to answer a migration ticket's consent link.
    migration_consent_ttl_days: Positive = 7
    #: How often the scheduler marks tickets whose consent link ran out ``expired``.
    migration_sweep_interval_seconds: PositiveSeconds = 60.0

    # API keys and usage
    #: Fernet key (urlsafe base64 of 32 bytes) that encrypts trial-key secrets at rest.
    #: `teamkeys dev` makes one in data_dir if empty; elsewhere it must be set.
    encryption_key: str = ""
    #: Minutes after activation during which a production key can be revealed (once).
    key_reveal_window_minutes: Positive = 15
    #: Trial calls one team may make per calendar month (UTC); past it, 429.
    trial_monthly_calls: Positive = 1000
    #: How often the API writes keys' last-used times (coalesced, not one write per call).
    last_used_flush_seconds: PositiveSeconds = 10.0

    # Go to Production
    #: Applications expecting more requests a month than this go to a support agent.
    production_manual_review_above: Annotated[int, Field(ge=0)] = 10_000_000

    # Invoices
    #: Price table: currency, a default price and per-model prices, in minor units per
    #: million tokens, e.g. {"currency": "USD", "default": {"input": 50, "output": 150},
    #: "models": {"teamkeys-large": {"input": 300, "output": 1500}}}. Or, once prices have
    #: changed, a list of such tables oldest first, each with the month it starts in
    #: ("from": "2026-12"): usage is priced by the table of the month it happened in, so late
    #: usage keeps its own month's prices.
    prices: Annotated[PriceSchedule, NoDecode] = DEFAULT_PRICES
    #: Who bills: shown at the top of every invoice PDF.
    seller_name: str = "teamkeys"
    seller_address: str = "1 Example Street, Example City"
    #: How often the scheduler checks whether a month's invoices are due (00:05 UTC on the 1st).
    invoice_check_interval_seconds: PositiveSeconds = 60.0

    # Jobs
    #: Seconds a dispatched job may wait in the broker before the relay hands it over again.
    job_dispatch_lease_seconds: PositiveSeconds = 60.0
    #: Most seconds a request waits, after its commit, for the broker to take its jobs; past
    #: it the request answers and the relay sends them (a hung broker never holds a request).
    job_handover_timeout_seconds: PositiveSeconds = 0.5
    #: Seconds a started job may run before it is presumed dead (worker killed) and re-run.
    job_run_lease_seconds: PositiveSeconds = 60.0
    #: How often the relay looks for jobs to (re)dispatch.
    relay_interval_seconds: PositiveSeconds = 5.0
    job_max_attempts: Positive = 12
    job_min_backoff_seconds: PositiveSeconds = 15.0
    job_max_backoff_seconds: PositiveSeconds = 3600.0
    #: Threads per in-process (embedded) worker.
    worker_threads: Positive = 4

    # Stopping and the scheduler lease
    #: On SIGTERM, how long a process finishes what it is doing before it exits: the web its
    #: in-flight requests, a worker its running jobs (others go back to the broker).
    stop_grace_seconds: PositiveSeconds = 20.0
    #: How often the active scheduler renews its lease, and a waiting one looks whether the
    #: lease is free.
    scheduler_beat_seconds: PositiveSeconds = 5.0
    #: How long the lease lasts unrenewed: a scheduler killed without releasing it is replaced
    #: this long after its last beat. Must be longer than TEAMKEYS_SCHEDULER_BEAT_SECONDS.
    scheduler_lease_seconds: PositiveSeconds = 30.0

    # Abuse limits: "<count>/<period>" in the notation of the `limits` library, e.g.
    # "5/15 minutes", "20/hour", "3/7 days". Counters live where ``limits_url`` says.
    #: Failed sign-ins for one email from one address.
    limit_sign_in_per_email_ip: str = "5/15 minutes"
    #: Failed sign-ins from one address, whatever the email (password spraying).
    limit_sign_in_per_ip: str = "20/15 minutes"
    limit_sign_up_per_ip: str = "10/hour"
    limit_sign_up_per_email: str = "3/hour"
    #: Verification emails asked for again.
    limit_verification_per_ip: str = "10/hour"
    limit_verification_per_email: str = "3/hour"
    limit_password_reset_per_ip: str = "10/hour"  # noqa: S105 - a rate, not a secret
    limit_password_reset_per_email: str = "3/hour"  # noqa: S105 - a rate
    #: Migration tickets one team may open.
    limit_migration_tickets_per_team: str = "20/day"
    #: Migration tickets naming one account (each emails its holder).
    limit_migration_tickets_per_email: str = "3/7 days"
    #: Request bodies larger than this are refused (413) before they are read.
    max_body_bytes: Positive = 64 * 1024
    #: The same for the gateway's usage calls.
    usage_max_body_bytes: Positive = 64 * 1024
    #: Proxies (IP addresses or networks, comma-separated) whose X-Forwarded-For is believed
    #: for the client's address; empty: the socket's address is the client's.
    trusted_proxies: str = ""

    log_level: str = "INFO"
    #: ``text`` (for people) or ``json`` (one object a line, for log collectors), in every
    #: process alike.
    log_format: Literal["text", "json"] = "text"

    # Metrics (Prometheus)
    #: Clients (addresses or networks, comma-separated) that may read ``/metrics`` (and the
    #: workers' metrics port) without a token; behind a proxy, the address it forwards
    #: (TEAMKEYS_TRUSTED_PROXIES). Empty: only with the token.
    metrics_networks: str = "127.0.0.0/8,::1"
    #: Whoever sends ``Authorization: Bearer <this>`` may read the metrics from anywhere;
    #: empty: no token opens them.
    metrics_token: str = ""
    #: Port on which ``teamkeys worker`` serves its processes' metrics; 0: none.
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9191

    @model_validator(mode="after")
    def _lease_outlasts_beat(self) -> Settings:
        if self.scheduler_lease_seconds <= self.scheduler_beat_seconds:
            raise ValueError(
                "TEAMKEYS_SCHEDULER_LEASE_SECONDS must be longer than "
                "TEAMKEYS_SCHEDULER_BEAT_SECONDS (the lease is renewed every beat)"
            )
        return self

    @field_validator("public_url")
    @classmethod
    def _a_web_address(cls, value: str) -> str:
        """Pages' addresses are built as ``public_url + "/path"``, in code and in templates."""
        if scheme_of(value) not in ("http", "https") or not value.partition("://")[2].strip("/"):
            raise ValueError("not an http:// or https:// address")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _a_database(cls, value: str) -> str:
        """PostgreSQL through psycopg 3 (``postgres://`` as PaaS write it, too) or SQLite."""
        value = value.strip()
        scheme = scheme_of(value)
        if not value:
            return value
        if scheme in ("postgres", "postgresql"):
            return "postgresql+psycopg://" + value.partition("://")[2]
        if scheme in ("postgresql+psycopg", "sqlite"):
            return value
        raise ValueError(
            "not a PostgreSQL URL (postgresql://USER:PASSWORD@HOST:5432/DATABASE) "
            "or an SQLite one (sqlite:///PATH)"
        )

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _a_broker(cls, value: str) -> str:
        value = value.strip()
        if value and scheme_of(value) not in REDIS_SCHEMES + RABBITMQ_SCHEMES:
            raise ValueError(
                "not a Redis (redis://HOST:6379/0) or RabbitMQ (amqp://USER:PASSWORD@HOST:5672/"
                "VHOST) URL"
            )
        return value

    @field_validator("limits_url")
    @classmethod
    def _a_counter_store(cls, value: str) -> str:
        value = value.strip()
        if value and scheme_of(value) not in (*REDIS_SCHEMES, "memory"):
            raise ValueError("not a Redis URL (redis://HOST:6379/0) or memory://")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _a_fernet_key(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                Fernet(value.encode())
            except (ValueError, TypeError):
                raise ValueError(
                    "not a Fernet key (URL-safe base64 of 32 bytes); make one with "
                    "`teamkeys new-encryption-key`"
                ) from None
        return value

    @field_validator("prices", mode="before")
    @classmethod
    def _a_price_schedule(cls, value: Any) -> Any:
        """JSON from the environment, parsed here so that a typo is a line, not a traceback:
        one table, or a list of tables each with the month it starts in."""
        if isinstance(value, PriceSchedule):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc})") from None
        if isinstance(value, PriceTable | dict):
            return PriceSchedule.single(_price_table(value, where=""))
        if not isinstance(value, list) or not value:
            raise ValueError("must be a JSON object (one price table) or a list of them")
        tables = []
        for n, entry in enumerate(value, start=1):
            if not isinstance(entry, dict):
                raise ValueError(f"table {n}: must be a JSON object")
            starts = entry.get("from")
            try:
                period = Period.parse(starts if isinstance(starts, str) else "")
            except InvalidInput:
                raise ValueError(
                    f'table {n}: "from" must be the month it starts in, YYYY-MM'
                ) from None
            rest = {key: item for key, item in entry.items() if key != "from"}
            tables.append((period, _price_table(rest, where=f"table {n} (from {period}): ")))
        return PriceSchedule(tuple(tables))

    @field_serializer("prices")
    def _prices_as_given(self, prices: PriceSchedule) -> Any:
        """As ``TEAMKEYS_PRICES`` says them: one table, or the list with each one's month."""
        tables = [(start, _PRICE_TABLE.dump_python(t, mode="json")) for start, t in prices.tables]
        if prices == PriceSchedule.single(prices.tables[0][1]):
            return tables[0][1]
        return [{"from": str(start), **table} for start, table in tables]

    @field_validator("log_level")
    @classmethod
    def _a_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"not a log level ({', '.join(LOG_LEVELS)})")
        return value.strip().upper()

    @field_validator("trusted_proxies", "metrics_networks")
    @classmethod
    def _addresses(cls, value: str, info: ValidationInfo) -> str:
        """A comma-separated list of IP addresses and networks (``*``: any, for proxies)."""
        networks_of(value, any_allowed=info.field_name == "trusted_proxies")
        return value

    @field_validator(*(limit.setting for limit in Limit))
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @model_validator(mode="after")
    def _the_old_broker_name(self) -> Settings:
        """TEAMKEYS_REDIS_URL still names the broker when TEAMKEYS_BROKER_URL is not set."""
        if self.redis_url and not self.broker_url:
            self.broker_url = self.redis_url
        elif self.redis_url and self.redis_url != self.broker_url:
            raise ValueError(
                "TEAMKEYS_REDIS_URL is the old name of TEAMKEYS_BROKER_URL and says otherwise; "
                "unset TEAMKEYS_REDIS_URL"
            )
        return self

    @property
    def rates(self) -> dict[Limit, str]:
        """Every abuse limit's rate, by limit."""
        return {limit: getattr(self, limit.setting) for limit in Limit}

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'teamkeys.db').resolve()}"

    @property
    def broker_is_redis(self) -> bool:
        return scheme_of(self.broker_url) in REDIS_SCHEMES

    @property
    def broker_is_rabbitmq(self) -> bool:
        return scheme_of(self.broker_url) in RABBITMQ_SCHEMES

    @property
    def effective_limits_url(self) -> str:
        """Where the abuse limits' counters live: the configured store, else the broker's
        Redis, else ``""`` (process memory)."""
        if scheme_of(self.limits_url) == "memory":
            return ""
        if self.limits_url:
            return self.limits_url
        return self.broker_url if self.broker_is_redis else ""

    @property
    def mail_dir(self) -> Path:
        """Where the local mail sink writes ``.eml`` files."""
        return self.data_dir / "mail"

    def production_problems(self) -> list[str]:
        """What the production processes (web, worker, scheduler) need and this lacks: they
        share one database, one broker and one key, and never fall back to the embedded
        default (a private SQLite file, a broker nobody consumes, a key of their own)."""
        problems = []
        if not self.database_url:
            problems.append(
                "TEAMKEYS_DATABASE_URL is not set: name the PostgreSQL database every process "
                "shares (postgresql://USER:PASSWORD@HOST:5432/teamkeys); to run everything in "
                "one process on SQLite, use `teamkeys dev`"
            )
        if not self.encryption_key:
            problems.append(NO_ENCRYPTION_KEY)
        if not self.broker_url:
            problems.append(
                "TEAMKEYS_BROKER_URL is not set: name the broker every process shares, Redis "
                "(redis://HOST:6379/0) or RabbitMQ (amqp://USER:PASSWORD@HOST:5672/VHOST); to "
                "run everything in one process without one, use `teamkeys dev`"
            )
        return problems

    def warnings(self) -> list[str]:
        """Settings that work, but not as an operator may think."""
        said = []
        if self.redis_url:
            said.append("TEAMKEYS_REDIS_URL is deprecated: name the broker TEAMKEYS_BROKER_URL")
        if self.broker_is_rabbitmq and not self.limits_url:
            said.append(
                "abuse limits are counted in each process's memory (the broker is RabbitMQ and "
                "TEAMKEYS_LIMITS_URL is not set): every process allows the full count; set "
                "TEAMKEYS_LIMITS_URL to a Redis to share them, or to memory:// to say so"
            )
        return said


def networks_of(
    text: str, *, any_allowed: bool = False
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks a comma-separated setting names (an address is a network of one);
    ``*`` stands for any where ``any_allowed``, and is left out of the list."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item == "*" and any_allowed:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return networks


#: What a process that needs the key says when it has none.
NO_ENCRYPTION_KEY = (
    "TEAMKEYS_ENCRYPTION_KEY is not set: make one with `teamkeys new-encryption-key` and give "
    "the same value to every process (web, worker, scheduler)"
)


class InvalidSettings(ValueError):
    """The settings cannot be used; ``problems`` says each one in a line an operator can act
    on, naming its environment variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


#: Settings whose value never appears in a message (a password may sit in a URL's userinfo).
_SECRETS = {"encryption_key", "smtp_password"}
#: ... nor these: secrets, and JSON too long to help.
_NOT_SHOWN = _SECRETS | {"prices"}
_PHRASES = {
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "int_type": "not a whole number",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "decimal_parsing": "not a number",
    "bool_parsing": "not true or false",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be {ge} or more",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be {le} or less",
    "missing": "missing",
    "dict_type": "must be a JSON object",
    "dataclass_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "dataclass_exact_type": "must be a JSON object",
}


def _shown(field: str, value: object, said: str) -> str:
    """The value given, after the problem, unless it is secret or already said."""
    if field in _NOT_SHOWN or not isinstance(value, str | int | float) or repr(value) in said:
        return ""
    text = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(value))
    if len(text) > 80:
        text = text[:77] + "..."
    return f" ({text!r})"


def _price_table(value: PriceTable | dict[str, Any], *, where: str) -> PriceTable:
    """One table of ``TEAMKEYS_PRICES``, its problems said as a line each, after ``where``."""
    if isinstance(value, dict) and (unknown := sorted(set(value) - _PRICE_TABLE_KEYS)):
        raise ValueError(
            f"{where}unknown key {unknown[0]!r} (a table has currency, default and models)"
        )
    try:
        return _PRICE_TABLE.validate_python(value)
    except ValidationError as exc:
        raise ValueError("; ".join(where + line for line in value_problems(exc))) from None


_PRICE_TABLE = TypeAdapter(PriceTable)
_PRICE_TABLE_KEYS = {field.name for field in fields(PriceTable)}


def _number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _phrase(problem: ErrorDetails) -> str:
    phrase = _PHRASES.get(problem["type"])
    if phrase is None:
        return problem["msg"].removeprefix("Value error, ")
    return phrase.format(**{key: _number(value) for key, value in problem.get("ctx", {}).items()})


def value_problems(error: ValidationError) -> list[str]:
    """One line per problem of a value inside a setting: ``models.m: must be a JSON object``."""
    return [
        ": ".join([*([".".join(map(str, p["loc"]))] if p["loc"] else []), _phrase(p)])
        for p in error.errors()
    ]


def describe(error: ValidationError) -> list[str]:
    """One line per problem: ``TEAMKEYS_SMTP_PORT: not a whole number ('abc')``."""
    lines = []
    for problem in error.errors():
        field, *inner = [str(part) for part in problem["loc"]] or [""]
        what = _phrase(problem)
        if not field:  # the settings as a whole: the message names its variables
            lines.append(what)
            continue
        where = ": ".join([f"TEAMKEYS_{field.upper()}", *([".".join(inner)] if inner else [])])
        shown = "" if inner else _shown(field, problem["input"], what)
        lines.append(f"{where}: {what}{shown}")
    return lines


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment.

    Raises:
        InvalidSettings: a setting is malformed or out of range.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings(describe(exc)) from None
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        raise InvalidSettings([str(exc)]) from None

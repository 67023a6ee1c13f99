"""Settings from the environment (prefix ``TEAMKEYS_``); see ``.env.example`` for each one."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import NonNegativeInt, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.billing import DEFAULT_PRICES, PriceTable
from domain.limits import Limit
from infra.ratelimits import parse_rate


class Settings(BaseSettings):
    """Every knob teamkeys reads; built by :func:`get_settings`, never at import time."""

    model_config = SettingsConfigDict(env_prefix="TEAMKEYS_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL. Empty means the embedded default: SQLite under ``data_dir``.
    database_url: str = ""
    #: Redis URL for the Dramatiq broker. Empty means an in-process broker (embedded mode).
    redis_url: str = ""
    #: Prefix of every Redis key the broker writes, so several deployments can share a Redis.
    redis_namespace: str = "teamkeys"
    #: Where the embedded mode keeps its SQLite database and the local mail sink's files.
    data_dir: Path = Path("var")
    #: Where the web console is served (this process's pages, or a proxy in front of them):
    #: the links in emails are built from it, and on https its cookies are Secure.
    public_url: str = "http://localhost:8000"

    # Mail
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout: float = 10.0
    #: SMTP connections a worker process keeps open at most, each reused across emails; 0: one
    #: per worker thread that sends at once (as many as its threads).
    smtp_connections: NonNegativeInt = 0
    mail_from_name: str = "teamkeys"
    mail_from_address: str = "no-reply@teamkeys.localhost"
    #: Domain part of every Message-ID, so receivers can tell duplicates apart from ours.
    mail_message_id_domain: str = "teamkeys.localhost"

    # Accounts and sessions
    session_ttl_hours: int = 24 * 14
    #: How long an email verification link works.
    verification_link_ttl_hours: int = 24
    #: How long a password reset link works.
    password_reset_ttl_minutes: int = 60
    #: Unverified accounts older than this are deleted (their holder never proved the email).
    unverified_account_ttl_days: int = 7
    #: How often the scheduler deletes unverified accounts past their time.
    unverified_sweep_interval_seconds: float = 600.0
    #: argon2id cost. The defaults are argon2-cffi's (RFC 9106 low-memory profile).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    #: Passwords hashed at once per process (each takes argon2_memory_kib of memory)...
    password_hashing_threads: int = 2
    #: ...at this nice value (Linux): hashing yields the CPU to every other request.
    password_hashing_nice: int = 10

    # Invitations
    invitation_ttl_days: int = 7
    #: Invitations (new, renewed or resent) one team may send in 24 hours.
    invitation_daily_limit: int = 50
    #: How often the scheduler marks invitations past their expiry ``expired``.
    invitation_sweep_interval_seconds: float = 60.0

    # Account migrations
    #: Days the account holder has to answer a migration ticket's consent link.
    migration_consent_ttl_days: int = 7
    #: How often the scheduler marks tickets whose consent link ran out ``expired``.
    migration_sweep_interval_seconds: float = 60.0

    # API keys and usage
    #: Fernet key (urlsafe base64 of 32 bytes) that encrypts trial-key secrets at rest.
    #: `teamkeys dev` makes one in data_dir if empty; elsewhere it must be set.
    encryption_key: str = ""
    #: Minutes after activation during which a production key can be revealed (once).
    key_reveal_window_minutes: int = 15
    #: Trial calls one team may make per calendar month (UTC); past it, 429.
    trial_monthly_calls: int = 1000
    #: How often the API writes keys' last-used times (coalesced, not one write per call).
    last_used_flush_seconds: float = 10.0

    # Go to Production
    #: Applications expecting more requests a month than this go to a support agent.
    production_manual_review_above: int = 10_000_000

    # Invoices
    #: Price table: currency, a default price and per-model prices, in minor units per
    #: million tokens, e.g. {"currency": "USD", "default": {"input": 50, "output": 150},
    #: "models": {"teamkeys-large": {"input": 300, "output": 1500}}}.
    prices: PriceTable = DEFAULT_PRICES
    #: Who bills: shown at the top of every invoice PDF.
    seller_name: str = "teamkeys"
    seller_address: str = "1 Example Street, Example City"
    #: How often the scheduler checks whether a month's invoices are due (00:05 UTC on the 1st).
    invoice_check_interval_seconds: float = 60.0

    # Jobs
    #: Seconds a dispatched job may wait in the broker before the relay hands it over again.
    job_dispatch_lease_seconds: float = 60.0
    #: Seconds a started job may run before it is presumed dead (worker killed) and re-run.
    job_run_lease_seconds: float = 60.0
    #: How often the relay looks for jobs to (re)dispatch.
    relay_interval_seconds: float = 5.0
    job_max_attempts: int = 12
    job_min_backoff_seconds: float = 15.0
    job_max_backoff_seconds: float = 3600.0
    #: Threads per in-process (embedded) worker.
    worker_threads: int = 4

    # Abuse limits: "<count>/<period>" in the notation of the `limits` library, e.g.
    # "5/15 minutes", "20/hour", "3/7 days". Counters live in Redis when TEAMKEYS_REDIS_URL is
    # set, in process memory otherwise.
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
    max_body_bytes: int = 64 * 1024
    #: The same for the gateway's usage calls.
    usage_max_body_bytes: int = 64 * 1024
    #: Proxies (IP addresses or networks, comma-separated) whose X-Forwarded-For is believed
    #: for the client's address; empty: the socket's address is the client's.
    trusted_proxies: str = ""

    log_level: str = "INFO"

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        """Pages' addresses are built as ``public_url + "/path"``, in code and in templates."""
        return value.rstrip("/")

    @field_validator(*(limit.setting for limit in Limit))
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

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
    def mail_dir(self) -> Path:
        """Where the local mail sink writes ``.eml`` files."""
        return self.data_dir / "mail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()

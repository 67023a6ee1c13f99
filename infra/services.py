"""The pieces every process shares, built from settings in one place: the domain's policies,
the database, the broker, password hashing, the abuse limiter, the secret box, the last-used
trackers and the metrics. The API serves from them; the composition root adds the workers and
the relay."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import dramatiq

from domain.accounts import AccountPolicy
from domain.api_keys import KeyPolicy
from domain.invitations import InvitationPolicy
from domain.migration_tickets import MigrationPolicy
from domain.models import AuthSession
from domain.production import ReviewPolicy
from domain.secrets import PasswordPolicy, Passwords, SecretBox, derive_key
from domain.usage import UsagePolicy
from infra.broker import build_broker
from infra.db import Database, make_engine
from infra.last_used import LastUsedTracker
from infra.mail.transport import SmtpTransport
from infra.metrics import Metrics
from infra.ratelimits import Limiter
from infra.settings import NO_ENCRYPTION_KEY, InvalidSettings, Settings

log = logging.getLogger("teamkeys")


@dataclass
class Policies:
    """The domain's rules with their configured values. Settings hold each default; only
    :func:`build_policies` turns them into policies."""

    account_policy: AccountPolicy
    password_policy: PasswordPolicy
    invitation_policy: InvitationPolicy
    migration_policy: MigrationPolicy
    key_policy: KeyPolicy
    usage_policy: UsagePolicy
    review_policy: ReviewPolicy


def build_policies(settings: Settings) -> Policies:
    return Policies(
        account_policy=AccountPolicy(
            session_ttl=timedelta(hours=settings.session_ttl_hours),
            verification_ttl=timedelta(hours=settings.verification_link_ttl_hours),
            reset_ttl=timedelta(minutes=settings.password_reset_ttl_minutes),
            unverified_ttl=timedelta(days=settings.unverified_account_ttl_days),
        ),
        password_policy=PasswordPolicy(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        ),
        invitation_policy=InvitationPolicy(
            ttl=timedelta(days=settings.invitation_ttl_days),
            daily_limit=settings.invitation_daily_limit,
        ),
        migration_policy=MigrationPolicy(
            consent_ttl=timedelta(days=settings.migration_consent_ttl_days)
        ),
        key_policy=KeyPolicy(reveal_window=timedelta(minutes=settings.key_reveal_window_minutes)),
        usage_policy=UsagePolicy(trial_monthly_calls=settings.trial_monthly_calls),
        review_policy=ReviewPolicy(manual_review_above=settings.production_manual_review_above),
    )


@dataclass
class Services(Policies):
    """The policies, and the pieces every process shares."""

    settings: Settings
    db: Database
    broker: dramatiq.Broker
    passwords: Passwords
    hashing: ThreadPoolExecutor
    limiter: Limiter
    secret_box: SecretBox
    #: Key of the HMAC that makes emailed links' tokens.
    link_secret: bytes
    #: Key of the HMAC that ties a page's form token to its browser (``web.session``).
    form_secret: bytes
    last_used: LastUsedTracker
    sessions_last_used: LastUsedTracker
    #: The process's request and job figures, and the database's, for ``/metrics``.
    metrics: Metrics

    def close(self) -> None:
        self.hashing.shutdown(wait=True)
        self.last_used.close()
        self.sessions_last_used.close()
        self.broker.close()
        self.db.dispose()


def lower_priority(nice: int) -> None:
    """Run the calling thread (and the threads argon2 starts from it) at a lower CPU priority:
    password hashing is slow on purpose, and must not slow down every other request. On Linux
    a thread's nice value is its own; elsewhere this does nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):
        log.debug("could not lower the password hashing thread's priority")


def smtp_transport(settings: Settings) -> SmtpTransport:
    return SmtpTransport(
        settings.smtp_host or "127.0.0.1",
        settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        start_tls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        timeout=settings.smtp_timeout,
        connections=settings.smtp_connections,
    )


def encryption_key(settings: Settings) -> str:
    """The key that encrypts secrets at rest. The embedded mode keeps one in its data folder;
    anywhere else it must be configured, since every process must share it."""
    if settings.encryption_key:
        return settings.encryption_key
    if settings.database_url:
        raise InvalidSettings([NO_ENCRYPTION_KEY])
    path = settings.data_dir / "encryption.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(SecretBox.new_key())
        path.chmod(0o600)
        log.info("made a new encryption key for the embedded mode in %s", path)
    return path.read_text().strip()


def build_services(settings: Settings) -> Services:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(make_engine(settings.effective_database_url))
    master_key = encryption_key(settings)
    hashing = ThreadPoolExecutor(
        max_workers=settings.password_hashing_threads,
        thread_name_prefix="password-hashing",
        initializer=lower_priority,
        initargs=(settings.password_hashing_nice,),
    )
    policies = build_policies(settings)
    return Services(
        **vars(policies),
        settings=settings,
        db=db,
        broker=build_broker(settings),
        passwords=Passwords(policies.password_policy, hashing),
        hashing=hashing,
        limiter=Limiter.from_settings(
            settings.rates, settings.effective_limits_url, settings.redis_namespace
        ),
        secret_box=SecretBox(master_key),
        link_secret=derive_key(master_key, "link tokens"),
        form_secret=derive_key(master_key, "form tokens"),
        last_used=LastUsedTracker(db, settings.last_used_flush_seconds),
        sessions_last_used=LastUsedTracker(db, settings.last_used_flush_seconds, AuthSession),
        metrics=Metrics(db),
    )

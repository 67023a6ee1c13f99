"""Secrets at rest: argon2id for passwords, SHA-256 digests for bearer tokens (invariant 3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet

T = TypeVar("T")


def token_digest(token: str) -> str:
    """The only form in which a bearer token is stored or looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str, nbytes: int = 32) -> str:
    """A fresh bearer token: ``prefix`` plus ``nbytes`` of randomness, URL-safe."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


@dataclass(frozen=True)
class PasswordPolicy:
    """argon2id cost parameters; tests lower them, production keeps the library defaults."""

    time_cost: int
    memory_kib: int
    parallelism: int


class Passwords:
    """Hashes and checks passwords with argon2id, and upgrades hashes whose cost changed.

    Given a ``pool``, the hashing (tens of milliseconds of CPU and tens of MiB, on purpose)
    runs on its threads: the pool bounds how many hashes run at once, and the process that
    makes it may run them at a lower CPU priority than its requests (``teamkeys.runtime``).
    """

    def __init__(self, policy: PasswordPolicy, pool: Executor | None = None) -> None:
        self._hasher = PasswordHasher(
            time_cost=policy.time_cost,
            memory_cost=policy.memory_kib,
            parallelism=policy.parallelism,
        )
        self._pool = pool
        # Checked against when an email is unknown, so both paths cost the same time.
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._run(self._hasher.hash, password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        return self._run(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    def _run(self, work: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            return work(*args)
        return self._pool.submit(work, *args).result()

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def link_token(secret: bytes, prefix: str, *parts: object) -> str:
    """A link's token, made from what it is for (an invitation's round, a ticket) under a
    server key: 256 bits nobody can guess without the key, and the same every time it is
    made, so a retried or duplicated job sends the same working link. Only its digest is
    stored."""
    mac = hmac.new(secret, ":".join(map(str, parts)).encode(), hashlib.sha256).digest()
    return f"{prefix}_" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def derive_key(master: str, purpose: str) -> bytes:
    """A key for one purpose from the configured master key, so one setting serves several
    uses without one use's key revealing another's."""
    return hmac.new(master.encode(), f"teamkeys:{purpose}".encode(), hashlib.sha256).digest()


class SecretBox:
    """Encrypts secrets that must be shown again later (trial keys) with Fernet
    (AES-128-CBC + HMAC-SHA256, from ``cryptography``); the key comes from settings."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

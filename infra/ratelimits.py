"""The abuse limits' counters, kept by the ``limits`` library: in Redis when teamkeys has one
(``TEAMKEYS_LIMITS_URL``, else a Redis broker: every process shares them), in process memory
otherwise (the embedded default, or a RabbitMQ broker without a Redis for counters). Fixed
windows, each starting at its key's first event: either way a counter expires with its window,
so throttle state never grows without bound. (The library's moving window keeps, in memory, an
empty entry for every key it ever saw.)"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from domain.errors import Throttled
from domain.limits import REFUSALS, Limit

log = logging.getLogger("teamkeys.limits")


def parse_rate(text: str) -> RateLimitItem:
    """``"5/15 minutes"``, ``"20 per hour"``, ``"3/7 days"``: the ``limits`` notation."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a rate; write it as '5/15 minutes', '20/hour' or '3/7 days'"
        ) from exc


class Limiter:
    """:class:`domain.limits.RateLimits` over a ``limits`` storage.

    If the storage cannot be reached (Redis down), the request is let through and a warning
    logged: abuse limits must not take the service down with them.
    """

    def __init__(self, rates: Mapping[Limit, RateLimitItem], storage: Storage) -> None:
        self.rates = dict(rates)
        self.storage = storage
        self._strategy = FixedWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, rates: Mapping[Limit, str], url: str, namespace: str) -> Limiter:
        """Counters in the Redis at ``url``, or in this process's memory if it is empty."""
        storage: Storage
        if url:
            storage = RedisStorage(
                url,
                key_prefix=f"{namespace}:limits",
                socket_connect_timeout=2,
                socket_timeout=2,
            )
        else:
            storage = MemoryStorage()
        return cls({limit: parse_rate(rate) for limit, rate in rates.items()}, storage)

    def check(self, limit: Limit, *key: str) -> None:
        rate = self.rates[limit]
        if not self._ask(self._strategy.test, rate, limit, key):
            raise self._refusal(limit, rate, key)

    def hit(self, limit: Limit, *key: str) -> None:
        rate = self.rates[limit]
        if not self._ask(self._strategy.hit, rate, limit, key):
            raise self._refusal(limit, rate, key)

    def reset(self) -> None:
        """Forget every count (tests, and an operator lifting limits after an incident)."""
        self.storage.reset()

    def _ask(self, how: object, rate: RateLimitItem, limit: Limit, key: tuple[str, ...]) -> bool:
        try:
            allowed: bool = how(rate, limit.value, *key)  # type: ignore[operator]
        except Exception as exc:
            log.warning("abuse limit %s not checked, its storage failed: %s", limit, exc)
            return True
        return allowed

    def _refusal(self, limit: Limit, rate: RateLimitItem, key: tuple[str, ...]) -> Throttled:
        try:
            reset_at = self._strategy.get_window_stats(rate, limit.value, *key).reset_time
            wait = max(math.ceil(reset_at - time.time()), 1)
        except Exception:
            wait = rate.get_expiry()
        refusal = REFUSALS[limit]
        return Throttled(refusal.message.format(wait=wait), retry_after=wait, code=refusal.code)

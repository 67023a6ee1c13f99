"""The abuse limits' counters (``infra.ratelimits``) in process memory, as the embedded
default keeps them: refusals with their wait, and state that does not outlive its window."""

from __future__ import annotations

import time

import pytest

from domain.errors import Throttled
from domain.limits import REFUSALS, Limit
from infra.ratelimits import Limiter, parse_rate


def limiter(rate: str) -> Limiter:
    return Limiter.from_settings({limit: rate for limit in Limit}, url="", namespace="t")


def test_a_limit_refuses_past_its_count_with_the_wait_and_its_code() -> None:
    limits = limiter("3/15 minutes")
    for _ in range(3):
        limits.hit(Limit.SIGN_IN_PER_EMAIL_IP, "ada@example.com", "10.0.0.1")
    with pytest.raises(Throttled) as refused:
        limits.check(Limit.SIGN_IN_PER_EMAIL_IP, "ada@example.com", "10.0.0.1")
    assert 15 * 60 - 5 <= refused.value.retry_after <= 15 * 60
    assert refused.value.code == REFUSALS[Limit.SIGN_IN_PER_EMAIL_IP].code
    assert str(refused.value.retry_after) in refused.value.message
    # Other keys, and the same key under another limit, are counted apart.
    limits.check(Limit.SIGN_IN_PER_EMAIL_IP, "ada@example.com", "10.0.0.2")
    limits.check(Limit.SIGN_IN_PER_IP, "10.0.0.1")


def test_check_counts_nothing() -> None:
    limits = limiter("1/hour")
    for _ in range(5):
        limits.check(Limit.SIGN_UP_PER_IP, "10.0.0.1")
    limits.hit(Limit.SIGN_UP_PER_IP, "10.0.0.1")
    with pytest.raises(Throttled):
        limits.hit(Limit.SIGN_UP_PER_IP, "10.0.0.1")


def test_counters_go_with_their_window_so_state_cannot_grow_without_bound() -> None:
    # A window four times as long as the spray takes on a loaded machine, so none of it has
    # expired when it is counted (the store sweeps expired counters on its own).
    limits = limiter("2/2 seconds")
    for n in range(500):  # a spray of made-up emails from many addresses
        limits.hit(Limit.SIGN_IN_PER_EMAIL_IP, f"user{n}@example.com", f"10.0.{n // 256}.{n % 256}")
    kept = vars(limits.storage)["storage"]
    assert len(kept) == 500
    time.sleep(2.2)
    limits.hit(Limit.SIGN_IN_PER_IP, "10.9.9.9")  # any use sweeps what has expired
    deadline = time.monotonic() + 2
    while len(kept) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(kept) == 1


def test_a_storage_that_fails_lets_the_request_through() -> None:
    limits = Limiter.from_settings(
        {limit: "1/hour" for limit in Limit}, url="redis://127.0.0.1:1/0", namespace="t"
    )
    for _ in range(3):
        limits.hit(Limit.SIGN_UP_PER_IP, "10.0.0.1")  # no Redis there: counted as allowed


@pytest.mark.parametrize("text", ["5/15 minutes", "20/hour", "3/7 days", "10 per minute"])
def test_rates_read_as_written(text: str) -> None:
    assert parse_rate(text).amount in (5, 20, 3, 10)


@pytest.mark.parametrize("text", ["lots", "5/fortnight", ""])
def test_a_rate_that_is_not_one_says_how_to_write_it(text: str) -> None:
    with pytest.raises(ValueError, match="write it as"):
        parse_rate(text)

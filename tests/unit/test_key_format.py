"""The key format: recognisable prefix, enough randomness, and a checksum that catches typos."""

from __future__ import annotations

import math

from domain.key_format import ALPHABET, BODY_LENGTH, PREFIXES, key_kind, masked, new_key
from domain.models import KeyKind


def test_keys_carry_their_kind_and_at_least_160_bits() -> None:
    trial, live = new_key(KeyKind.TRIAL), new_key(KeyKind.PRODUCTION)
    assert trial.startswith("tk_trial_") and live.startswith("tk_live_")
    assert BODY_LENGTH * math.log2(len(ALPHABET)) >= 160
    assert key_kind(trial) is KeyKind.TRIAL and key_kind(live) is KeyKind.PRODUCTION
    assert len({new_key(KeyKind.TRIAL) for _ in range(1000)}) == 1000


def test_a_typo_anywhere_is_caught_by_the_checksum() -> None:
    key = new_key(KeyKind.TRIAL)
    prefix = len(PREFIXES[KeyKind.TRIAL])
    for position in range(prefix, len(key)):
        swapped = "A" if key[position] != "A" else "B"
        assert key_kind(key[:position] + swapped + key[position + 1 :]) is None, position


def test_made_up_and_malformed_keys_are_refused() -> None:
    key = new_key(KeyKind.PRODUCTION)
    for bad in (
        "",
        "tk_live_",
        key[:-1],
        key + "x",
        key.replace("tk_live_", "tk_test_"),
        "sk-" + key[3:],
        key.replace("tk_live_", "tk_trial_"),
        "tk_live_" + "0" * 38,
    ):
        assert key_kind(bad) is None, bad


def test_masked_form_shows_prefix_and_last_four_only() -> None:
    assert masked(KeyKind.PRODUCTION, "wxyz") == "tk_live_…wxyz"

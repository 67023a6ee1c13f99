"""Opaque, prefixed identifiers: the prefix tells a person what kind of thing an id names."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"

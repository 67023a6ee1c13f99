"""Alembic migrations: every schema change, in order."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory


@cache
def heads() -> frozenset[str]:
    """The latest revisions: a database at exactly these has the schema this code expects."""
    return frozenset(ScriptDirectory(str(Path(__file__).parent)).get_heads())

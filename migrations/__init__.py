"""Alembic migrations: every schema change, in order."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(Path(__file__).parent))


def heads() -> frozenset[str]:
    """The latest revisions: a database at exactly these has the schema this code expects."""
    return frozenset(_scripts().get_heads())


def schema_ready(revisions: frozenset[str]) -> bool:
    """Whether a database at ``revisions`` has the schema this code needs: at the latest
    migration, or past it (a revision this code does not know, so a newer release's: during a
    rolling deploy the new release migrates first, and its migrations keep older code working
    until every process runs the new one). Never migrated, or at an older revision: not ready."""
    if revisions == heads():
        return True
    known = {script.revision for script in _scripts().walk_revisions()}
    return bool(revisions - known)

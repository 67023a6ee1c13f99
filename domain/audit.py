"""Audit events: every state change leaves one, in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import Event


def record_event(
    session: Session,
    *,
    team_id: str | None,
    actor_id: str | None,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        team_id=team_id,
        actor_id=actor_id,
        action=action,
        target=target,
        details=details or {},
        at=utcnow(),
    )
    session.add(event)
    session.flush([event])
    return event


def team_events(
    session: Session, team_id: str, *, limit: int = 100, offset: int = 0
) -> list[Event]:
    """Newest first, ``offset`` newer ones skipped; ties (same instant) broken by id so the
    order is stable from page to page."""
    rows = session.scalars(
        select(Event)
        .where(Event.team_id == team_id)
        .order_by(Event.at.desc(), Event.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows)

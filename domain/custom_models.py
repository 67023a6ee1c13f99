"""Custom models: named variants of a base model that a team's members create and delete."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.accounts import clean_name
from domain.audit import record_event
from domain.clock import utcnow
from domain.errors import Conflict, NotFound
from domain.ids import new_id
from domain.models import Account, CustomModel
from domain.permissions import Permission
from domain.teams import authorize


def create_custom_model(
    session: Session, actor: Account, team_id: str, *, name: str, base_model: str
) -> CustomModel:
    authorize(session, actor, team_id, Permission.CUSTOM_MODELS_MANAGE)
    model = CustomModel(
        id=new_id("cm"),
        team_id=team_id,
        name=clean_name(name),
        base_model=clean_name(base_model),
        created_by=actor.id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(model)
    except IntegrityError:
        raise Conflict(
            f"The team already has a custom model named {model.name!r}.", code="name_taken"
        ) from None
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="custom_model.created",
        target=model.id,
        details={"name": model.name, "base_model": model.base_model},
    )
    return model


def list_custom_models(session: Session, actor: Account, team_id: str) -> list[CustomModel]:
    authorize(session, actor, team_id, Permission.CUSTOM_MODELS_MANAGE)
    return list(
        session.scalars(
            select(CustomModel).where(CustomModel.team_id == team_id).order_by(CustomModel.name)
        )
    )


def delete_custom_model(session: Session, actor: Account, team_id: str, model_id: str) -> None:
    authorize(session, actor, team_id, Permission.CUSTOM_MODELS_MANAGE)
    model = session.scalar(
        select(CustomModel).where(CustomModel.id == model_id, CustomModel.team_id == team_id)
    )
    if model is None:
        raise NotFound("No such custom model in this team.", code="no_such_model")
    session.delete(model)
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="custom_model.deleted",
        target=model.id,
        details={"name": model.name},
    )

"""Custom models (docs/api.md): members create, list and delete their team's custom models."""

from __future__ import annotations

from fastapi import Response

from api.deps import CurrentAccount, UowDep
from api.routing import answer, api_router, committed, empty_answer
from api.schemas import CustomModelList, CustomModelOut, CustomModelRequest
from domain import custom_models

router = api_router(prefix="/v1/teams/{team_id}/custom-models", tags=["custom models"])


@router.post("", **answer(CustomModelOut, 400, 401, 403, 404, 409, 422, status=201))
def create(
    team_id: str, body: CustomModelRequest, uow: UowDep, account: CurrentAccount
) -> CustomModelOut:
    model = custom_models.create_custom_model(
        uow.session, account, team_id, name=body.name, base_model=body.base_model
    )
    return committed(uow, CustomModelOut.model_validate(model))


@router.get("", **answer(CustomModelList, 401, 403, 404))
def list_models(team_id: str, uow: UowDep, account: CurrentAccount) -> CustomModelList:
    return CustomModelList.of(custom_models.list_custom_models(uow.session, account, team_id))


@router.delete("/{model_id}", **empty_answer(204, 401, 403, 404))
def delete(team_id: str, model_id: str, uow: UowDep, account: CurrentAccount) -> Response:
    custom_models.delete_custom_model(uow.session, account, team_id, model_id)
    return committed(uow, Response(status_code=204))

"""The team console: API keys (``/team/keys``) and custom models (``/team/models``).

Every page and form asks the domain as the API's routes do (api/routes/api_keys.py,
api/routes/custom_models.py); what a role may do to a key of each kind is the domain's table
(``domain.api_keys.KeyAct``), asked here through ``domain.permissions.allows`` only to hide the
controls a role may not use: the domain refuses them anyway."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import Request, Response

from api.deps import ServicesDep, UowDep
from api.schemas import ApiKeyRename, ApiKeyRequest, CustomModelRequest
from domain import api_keys, custom_models
from domain.api_keys import KeyAct, KeyView
from domain.errors import DomainError, InvalidInput
from domain.models import KeyKind, KeyStatus, ProductionStatus
from domain.permissions import Actor, allows
from infra.db import UnitOfWork
from web.pages import Form, Invalid, form_error, page_router, parse, settle, status_of_refusal
from web.render import redirect, render
from web.team import MyTeam, TeamPage, section_page

router = page_router()

#: The keys page's script (keys.js) fetches a pending key's row from this site: the page's
#: policy allows that, and only that, beyond every page's.

KEYS_NOTICES = {
    "requested": "Your key is being generated: it is pending until it is ready.",
    "renamed": "The key was renamed.",
    "deleted": "The key was deleted: calls with it are refused from now on.",
}
MODELS_NOTICES = {
    "created": "The custom model was created.",
    "deleted": "The custom model was deleted.",
}


def may(team: TeamPage, act: str, key: KeyView) -> bool:
    """Whether the member may ``act`` on this key, by the domain's own table (``KeyAct``): only
    to show or hide a control. Revealing is also the domain's ``revealable`` and, for a
    production key, its creator's alone (``reveal_api_key``)."""
    if key.key.status == KeyStatus.DELETED:
        return False
    permission = KeyAct[act.upper()].permission(key.key.kind)
    if not allows(Actor(team.role.value), permission):
        return False
    if act == "reveal":
        return key.revealable and (
            key.key.kind == KeyKind.TRIAL or key.key.created_by == team.account.id
        )
    return True


def keys_page(
    request: Request,
    team: TeamPage,
    uow: UnitOfWork,
    services: ServicesDep,
    status: int = 200,
    **context: Any,
) -> Response:
    """The team's keys, trial and production apart, as the API lists them."""
    keys = api_keys.list_api_keys(uow.session, team.account, team.team_id)
    views = api_keys.key_views(uow.session, keys, services.key_policy)
    live = [v for v in views if v.key.status != KeyStatus.DELETED]
    context.setdefault("values", {})
    return section_page(
        request,
        team,
        "keys",
        "API keys",
        status,
        trial=[v for v in live if v.key.kind == KeyKind.TRIAL],
        production=[v for v in live if v.key.kind == KeyKind.PRODUCTION],
        approved=team.team.production_status == ProductionStatus.APPROVED,
        may=may,
        notice=KEYS_NOTICES.get(request.query_params.get("done", "")),
        **context,
    )


def refused_keys(
    request: Request,
    team: TeamPage,
    uow: UnitOfWork,
    services: ServicesDep,
    refused: DomainError | Invalid,
    **context: Any,
) -> Response:
    uow.session.rollback()
    return keys_page(
        request,
        team,
        uow,
        services,
        status_of_refusal(refused),
        **form_error(refused),
        **context,
    )


@router.get("/team/keys")
def keys(request: Request, team: MyTeam, uow: UowDep, services: ServicesDep) -> Response:
    return keys_page(request, team, uow, services)


@router.get("/team/keys/{key_id}/row")
def key_row(
    request: Request, key_id: str, team: MyTeam, uow: UowDep, services: ServicesDep
) -> Response:
    """One key's row of the table, as the page shows it: what keys.js fetches while a key is
    pending, to show it active without reloading the page."""
    key = api_keys.get_api_key(uow.session, team.account, team.team_id, key_id)
    [view] = api_keys.key_views(uow.session, [key], services.key_policy)
    return render(request, "team/key_row.html", team=team, key=view, may=may)


@router.post("/team/keys")
def request_key(
    request: Request, form: Form, team: MyTeam, uow: UowDep, services: ServicesDep
) -> Response:
    """The API's ``POST /v1/teams/{team_id}/api-keys``: a pending key, made by the key job."""
    try:
        body = parse(ApiKeyRequest, form)
        key = api_keys.request_api_key(
            uow.session, team.account, team.team_id, name=body.name, kind=body.kind
        )
        key_id = key.id
        uow.commit()
    except (DomainError, Invalid) as refused:
        values = {"name": form.get("name", ""), "kind": form.get("kind", "")}
        return refused_keys(request, team, uow, services, refused, values=values)
    return redirect(f"/team/keys?done=requested#key-{key_id}")


@router.post("/team/keys/{key_id}/reveal")
def reveal_key(
    request: Request, key_id: str, form: Form, team: MyTeam, uow: UowDep, services: ServicesDep
) -> Response:
    """The API's ``POST …/api-keys/{key_id}/reveal``: the secret, on this answer only (never
    in an address; the page is not stored). A production key's is wiped as it is shown, so
    this commits before the page leaves."""
    del form  # checked: only our own page may ask
    try:
        secret = api_keys.reveal_api_key(
            uow.session,
            services.secret_box,
            team.account,
            team.team_id,
            key_id,
            services.key_policy,
        )
        key = api_keys.get_api_key(uow.session, team.account, team.team_id, key_id)
        revealed = {"name": key.name, "kind": key.kind, "secret": secret}
        uow.commit()
    except DomainError as refused:
        return refused_keys(request, team, uow, services, refused)
    return keys_page(request, team, uow, services, revealed=revealed)


@router.post("/team/keys/{key_id}/rename")
def rename_key(
    request: Request, key_id: str, form: Form, team: MyTeam, uow: UowDep, services: ServicesDep
) -> Response:
    """The API's ``PATCH …/api-keys/{key_id}``."""
    try:
        body = parse(ApiKeyRename, form)
        api_keys.rename_api_key(uow.session, team.account, team.team_id, key_id, body.name)
        uow.commit()
    except Invalid as invalid:  # shown beside the row's own name field, not the new key's
        return refused_keys(
            request,
            team,
            uow,
            services,
            InvalidInput(f"The new name: {invalid.fields.get('name', 'not valid')}"),
            renaming=key_id,
        )
    except DomainError as refused:
        return refused_keys(request, team, uow, services, refused, renaming=key_id)
    return redirect(f"/team/keys?done=renamed#key-{key_id}")


@router.post("/team/keys/{key_id}/delete")
def delete_key(
    request: Request, key_id: str, form: Form, team: MyTeam, uow: UowDep, services: ServicesDep
) -> Response:
    """The API's ``DELETE …/api-keys/{key_id}`` (owners)."""
    del form  # checked: only our own page may ask
    return settle(
        uow,
        lambda: api_keys.delete_api_key(uow.session, team.account, team.team_id, key_id),
        "/team/keys?done=deleted",
        partial(refused_keys, request, team, uow, services),
    )


# --- custom models ---------------------------------------------------------------------------


def models_page(
    request: Request, team: TeamPage, uow: UnitOfWork, status: int = 200, **context: Any
) -> Response:
    models = custom_models.list_custom_models(uow.session, team.account, team.team_id)
    context.setdefault("values", {})
    return section_page(
        request,
        team,
        "models",
        "Custom models",
        status,
        models=models,
        notice=MODELS_NOTICES.get(request.query_params.get("done", "")),
        **context,
    )


def refused_models(
    request: Request,
    team: TeamPage,
    uow: UnitOfWork,
    refused: DomainError | Invalid,
    **context: Any,
) -> Response:
    return models_page(
        request, team, uow, status_of_refusal(refused), **form_error(refused), **context
    )


@router.get("/team/models")
def models(request: Request, team: MyTeam, uow: UowDep) -> Response:
    return models_page(request, team, uow)


@router.post("/team/models")
def create_model(request: Request, form: Form, team: MyTeam, uow: UowDep) -> Response:
    """The API's ``POST /v1/teams/{team_id}/custom-models``."""

    def act() -> None:
        body = parse(CustomModelRequest, form)
        custom_models.create_custom_model(
            uow.session, team.account, team.team_id, name=body.name, base_model=body.base_model
        )

    values = {"name": form.get("name", ""), "base_model": form.get("base_model", "")}
    refused = partial(refused_models, request, team, uow, values=values)
    return settle(uow, act, "/team/models?done=created", refused)


@router.post("/team/models/{model_id}/delete")
def delete_model(
    request: Request, model_id: str, form: Form, team: MyTeam, uow: UowDep
) -> Response:
    """The API's ``DELETE /v1/teams/{team_id}/custom-models/{model_id}``."""
    del form  # checked: only our own page may ask
    return settle(
        uow,
        lambda: custom_models.delete_custom_model(
            uow.session, team.account, team.team_id, model_id
        ),
        "/team/models?done=deleted",
        partial(refused_models, request, team, uow),
    )

"""How a route says what it answers, in one line: its status, its body's model, and the
errors it documents (all of which the OpenAPI document shows). Every router of the API is an
:func:`api_router`, whose routes document the 403 of a verified-session requirement
themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Response
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.deps import refuses_unverified
from api.errors import error_responses
from infra.db import UnitOfWork

T = TypeVar("T")


class ApiRoute(APIRoute):
    """A route of the API. One that needs a verified session (``api.deps.REFUSE_UNVERIFIED``,
    through any of its dependencies) documents 403 (``email_not_verified``) whatever errors it
    declares: the requirement is where it is declared, not repeated on every route."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        needs = [endpoint] + [
            depends.dependency
            for depends in options.get("dependencies") or ()
            if depends.dependency is not None
        ]
        if any(refuses_unverified(get_dependant(path=path, call=call)) for call in needs):
            options["responses"] = {**error_responses(403), **(options.get("responses") or {})}
        super().__init__(path, endpoint, **options)


def api_router(**options: Any) -> APIRouter:
    """An ``APIRouter`` (same options) whose routes are each an :class:`ApiRoute`."""
    return APIRouter(route_class=ApiRoute, **options)


def answer(model: type[BaseModel], *errors: int, status: int | None = None) -> dict[str, Any]:
    """Keyword arguments of a route answering ``model`` (with ``status``, 200 by default), or
    one of the ``errors`` statuses with the error body."""
    declared: dict[str, Any] = {"response_model": model, "responses": error_responses(*errors)}
    if status is not None:
        declared["status_code"] = status
    return declared


def empty_answer(status: int, *errors: int) -> dict[str, Any]:
    """Keyword arguments of a route answering ``status`` with no body, or one of ``errors``."""
    return {
        "status_code": status,
        "response_class": Response,
        "responses": error_responses(*errors),
    }


def committed(uow: UnitOfWork, built: T) -> T:
    """Commit the request's unit of work, then give ``built``, the answer made before the
    commit from what this transaction read, so nothing is read again in another."""
    uow.commit()
    return built

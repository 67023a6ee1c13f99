"""How a route says what it answers, in one line: its status, its body's model, and the
errors it documents (all of which the OpenAPI document shows)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel

from api.errors import error_responses
from infra.db import UnitOfWork

T = TypeVar("T")


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

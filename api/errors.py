"""Every error leaves with docs/api.md's body ``{"error": {"code", "message"}}``, never as an
HTML page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access_log import route_of
from api.schemas import ErrorBody
from domain.errors import (
    Conflict,
    DomainError,
    Gone,
    InvalidInput,
    NotAllowed,
    NotFound,
    Throttled,
    Unauthenticated,
)
from infra.outages import dependency_down, describe

log = logging.getLogger("teamkeys.api")

#: Each kind of refusal and its HTTP status; the most specific class listed wins.
STATUS: list[tuple[type[DomainError], int]] = [
    (Unauthenticated, 401),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Gone, 410),
    (InvalidInput, 422),
    (Throttled, 429),
]

#: The codes of refusals that HTTP itself makes, before any rule is asked; where a domain error
#: means the same, its code is the one.
HTTP_CODES = {
    400: "bad_request",
    401: Unauthenticated.code,
    403: NotAllowed.code,
    404: NotFound.code,
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}
#: A body is refused as too large before it is parsed (``api.body_limit``), or while it is read.
BODY_TOO_LARGE = "The request body is larger than this server accepts."


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    merged = dict(headers or {})
    if status == 401:
        merged.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse({"error": body}, status_code=status, headers=merged or None)


def body_too_large() -> JSONResponse:
    return error_response(413, HTTP_CODES[413], BODY_TOO_LARGE)


def status_of(exc: DomainError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def _describe(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    fields = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        fields.append(
            {
                "field": ".".join(loc) or "body",
                "problem": err.get("msg", "invalid"),
                "type": err.get("type", ""),
            }
        )
    summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
    return summary or "The request body is not valid.", fields


def install_error_handlers(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        response = error_response(status_of(exc), exc.code, exc.message)
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        summary, fields = _describe(errors)
        return error_response(422, DomainError.code, summary, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 413:
            message = BODY_TOO_LARGE
        # Starlette's headers carry what HTTP requires, e.g. ``Allow`` on a 405.
        return error_response(exc.status_code, code, message, headers=exc.headers)


#: Seconds a client is told to wait (``Retry-After``) when a dependency is down.
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Failure:
    """What a request that raised is answered: an outage (503) or a fault of ours (500)."""

    status: int
    code: str
    message: str
    headers: dict[str, str]


def failure_of(exc: Exception, scope: Scope) -> Failure:
    """Log ``exc`` once and say how to answer it: a dependency down right now is one warning
    line and 503 ``unavailable`` with ``Retry-After``; anything else is a bug, logged with its
    traceback, and 500 ``internal_error``."""
    where = f"{scope.get('method', '')} {route_of(scope)}"
    down = dependency_down(exc)
    if down is not None:
        log.warning("%s: the %s is unavailable: %s", where, down, describe(exc))
        return Failure(
            503,
            "unavailable",
            f"The service is unavailable right now (its {down} does not answer); "
            f"try again in {RETRY_AFTER_SECONDS} seconds.",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("%s: unexpected error", where, exc_info=exc)
    return Failure(500, "internal_error", "Something went wrong on our side.", {})


class FailuresAnswered:
    """Answers a request whose handling raised, so the client always gets a response and its
    keep-alive connection stays open. Starlette's own last resort (``ServerErrorMiddleware``)
    answers but then re-raises to the server, which logs a traceback and closes the connection
    without a word: the client's next request on it failed. ``api.app`` puts this inside the
    access log, which so logs the status answered. A response already under way cannot be
    replaced: that exception goes on up (the server cuts the connection, the only honest end);
    one raised after the whole response left is only logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def watch(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started and not finished:
                raise
            failure = failure_of(exc, scope)
            if not started:
                answer = error_response(
                    failure.status, failure.code, failure.message, headers=failure.headers
                )
                await answer(scope, receive, send)


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with :class:`ErrorBody`;
    a 429 and a 503 say they carry ``Retry-After``."""
    return {
        status: {"model": ErrorBody, **({"headers": RETRY_AFTER} if status in (429, 503) else {})}
        for status in statuses
    }


#: The one route that never answers 503: the liveness probe waits on nothing.
NEVER_UNAVAILABLE = frozenset({"/healthz"})


def _document_errors(app: FastAPI) -> None:
    """FastAPI documents a 422 of its own shape (``HTTPValidationError``) on every route with
    parameters; the handler above answers with :class:`ErrorBody`, so the document says that.
    It also says what any route may answer beyond its own refusals: 413 where it takes a body,
    and 503 ``unavailable`` with ``Retry-After`` (:class:`FailuresAnswered`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if fresh and "ErrorBody" in schemas:
            error_body = {"application/json": {"schema": {"$ref": _REF + "ErrorBody"}}}
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault(
                            "413",
                            {
                                "description": "The body is larger than the server accepts",
                                "content": error_body,
                            },
                        )
                    if path not in NEVER_UNAVAILABLE:
                        operation["responses"].setdefault(
                            "503",
                            {
                                "description": "A dependency (the database, or the broker "
                                "where the route needs it) is down right now",
                                "headers": RETRY_AFTER,
                                "content": error_body,
                            },
                        )
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {}).get("application/json", {})
                        if content.get("schema") == {"$ref": _REF + "HTTPValidationError"}:
                            content["schema"] = {"$ref": _REF + "ErrorBody"}
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_REF = "#/components/schemas/"

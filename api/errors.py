"""Every error leaves with docs/api.md's body ``{"error": {"code", "message"}}``, never as an
HTML page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    _document_validation_errors(app)

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

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "Something went wrong on our side.")


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with :class:`ErrorBody`;
    a 429 says it carries ``Retry-After``."""
    return {
        status: {"model": ErrorBody, **({"headers": RETRY_AFTER} if status in (429, 503) else {})}
        for status in statuses
    }


def _document_validation_errors(app: FastAPI) -> None:
    """FastAPI documents a 422 of its own shape (``HTTPValidationError``) on every route with
    parameters; the handler above answers with :class:`ErrorBody`, so the document says that."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if fresh and "ErrorBody" in schemas:
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault(
                            "413",
                            {
                                "description": "The body is larger than the server accepts",
                                "content": {
                                    "application/json": {"schema": {"$ref": _REF + "ErrorBody"}}
                                },
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

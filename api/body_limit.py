"""What is refused before any route sees it: request bodies above a size (413
``body_too_large``, at once when ``Content-Length`` says so, else as soon as the bytes received
pass the limit), and addresses that hold a NUL (404: no id holds one, and PostgreSQL would
refuse it in a query)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BODY_TOO_LARGE, body_too_large, error_response


class BodyTooLarge(HTTPException):
    """Raised while the body is read: the app's error handler answers it as JSON."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=BODY_TOO_LARGE)


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, per_path: Mapping[str, int]) -> None:
        self.app = app
        self.limit = limit
        self.per_path = dict(per_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.limit)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await body_too_large()(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, counted, send)


class NoNulInPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\x00" in scope["path"]:
            answer = error_response(404, "not_found", "No such resource.")
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

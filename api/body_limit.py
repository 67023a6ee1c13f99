"""Request bodies above a size are refused with 413 ``body_too_large`` before they are parsed:
at once when ``Content-Length`` says so (the body is never read), and as soon as the bytes
received pass the limit when it does not (a chunked upload)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BODY_TOO_LARGE, body_too_large


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
        if declared.isdigit() and int(declared) > limit:
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

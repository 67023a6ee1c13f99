"""docs/api.md's error contract, asserted the same way by every tier that speaks HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx

SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` with body ``{"error": {"code", "message"}}`` (a snake_case
    code, a non-empty message; other fields may be added) and, if given, this ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message"} <= set(error), body
    assert isinstance(error["code"], str) and SNAKE_CASE.fullmatch(error["code"]), body
    assert isinstance(error["message"], str) and error["message"].strip(), body
    if code is not None:
        assert error["code"] == code, body
    return error

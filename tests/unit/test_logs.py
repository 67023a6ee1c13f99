"""The two log formats (``infra.logs``): what a line says, and the request id it carries."""

from __future__ import annotations

import json
import logging

from infra.logs import JsonFormatter, RequestIdFilter, TextFormatter, request_id


def record(
    message: str, *, exc: BaseException | None = None, request: str | None = None
) -> logging.LogRecord:
    """A record as the filter leaves it, logged while handling ``request`` (None: no request)."""
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    made = logging.LogRecord("teamkeys.jobs", logging.ERROR, __file__, 1, message, (), exc_info)
    token = request_id.set(request)
    try:
        RequestIdFilter().filter(made)
    finally:
        request_id.reset(token)
    return made


def failure() -> BaseException:
    try:
        raise ValueError("the template does not render")
    except ValueError as exc:
        return exc


def test_a_json_line_is_one_object_with_the_request_id_and_the_traceback_as_a_string() -> None:
    line = JsonFormatter().format(record("job failed", exc=failure(), request="req-42"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["time"].endswith("+00:00")
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "ERROR",
        "teamkeys.jobs",
        "job failed",
    )
    assert entry["request_id"] == "req-42"
    assert (
        entry["exc_info"].startswith("Traceback")
        and "the template does not render" in (entry["exc_info"])
    )


def test_a_line_outside_any_request_has_no_request_id() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(record("relay pass")))
    assert "request_id" not in TextFormatter().format(record("relay pass"))


def test_a_text_line_ends_with_its_request_id_above_its_traceback() -> None:
    text = TextFormatter().format(record("job failed", exc=failure(), request="req-42"))
    first, _, rest = text.partition("\n")
    assert first.endswith("ERROR   teamkeys.jobs: job failed request_id=req-42")
    assert rest.startswith("Traceback")

"""Log lines that say what happened: time, level, where, message, and the request it belongs to.

Every process (web, worker, scheduler, dev) logs through :func:`configure_logging`, in one of two
formats (``TEAMKEYS_LOG_FORMAT``): ``text`` for people, ``json`` (one object a line) for log
collectors. uvicorn's and Dramatiq's loggers are sent here too, so one process never mixes
formats.

The request id (``X-Request-ID``, or one made by ``api.access_log``) lives in :data:`request_id`
while a request is served, and while a job that request caused runs (``workers.runner``); every
line logged meanwhile carries it.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

#: The id of the request being served, or of the request that caused the job being run.
request_id: ContextVar[str | None] = ContextVar("teamkeys_request_id", default=None)

_TEXT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` (``None`` when no request or job is known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, then ``request_id=…`` when the line belongs to one."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = getattr(record, "request_id", None)
        if known is None:
            return line
        first, newline, rest = line.partition("\n")  # a traceback stays below its line
        return f"{first} request_id={known}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    and when known ``request_id``; a traceback as the string ``exc_info``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        known = getattr(record, "request_id", None)
        if known is not None:
            entry["request_id"] = known
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_handler(log_format: LogFormat = "text") -> logging.Handler:
    """A handler writing to standard error in ``log_format``, request ids added."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(
    level: str = "INFO", log_format: LogFormat = "text", *, force: bool = False
) -> None:
    """The root logger writes every line, ours and our libraries', to standard error in one
    format, unless it has handlers already (a test's); ``force`` replaces them (a Dramatiq
    worker process, which Dramatiq's CLI may have given its own)."""
    logging.basicConfig(level=level.upper(), handlers=[log_handler(log_format)], force=force)
    for noisy in ("mail.log", "aiosmtplib", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

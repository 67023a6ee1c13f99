"""What ``dramatiq teamkeys.entrypoint`` imports: builds the runtime from settings and makes its
broker Dramatiq's global one, with every actor bound to it. Import it only in a worker.

Each Dramatiq worker process imports it, so each checks the settings as ``teamkeys worker``
does before it starts Dramatiq: a bad or missing setting is one line per problem on standard
error and exit status 1 (Dramatiq then stops the other processes and exits 1), no traceback."""

from __future__ import annotations

import sys

import dramatiq

from infra.logs import configure_logging
from infra.settings import InvalidSettings, Settings, get_settings
from teamkeys.runtime import build_runtime


def checked_settings() -> Settings:
    try:
        settings = get_settings()
    except InvalidSettings as exc:
        problems = exc.problems
    else:
        problems = settings.production_problems()
        if not problems:
            return settings
    for problem in problems:
        print(f"teamkeys worker: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(1)


settings = checked_settings()
configure_logging(settings.log_level)
runtime = build_runtime(settings, with_workers=True)
dramatiq.set_broker(runtime.broker)
broker = runtime.broker

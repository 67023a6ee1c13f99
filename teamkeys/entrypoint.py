"""What ``dramatiq teamkeys.entrypoint`` imports: builds the runtime from settings and makes its
broker Dramatiq's global one, with every actor bound to it. Import it only in a worker.

Each Dramatiq worker process imports it, so each checks the settings as ``teamkeys worker``
does before it starts Dramatiq: a bad or missing setting is one line per problem on standard
error and exit status 1 (Dramatiq then stops the other processes and exits 1), no traceback."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import dramatiq

from infra.logs import configure_logging
from infra.settings import InvalidSettings, Settings, get_settings
from teamkeys.cli import require_production
from teamkeys.runtime import build_runtime


def act_on_first_sigterm_only() -> None:
    """Dramatiq's worker process stops gracefully on its first SIGTERM and kills itself on the
    second. A group kill (honcho, systemd's default KillMode=control-group) sends SIGTERM to
    every process of the group, and Dramatiq's main process forwards its own: each worker
    process got two at once and died mid-job. Dramatiq installs its handler before it imports
    this module in the worker process; wrapped here, only the first SIGTERM counts: running
    jobs finish (up to ``--worker-shutdown-timeout``, TEAMKEYS_STOP_GRACE_SECONDS), prefetched
    messages go back to the broker, and the process exits 0. SIGKILL still stops it at once."""
    if threading.current_thread() is not threading.main_thread():
        return
    dramatiqs = signal.getsignal(signal.SIGTERM)
    if not callable(dramatiqs) or getattr(dramatiqs, "__module__", None) != "dramatiq.cli":
        return  # not in a worker process of Dramatiq's CLI
    seen = False

    def first_only(signum: int, frame: FrameType | None) -> None:
        nonlocal seen
        if not seen:
            seen = True
            dramatiqs(signum, frame)

    signal.signal(signal.SIGTERM, first_only)


def checked_settings() -> Settings:
    """The settings, checked as ``teamkeys worker`` checks them (this module also runs under
    ``dramatiq teamkeys.entrypoint`` alone): one line per problem, then exit 1."""
    try:
        settings = get_settings()
    except InvalidSettings as exc:
        for problem in exc.problems:
            print(f"teamkeys worker: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    require_production(settings, "worker")
    return settings


act_on_first_sigterm_only()
settings = checked_settings()
configure_logging(settings.log_level, settings.log_format, force=True)
runtime = build_runtime(settings, with_workers=True)
dramatiq.set_broker(runtime.broker)
broker = runtime.broker

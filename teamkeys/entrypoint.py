"""What ``dramatiq teamkeys.entrypoint`` imports: builds the runtime from settings and makes its
broker Dramatiq's global one, with every actor bound to it. Import it only in a worker."""

from __future__ import annotations

import dramatiq

from infra.logs import configure_logging
from infra.settings import get_settings
from teamkeys.runtime import build_runtime

settings = get_settings()
configure_logging(settings.log_level, settings.log_format, force=True)
runtime = build_runtime(settings, with_workers=True)
dramatiq.set_broker(runtime.broker)
broker = runtime.broker

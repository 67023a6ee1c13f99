"""Log lines that say what happened: time, level, where, message."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    for noisy in ("mail.log", "aiosmtplib", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

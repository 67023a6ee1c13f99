"""Where the processes of one command count their metrics together (``infra.metrics``). Apart
from ``infra.metrics`` because it must run before ``prometheus_client`` is imported: the
library reads ``PROMETHEUS_MULTIPROC_DIR`` once, at import."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path


def use_multiprocess_directory(name: str) -> Path:
    """Make every process started from here on count into one directory, emptied now (the
    counts of a previous run are not this run's), and return it."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its directory was chosen")
    directory = Path(tempfile.gettempdir()) / f"teamkeys-metrics-{name}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory

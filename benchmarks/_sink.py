"""The SMTP sink in a process of its own, so it competes with neither side for this process's
GIL. Prints its port, then answers every line on standard input with the count of messages.

    python -m benchmarks._sink [--delay-ms N]

With ``--delay-ms``, each message is answered N ms after its DATA, as a mail relay that takes
a while per message does (the latency mode of benchmarks.invitation_pipeline).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from infra.mailsink import MailSink


class SlowSink(MailSink):
    """Keeps every message, as MailSink does, after waiting ``delay`` seconds on each."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def answer_data(self, server: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().answer_data(server, envelope)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    sink = SlowSink(args.delay_ms / 1000) if args.delay_ms > 0 else MailSink()
    with sink:
        print(sink.port, flush=True)
        for _ in sys.stdin:
            print(sink.count(lambda _message: True), flush=True)


if __name__ == "__main__":
    main()

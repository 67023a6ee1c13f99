"""The SMTP sink in a process of its own, so it competes with neither side for this process's
GIL. Prints its port, then answers every line on standard input with the count of messages."""

from __future__ import annotations

import sys

from infra.mailsink import MailSink


def main() -> None:
    with MailSink() as sink:
        print(sink.port, flush=True)
        for _ in sys.stdin:
            print(sink.count(lambda _message: True), flush=True)


if __name__ == "__main__":
    main()

"""An app served by uvicorn in a thread of this process, on a loopback port: how `teamkeys demo`
serves the API it drives, and how the tests serve theirs."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    """``app`` under uvicorn on a port of 127.0.0.1 the OS chose, in a daemon thread.

    The socket is bound here, before the thread starts, so no other process can take the port
    in between. It is made with ``IPPROTO_TCP`` named: asyncio turns Nagle's algorithm off only
    for such sockets, and without that every answer waits for the client's delayed ACK (about
    40 ms on Linux)."""

    def __init__(self, app: Any, *, what: str, thread_name: str) -> None:
        #: Who did not start, in the error :meth:`start` raises.
        self.what = what
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", log_config=None, lifespan="off", proxy_headers=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name=thread_name,
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Serve; back once uvicorn is listening. RuntimeError if it did not start."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.what} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

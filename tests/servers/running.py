"""Serve an ASGI app over real HTTP on 127.0.0.1 for the duration of a ``with`` block.

The conformance suite talks HTTP, so its tests need real servers; many are started one after
another in a single pytest session, hence a pre-bound ephemeral port (no races over "free"
ports), a bounded start-up wait and a bounded shutdown.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class ServerStartError(RuntimeError):
    """The server did not accept connections in time (or its thread died)."""


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def serve_app(app: Any, *, start_timeout: float = START_TIMEOUT_S) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread; yield ``http://127.0.0.1:PORT``.

    The socket is bound here, before the thread starts, so the port is known at once and
    cannot be taken by another process in between.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # uvicorn sets TCP_NODELAY only on sockets it binds itself; accepted sockets inherit it from
    # this one. Without it every keep-alive reply waits ~40 ms for a delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=int(STOP_TIMEOUT_S))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not (server.started and _accepts_connections(port)):
            if not thread.is_alive():
                raise ServerStartError(f"uvicorn exited before serving on 127.0.0.1:{port}")
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"uvicorn did not accept connections on 127.0.0.1:{port} within {start_timeout:g} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S + 1)
        sock.close()

"""Serve an ASGI app over real HTTP on 127.0.0.1 for the duration of a ``with`` block.

The conformance suite talks HTTP, so its tests need real servers; many are started one after
another in a single pytest session, hence a pre-bound ephemeral port (no races over "free"
ports), a bounded start-up wait and a bounded shutdown.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from tests.servers.tls import TlsFiles

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
def serve_app(app: Any, *, start_timeout: float = START_TIMEOUT_S, tls: TlsFiles | None = None,
              require_client_cert: bool = False) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread; yield ``http://127.0.0.1:PORT`` (``https://`` with ``tls``).

    The socket is bound here, before the thread starts, so the port is known at once and
    cannot be taken by another process in between.

    With ``tls`` (see :func:`tests.servers.tls.make_tls_files`) uvicorn serves HTTPS with the server
    certificate and ``https://127.0.0.1:PORT`` is yielded; ``require_client_cert`` makes it refuse
    the handshake of a client without a certificate signed by ``tls.ca``. The readiness check is a
    plain TCP connect, which works for both.
    """
    if require_client_cert and tls is None:
        raise ValueError("require_client_cert needs tls")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # uvicorn sets TCP_NODELAY only on sockets it binds itself; accepted sockets inherit it from
    # this one. Without it every keep-alive reply waits ~40 ms for a delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = sock.getsockname()[1]
    tls_options: dict[str, Any] = {}
    if tls is not None:
        tls_options = {"ssl_certfile": str(tls.server_cert), "ssl_keyfile": str(tls.server_key)}
        if require_client_cert:
            tls_options |= {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(tls.ca)}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=int(STOP_TIMEOUT_S), **tls_options)
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
        yield f"{'https' if tls is not None else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        deadline = time.monotonic() + STOP_TIMEOUT_S + 1
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.1)
            if thread.is_alive():
                _drop_closed_tls_connections(server)
        sock.close()


def _drop_closed_tls_connections(server: uvicorn.Server) -> None:
    """Drop the connections the server has closed but still waits on.

    Over TLS uvicorn's close of an idle keep-alive connection is asyncio's TLS shutdown, which
    waits (up to 30 s) for the client's close_notify; a client that keeps its connection open
    without reading (a response object still referenced, a session not yet closed) never sends
    it, and the server thread would outlive the ``with`` block by the whole graceful timeout.
    Only transports already closing are aborted: a request still in flight finishes as before.
    """
    if not server.servers:
        return
    loop = server.servers[0].get_loop()

    def abort() -> None:
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and transport.is_closing():
                transport.abort()

    with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing left to drop
        loop.call_soon_threadsafe(abort)

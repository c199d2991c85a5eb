"""Servers that misbehave at the transport level, for proving the suite never hangs or crashes.

Each is a raw-socket server on 127.0.0.1 (no framework would let us send these bytes): it reads
a request head and then does one bad thing. All of them stop promptly when their context exits,
however a client left the connection.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Behaviour = Callable[["_Handler", bytes], None]
MAX_HEAD = 64 * 1024


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.requests_seen = 0
        self.completed_sends = 0  # endless or huge bodies a client read to their very end
        super().__init__(address, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.request.settimeout(5)
        while not self.server.stopping.is_set():
            head = self._read_head()
            if head is None:
                return
            self.server.requests_seen += 1
            try:
                self.server.behaviour(self, head)
            except OSError:
                return

    def _read_head(self) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
            try:
                chunk = self.request.recv(4096)
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def send(self, data: bytes) -> None:
        self.request.sendall(data)

    def wait(self, seconds: float) -> bool:
        """Sleep, but wake when the server stops; True if it is stopping."""
        return self.server.stopping.wait(seconds)

    def path(self, head: bytes) -> str:
        return head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else "/"


def _reply(status: str, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n{extra}\r\n").encode() + body


def accept_then_hang(handler: _Handler, head: bytes) -> None:
    handler.wait(120)
    raise OSError("stopped")


def slow_drip(handler: _Handler, head: bytes) -> None:
    handler.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n")
    for _ in range(120):
        handler.send(b" ")
        if handler.wait(1):
            break
    raise OSError("stopped")


def reset_mid_body(handler: _Handler, head: bytes) -> None:
    handler.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"plan\":")
    handler.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.request.close()
    raise OSError("reset")


def non_json_body(handler: _Handler, head: bytes) -> None:
    handler.send(_reply("200 OK", b"<html><body>Welcome to nginx!</body></html>"))


def fifty_megabytes(handler: _Handler, head: bytes) -> None:
    size = 50 * 1024 * 1024
    handler.send(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode())
    chunk = b"[" + b"1," * 32767 + b"1"
    sent = 0
    while sent < size and not handler.server.stopping.is_set():
        piece = chunk[: size - sent]
        handler.send(piece)
        sent += len(piece)
    if sent >= size:
        handler.server.completed_sends += 1


def endless_chunked(handler: _Handler, head: bytes) -> None:
    handler.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"
    for _ in range(10**6):
        if handler.server.stopping.is_set():
            break
        handler.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    else:
        handler.server.completed_sends += 1
    raise OSError("stopped")


def redirect_loop(handler: _Handler, head: bytes) -> None:
    handler.send(_reply("302 Found", b"", extra=f"Location: {handler.path(head)}\r\n"))


def html_error_pages(handler: _Handler, head: bytes) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    handler.send(_reply("502 Bad Gateway", page, "text/html"))


def empty_200(handler: _Handler, head: bytes) -> None:
    handler.send(_reply("200 OK", b""))


def redirect_to(target: str) -> Behaviour:
    """Redirect every request to ``target`` + its path (another host: must not be followed)."""
    def behaviour(handler: _Handler, head: bytes) -> None:
        handler.send(_reply("307 Temporary Redirect", b"", extra=f"Location: {target}{handler.path(head)}\r\n"))
    return behaviour


def answer_ok(handler: _Handler, head: bytes) -> None:
    handler.send(_reply("200 OK", b"{}"))


BEHAVIOURS: dict[str, Behaviour] = {
    "accept-then-hang": accept_then_hang,
    "slow-drip": slow_drip,
    "reset-mid-body": reset_mid_body,
    "non-json-body": non_json_body,
    "fifty-megabytes": fifty_megabytes,
    "endless-chunked": endless_chunked,
    "redirect-loop": redirect_loop,
    "html-error-pages": html_error_pages,
    "empty-200": empty_200,
}


@dataclass
class RunningServer:
    base_url: str
    server: _Server

    @property
    def requests_seen(self) -> int:
        return self.server.requests_seen

    @property
    def completed_sends(self) -> int:
        return self.server.completed_sends


@contextlib.contextmanager
def serve_hostile(behaviour: Behaviour, host: str = "127.0.0.1") -> Iterator[RunningServer]:
    server = _Server((host, 0), behaviour)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningServer(f"http://{host}:{server.server_address[1]}", server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused_url() -> str:
    """A 127.0.0.1 URL where nothing listens (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

"""Proxy mode: forward to a real server; its replies are judged by the one judge.

``crosmos-mock --upstream URL`` puts the mock between a frontend and a real backend. ``forward``
is the pipeline's producer in this mode (:mod:`mockserver.produce.dispatch`); the output stage judges
each reply exactly as the conformance suite judges a server (:mod:`crosmos_contract.judge`:
openapi-core for the schema, the rules for a usage body's meaning, and what the request implies:
an invalid date must get 422, no credentials must not get data). Violations go to the journal, a
warning log line and an ``X-Mock-Violations`` header; with ``--strict`` the client gets a 502
problem+json listing them instead of the faulty reply. A request that itself breaks the contract
is recorded, not blocked: the upstream's answer to it is what is judged.
"""

from __future__ import annotations

import http.client
import logging
import select
import socket
import ssl
import threading
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
from flask import Request, Response

from mockserver.contract import replies

log = logging.getLogger("mockserver.proxy")  # the name its log lines have always carried
MAX_BODY = 10 * 1024 * 1024
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
_NOT_KEPT = _HOP_BY_HOP | {"content-encoding"}  # the body was decoded
_CLOSED_UNDER_US = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)  # a kept-alive reuse
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})  # safe to send twice (RFC 9110)
_NOT_FORWARDED_BACK = {"date", "server"}  # our server states its own


def parse_upstream(text: str) -> str:
    """An ``http(s)://host[:port][/base]`` URL without query; ValueError otherwise."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an upstream URL; use e.g. http://127.0.0.1:8000")
    return text.strip().rstrip("/")


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def content_type(self) -> str:
        return next((value for name, value in self.headers if name.lower() == "content-type"), "")

    def to_response(self) -> Response:
        response = Response(self.body, status=self.status)
        response.headers.clear()
        for name, value in self.headers:
            if name.lower() not in _NOT_FORWARDED_BACK:
                response.headers.add(name, value)
        response.headers["Content-Length"] = str(len(self.body))  # what is sent (HEAD, 204, 304: werkzeug's to fix)
        return response


class UpstreamError(Exception):
    def __init__(self, kind: str, title: str, detail: str, status: int = 502) -> None:
        super().__init__(detail)
        self.kind, self.title, self.detail, self.status = kind, title, detail, status

    def to_response(self) -> Response:
        return replies.problem(self.kind, self.title, self.status, self.detail)

    @classmethod
    def unreachable(cls, upstream: str, error: BaseException) -> UpstreamError:
        return cls("upstream-unreachable", "The upstream cannot be reached", f"{upstream}: {_cause_name(error)}")

    @classmethod
    def timeout(cls, detail: str) -> UpstreamError:
        return cls("upstream-timeout", "The upstream did not answer in time", detail, 504)

    @classmethod
    def too_large(cls, detail: str) -> UpstreamError:
        return cls("upstream-too-large", "The upstream's reply is too large", detail)

    @classmethod
    def broken(cls, detail: str) -> UpstreamError:
        return cls("upstream-broken-reply", "The upstream's reply broke off", detail)


class Proxy:
    """Forwards over one kept-alive ``http.client`` connection per worker thread.

    A round trip through http.client costs about 115 µs of CPU here, through urllib3's pool 290 µs
    and through requests more (``docs/performance.md``, "Proxy mode"): in proxy mode that is most of
    what the mock spends per reply. What the pools did that matters is done here: a connection the
    upstream closed while idle is noticed before it is reused (and a request that meets one closing
    under it is sent once more, on a new connection), gzip and deflate bodies are decoded, and the
    connect and read timeouts are kept apart.
    """

    def __init__(self, upstream: str, strict: bool = False, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        self.upstream = parse_upstream(upstream)
        self.strict = strict
        self.timeout = timeout
        parts = urlsplit(self.upstream)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._base = parts.path.rstrip("/")
        self._tls = ssl.create_default_context(cafile=certifi.where()) if self._https else None
        self._local = threading.local()

    def forward(self, request: Request) -> UpstreamReply:
        """Send ``request`` on to the upstream; UpstreamError when it cannot be reached or misbehaves."""
        target = self._base + request.path + (f"?{request.query_string.decode('latin-1')}"
                                              if request.query_string else "")
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote_addr or ""
        body = request.get_data() or None
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                connection.request(request.method, target, body=body, headers=headers)
                reply = connection.getresponse()
            except TimeoutError:
                self._drop()
                raise UpstreamError.timeout(f"no answer from {self.upstream} within {self.timeout[1]:.0f}s") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                closed_under_us = isinstance(exc, _CLOSED_UNDER_US)
                if closed_under_us and reused and attempt == 1 and request.method in _IDEMPOTENT:
                    continue  # the upstream closed a kept-alive connection as we used it: once more, anew
                raise UpstreamError.unreachable(self.upstream, exc) from None
            return self._read(reply)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _read(self, reply: http.client.HTTPResponse) -> UpstreamReply:
        try:
            data = reply.read(MAX_BODY + 1)
            if len(data) > MAX_BODY:
                self._drop()  # the rest is still on the wire
                raise UpstreamError.too_large(f"more than {MAX_BODY // 1024 // 1024} MiB")
            if reply.length:  # read(n) returns what came before the connection closed, owing the rest
                raise http.client.IncompleteRead(data, reply.length)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise UpstreamError.broken(f"{self.upstream}: {_cause_name(exc)}") from None
        if reply.will_close:
            self._drop()
        headers = reply.getheaders()
        encoding = next((value.strip().lower() for name, value in headers if name.lower() == "content-encoding"), "")
        decoded = _decoded(data, encoding, self.upstream)
        dropped = _NOT_KEPT if decoded is not data else _HOP_BY_HOP  # an encoding we cannot read stays named
        return UpstreamReply(reply.status, [(n, v) for n, v in headers if n.lower() not in dropped], decoded)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the upstream, and whether it served a request before."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None and not _closed_by_peer(connection.sock):
            return connection, True
        self._drop()
        if self._tls is not None:
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout[0],
                                                     context=self._tls)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout[0])
        try:
            connection.connect()
        except TimeoutError:
            raise UpstreamError.timeout(f"no connection to {self.upstream} within {self.timeout[0]:.0f}s") from None
        except OSError as exc:
            raise UpstreamError.unreachable(self.upstream, exc) from None
        assert connection.sock is not None
        connection.sock.settimeout(self.timeout[1])
        self._local.connection = connection
        return connection, False

    def _drop(self) -> None:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection was closed by the upstream (readable with nothing to
    read), as urllib3 checks before it reuses one."""
    try:
        poller = select.poll()  # not select(): it fails on descriptors past 1024
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _decoded(data: bytes, encoding: str, upstream: str) -> bytes:
    """A gzip or deflate body decoded (at most ``MAX_BODY`` bytes of it); any other coding as received."""
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return data
    try:
        if encoding == "deflate":
            try:
                inflater = zlib.decompressobj()
                out = inflater.decompress(data, MAX_BODY + 1)
            except zlib.error:  # raw deflate, as some servers send it
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                out = inflater.decompress(data, MAX_BODY + 1)
        else:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = inflater.decompress(data, MAX_BODY + 1)
    except zlib.error:
        raise UpstreamError.broken(f"{upstream}: a {encoding} body that does not decode") from None
    if len(out) > MAX_BODY:
        raise UpstreamError.too_large(f"more than {MAX_BODY // 1024 // 1024} MiB once decoded")
    return out


def _cause_name(error: BaseException) -> str:
    """The failure's kind (``ConnectionError``, ``SSLError`` …), never its text, which may quote the URL."""
    if isinstance(error, ssl.SSLError):
        return "SSLError"
    if isinstance(error, ConnectionError | socket.gaierror | http.client.RemoteDisconnected):
        return "ConnectionError"
    return type(error).__name__

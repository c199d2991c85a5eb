"""Real HTTP intermediaries to put between the conformance suite and a server under test.

Servers are rarely certified bare: they sit behind API gateways (which throttle, demand a key,
mount the API under a stage prefix or add latency), behind TLS terminators, and clients reach them
through corporate forward proxies. These stdlib-only servers reproduce each of those on 127.0.0.1,
so tests can prove the suite certifies what sits behind them and names what they do.

Everything is bounded, as many are started in one pytest session: the listening socket is bound
to an ephemeral port before the serving thread starts, handler threads are daemons, upstream
calls and idle connections time out, and leaving the ``with`` block closes open keep-alive
connections and tunnels instead of waiting for clients to hang up.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlsplit

UPSTREAM_TIMEOUT_S = 10.0
"""Bound on connecting to upstream, on each read from it and on reading a whole reply."""
IDLE_TIMEOUT_S = 10.0
"""How long a client connection (or a CONNECT tunnel) may sit idle before it is closed."""
STOP_TIMEOUT_S = 5.0
MAX_BODY = 16 * 1024 * 1024
"""Largest request or upstream reply body relayed; beyond it the gateway answers 413 or 502."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""The only hosts an intermediary here ever connects to: tests must not reach the outside world."""

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
})
"""Headers that describe one connection, not the message (RFC 9110 §7.6.1); never relayed."""

NO_BODY_STATUSES = frozenset({204, 304})

MISSING_KEY = {"message": "Forbidden: missing gateway key"}
RATE_LIMITED = {"detail": "rate limited"}
NOT_FOUND = {"detail": "Not Found"}


class _BodyError(Exception):
    """A request body that cannot be read (too large, or malformed chunking)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class _Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class TokenBucket:
    """The throttle API gateways apply: ``burst`` requests at once, refilled at ``rate_per_s``.

    It starts full and is shared by all connections (clients that open a connection per request
    are throttled like those that keep one alive). ``clock`` is injectable for tests.
    """

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate_per_s)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Header names a ``Connection`` header declares hop-by-hop."""
    return {token.strip().lower() for name, value in headers if name.lower() == "connection"
            for token in value.split(",") if token.strip()}


def _end_to_end(headers: Iterable[tuple[str, str]], *, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``headers`` without hop-by-hop ones, ``Content-Length`` (recomputed) and ``drop``, in order."""
    pairs = list(headers)
    skip = HOP_BY_HOP | _connection_tokens(pairs) | {"content-length", "expect"} | {d.lower() for d in drop}
    return [(name, value) for name, value in pairs if name.lower() not in skip]


def _exchange(host: str, port: int, method: str, target: str, headers: list[tuple[str, str]],
              body: bytes | None, timeout: float) -> _Reply:
    """One request to upstream over a fresh connection, its reply read whole (redirects not followed).

    Headers go out exactly as given (http.client adds neither Host nor Accept-Encoding), plus a
    ``Content-Length`` when there is a body. Raises OSError / http.client.HTTPException / ValueError.
    """
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to connect to {host!r}: only loopback targets are allowed")
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        if not any(name.lower() == "host" for name, _ in headers):
            conn.putheader("Host", f"{host}:{port}")
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        data = bytearray()
        while chunk := response.read1(65536):
            data += chunk
            if len(data) > MAX_BODY:
                raise ValueError(f"upstream reply larger than {MAX_BODY} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError(f"upstream reply not read within {timeout:g} s")
        return _Reply(response.status, response.reason, response.getheaders(), bytes(data))
    finally:
        conn.close()


class _Server(ThreadingHTTPServer):
    """Bound to 127.0.0.1:0 on construction; knows its open connections so it can close them."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: Any,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.owner = owner
        self.ssl_context = ssl_context
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hang up or fail the TLS handshake (not the test's failure);
        anything else is a bug here and is printed as usual."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def track(self, sock: socket.socket) -> None:
        with self._open_lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(sock)

    def close_connections(self) -> None:
        """Wake every handler blocked on a keep-alive read or a tunnel so its thread ends now."""
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown, also for an SSLSocket (whose own shutdown would
                # drop its TLS state under the feet of the thread reading from it).
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextlib.contextmanager
def _running(server: _Server) -> Iterator[_Server]:
    """Serve in a daemon thread for the ``with`` block; stop within a bounded time."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"gateway-{server.port}", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(STOP_TIMEOUT_S)


class _Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 handling common to both intermediaries; subclasses ``handle_request``."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.ssl_context is not None:
            # Per connection in the handler thread, not on the listening socket: a handshake done
            # in accept() would let one slow client stall every other.
            self.request.settimeout(self.timeout)
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        self.server.track(self.request)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.request)
            if isinstance(self.request, ssl.SSLSocket):
                # socketserver closes the socket it accepted, which wrapping detached.
                self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output is for failures."""

    def handle_request(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.handle_request()

    def do_HEAD(self) -> None:
        self.handle_request()

    def do_OPTIONS(self) -> None:
        self.handle_request()

    def do_POST(self) -> None:
        self.handle_request()

    def do_PUT(self) -> None:
        self.handle_request()

    def do_DELETE(self) -> None:
        self.handle_request()

    def do_PATCH(self) -> None:
        self.handle_request()

    def do_TRACE(self) -> None:
        self.handle_request()

    def header_pairs(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in self.headers.items()]

    def read_body(self) -> bytes | None:
        """The request body (None when the request declares none), read before any answer so a
        refused request leaves the keep-alive connection in step."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        try:
            size = int(length)
        except ValueError:
            raise _BodyError(400, "invalid Content-Length") from None
        if size < 0:
            raise _BodyError(400, "invalid Content-Length")
        if size > MAX_BODY:
            raise _BodyError(413, "request body too large")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1026)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: dropped, as hop-by-hop framing
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise _BodyError(413, "request body too large")
            body += self.rfile.read(size)
            self.rfile.readline(3)

    def answer(self, status: int, body: bytes, content_type: str,
               headers: Iterable[tuple[str, str]] = (), *, close: bool = False) -> None:
        """A reply the intermediary makes itself (not relayed): Date, type, length, ``headers``."""
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer_json(self, status: int, payload: dict[str, Any], headers: Iterable[tuple[str, str]] = (),
                    *, close: bool = False) -> None:
        self.answer(status, json.dumps(payload).encode(), "application/json", headers, close=close)

    def relay(self, reply: _Reply) -> None:
        """Upstream's status line, headers (in order, names as spelt) and body, changed only where
        framing requires: hop-by-hop headers dropped and ``Content-Length`` recomputed in place
        (upstream's kept as is for HEAD and 304, where it describes a body not sent; appended when
        upstream chunked). No Server or Date of the intermediary's own is added."""
        self.send_response_only(reply.status, reply.reason)
        bodiless = reply.status in NO_BODY_STATUSES or reply.status < 200
        upstream_length = self.command == "HEAD" or reply.status == 304
        length_sent = bodiless or upstream_length
        drop = HOP_BY_HOP | _connection_tokens(reply.headers)
        for name, value in reply.headers:
            lowered = name.lower()
            if lowered == "content-length":
                if upstream_length:
                    self.send_header(name, value)
                elif not length_sent:
                    self.send_header(name, str(len(reply.body)))
                length_sent = True
            elif lowered not in drop:
                self.send_header(name, value)
        if not length_sent:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD" and not bodiless:
            self.wfile.write(reply.body)

    def fetch(self, host: str, port: int, target: str, headers: list[tuple[str, str]], body: bytes | None,
              timeout: float) -> _Reply | None:
        """Upstream's reply to this request, or None after answering 502 (504 on a timeout) itself."""
        try:
            return _exchange(host, port, self.command, target, headers, body, timeout)
        except TimeoutError as exc:
            self.answer_json(504, {"detail": f"upstream timed out: {exc}"}, close=True)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.answer_json(502, {"detail": f"bad gateway: {type(exc).__name__}: {exc}"}, close=True)
        return None


# --- reverse proxy (API gateway) -----------------------------------------------------------------


@dataclass
class Gateway:
    """A running reverse proxy: where to reach it and what it saw.

    ``requests`` and ``arrivals`` get one entry per request that reached the gateway (refused or
    not), in arrival order: (method, path with query as received, headers with lowercased names,
    repeated ones joined by ", ") and a ``time.monotonic()`` stamp. Counters: ``forwarded`` (relayed
    from upstream), ``refused_429`` (throttled), ``refused_403`` (no gateway key), ``refused_404``
    (outside the prefix). All are updated under one lock; read them once the requests are done.
    """

    url: str
    upstream: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    forwarded: int = 0
    refused_429: int = 0
    refused_403: int = 0
    refused_404: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _arrived(self, method: str, path: str, headers: list[tuple[str, str]]) -> None:
        lowered: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            lowered[key] = f"{lowered[key]}, {value}" if key in lowered else value
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.requests.append((method, path, lowered))

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)


@dataclass(frozen=True)
class _GatewayConfig:
    host: str
    port: int
    base_path: str
    delay: float
    bucket: TokenBucket | None
    retry_after: str | None
    required_header: tuple[str, str] | None
    path_prefix: str
    upstream_timeout: float


class _ReverseHandler(_Handler):
    config: ClassVar[_GatewayConfig]

    def handle_request(self) -> None:
        gateway: Gateway = self.server.owner
        config = self.config
        headers = self.header_pairs()
        gateway._arrived(self.command, self.path, headers)
        try:
            body = self.read_body()
        except _BodyError as exc:
            self.answer_json(exc.status, {"detail": exc.detail}, close=True)
            return
        target = self._route(config.path_prefix)
        if target is None:
            gateway._count("refused_404")
            self.answer_json(404, NOT_FOUND)
            return
        drop: tuple[str, ...] = ()
        if config.required_header is not None:
            name, value = config.required_header
            if value not in (self.headers.get_all(name) or []):
                gateway._count("refused_403")
                self.answer_json(403, MISSING_KEY)
                return
            drop = (name,)
        if config.bucket is not None and not config.bucket.take():
            gateway._count("refused_429")
            extra = [("Retry-After", config.retry_after)] if config.retry_after is not None else []
            self.answer_json(429, RATE_LIMITED, extra)
            return
        _sleep(config.delay)
        reply = self.fetch(config.host, config.port, config.base_path + target, _end_to_end(headers, drop=drop),
                           body, config.upstream_timeout)
        if reply is not None:
            gateway._count("forwarded")  # before the client can see the reply and read the count
            self.relay(reply)

    def _route(self, prefix: str) -> str | None:
        """The upstream path for this request, or None when it lies outside ``prefix``."""
        path = self.path
        if not path.startswith("/"):
            return None  # absolute-form: a reverse proxy is not a forward proxy
        if not prefix:
            return path
        if path == prefix or path.startswith((prefix + "/", prefix + "?")):
            rest = path[len(prefix):]
            return rest if rest.startswith("/") else "/" + rest
        return None


def _sleep(seconds: float) -> None:
    """Sleep at least ``seconds`` (measured on the monotonic clock)."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(remaining)


def _server_context(tls: Any) -> ssl.SSLContext:
    """A TLS server context from anything with ``server_cert`` and ``server_key`` paths."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls.server_cert), str(tls.server_key))
    return context


def _loopback_origin(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"upstream must be an http:// URL on 127.0.0.1 or localhost, not {url!r}")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/")


@contextlib.contextmanager
def reverse_proxy(
    upstream: str,
    *,
    delay: float = 0.0,
    rate_per_s: float | None = None,
    burst: int | None = None,
    retry_after: str | None = "1",
    required_header: tuple[str, str] | None = None,
    path_prefix: str = "",
    tls: Any | None = None,
    upstream_timeout: float = UPSTREAM_TIMEOUT_S,
) -> Iterator[Gateway]:
    """An API gateway in front of ``upstream`` (``http://127.0.0.1:PORT[/base]``) for the ``with`` block.

    It relays every request transparently (see :meth:`_Handler.relay`) after, in this order:
    404 outside ``path_prefix`` (e.g. ``"/staging"``, stripped before forwarding); 403
    ``{"message": "Forbidden: missing gateway key"}`` without ``required_header`` (name
    case-insensitive, value exact; stripped before forwarding); 429 ``{"detail": "rate limited"}``
    with ``Retry-After: retry_after`` (omitted if None) when the token bucket of ``rate_per_s``
    (capacity ``burst``, default ``max(1, round(rate_per_s))``) is empty; then ``delay`` seconds of
    latency. Refused requests never reach upstream. With ``tls`` (``.server_cert``/``.server_key``
    paths) it serves HTTPS. Upstream failures become 502, upstream timeouts 504.
    """
    host, port, base_path = _loopback_origin(upstream)
    if path_prefix and (not path_prefix.startswith("/") or path_prefix.endswith("/")):
        raise ValueError(f"path_prefix must start with '/' and not end with one: {path_prefix!r}")
    if delay < 0 or upstream_timeout <= 0:
        raise ValueError("delay must be >= 0 and upstream_timeout > 0")
    bucket = None
    if rate_per_s is not None:
        bucket = TokenBucket(rate_per_s, burst if burst is not None else max(1, round(rate_per_s)))
    config = _GatewayConfig(host, port, base_path, delay, bucket, retry_after, required_header, path_prefix,
                            upstream_timeout)
    handler = type("GatewayHandler", (_ReverseHandler,), {"config": config})
    context = _server_context(tls) if tls is not None else None
    gateway = Gateway(url="", upstream=upstream)
    server = _Server(handler, gateway, context)
    scheme = "https" if context is not None else "http"
    gateway.url = f"{scheme}://127.0.0.1:{server.port}{path_prefix}"
    with _running(server):
        yield gateway


# --- forward proxy ---------------------------------------------------------------------------------


@dataclass
class ForwardProxy:
    """A running forward proxy: ``url`` to put in ``proxies=``, ``seen`` = (method, target) of
    every request in arrival order (absolute URL, or ``host:port`` for CONNECT); ``tunnels`` counts
    CONNECT tunnels opened."""

    url: str
    refuse: bool = False
    seen: list[tuple[str, str]] = field(default_factory=list)
    tunnels: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _saw(self, method: str, target: str) -> None:
        with self._lock:
            self.seen.append((method, target))

    def _tunnelled(self) -> None:
        with self._lock:
            self.tunnels += 1


FORBIDDEN_BY_PROXY = b"Forbidden by proxy policy\n"


class _ForwardHandler(_Handler):
    def _refuse(self) -> None:
        self.answer(403, FORBIDDEN_BY_PROXY, "text/plain; charset=utf-8", close=True)

    def handle_request(self) -> None:
        proxy: ForwardProxy = self.server.owner
        proxy._saw(self.command, self.path)
        try:
            body = self.read_body()
        except _BodyError as exc:
            self.answer(exc.status, exc.detail.encode(), "text/plain; charset=utf-8", close=True)
            return
        if proxy.refuse:
            self._refuse()
            return
        parts = urlsplit(self.path)
        if parts.scheme != "http" or not parts.hostname:
            self.answer(400, b"a proxy needs an absolute http:// URL\n", "text/plain; charset=utf-8", close=True)
            return
        if parts.hostname not in LOOPBACK_HOSTS:
            self._refuse()
            return
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        reply = self.fetch(parts.hostname, parts.port or 80, target, _end_to_end(self.header_pairs()), body,
                           UPSTREAM_TIMEOUT_S)
        if reply is not None:
            self.relay(reply)

    def do_CONNECT(self) -> None:
        proxy: ForwardProxy = self.server.owner
        proxy._saw("CONNECT", self.path)
        host, _, port_text = self.path.rpartition(":")
        host = host.strip("[]")
        if proxy.refuse or host not in LOOPBACK_HOSTS or not port_text.isdigit():
            self._refuse()
            return
        try:
            upstream = socket.create_connection((host, int(port_text)), timeout=UPSTREAM_TIMEOUT_S)
        except OSError as exc:
            self.answer(502, f"cannot connect to {self.path}: {exc}\n".encode(), "text/plain; charset=utf-8",
                        close=True)
            return
        self.close_connection = True
        with upstream:
            proxy._tunnelled()
            self.send_response_only(200, "Connection Established")
            self.end_headers()
            early = self._buffered_bytes()
            if early:
                upstream.sendall(early)
            _tunnel(self.connection, upstream, self.server.stopping)

    def _buffered_bytes(self) -> bytes:
        """Bytes a client sent right after the CONNECT head, already in ``rfile``'s buffer."""
        self.connection.setblocking(False)
        try:
            return self.rfile.read1(65536) or b""
        except OSError:
            return b""
        finally:
            self.connection.settimeout(self.timeout)


def _tunnel(client: socket.socket, upstream: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes, the tunnel idles out or the proxy stops."""
    peer = {client: upstream, upstream: client}
    idle_since = time.monotonic()
    while not stopping.is_set():
        readable, _, _ = select.select(list(peer), [], [], 0.2)
        if not readable:
            if time.monotonic() - idle_since > IDLE_TIMEOUT_S:
                return
            continue
        for sock in readable:
            try:
                data = sock.recv(65536)
                if not data:
                    return
                peer[sock].sendall(data)
            except OSError:
                return
        idle_since = time.monotonic()


@contextlib.contextmanager
def forward_proxy(*, refuse: bool = False) -> Iterator[ForwardProxy]:
    """A corporate-style HTTP forward proxy for the ``with`` block: absolute-form requests are
    relayed, ``CONNECT host:port`` is tunnelled; only loopback targets (others get 403), and with
    ``refuse`` everything gets 403, as from a proxy whose policy blocks the target."""
    proxy = ForwardProxy(url="", refuse=refuse)
    server = _Server(_ForwardHandler, proxy)
    proxy.url = f"http://127.0.0.1:{server.port}"
    with _running(server):
        yield proxy


__all__ = [
    "IDLE_TIMEOUT_S",
    "LOOPBACK_HOSTS",
    "MAX_BODY",
    "UPSTREAM_TIMEOUT_S",
    "ForwardProxy",
    "Gateway",
    "TokenBucket",
    "forward_proxy",
    "reverse_proxy",
]

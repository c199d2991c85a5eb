"""Serve the mock with a production WSGI server (granian); :mod:`mockserver.serving.launch` starts it for tests.

Granian was chosen by measurement (``python -m bench.run --suite servers``, docs/performance.md):
its HTTP layer is Rust, so on this 2-core machine the mock serves about twice what gunicorn's
``gthread`` workers serve, with a lower p99. The app is built once, before any worker starts,
so a bad contract fails at once; workers are forked from it. Gunicorn stays available
(``ServerOptions(engine="gunicorn")``) for platforms without granian wheels and for comparison.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask

from mockserver.serving.tls import TlsSettings
from mockserver.serving.turns import WSGIApp

log = logging.getLogger("mockserver.server")  # the name its log lines have always carried
READY_LINE = "crosmos-mock listening on "
ENGINES = ("granian", "gunicorn")
# Ctrl-C and SIGTERM end the server within 2 s: a granian worker holding an idle keep-alive
# connection refuses to stop gracefully and was killed only after the 30 s default. A mock's
# requests take milliseconds, so one second of grace loses nothing a user would miss.
STOP_GRACE_S = 1
MAX_REQUEST_HEAD = 2 * 1024 * 1024  # the server's own cap; mockserver.serving.request_size answers JSON well below it


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 4010
    workers: int = 2
    threads: int = 4  # WSGI threads per worker (granian: blocking threads; gunicorn: gthread threads)
    timeout: int = 30  # seconds a worker may take to answer (gunicorn)
    engine: str = "granian"
    welcome: Callable[[str], str] | None = None  # the first screen's text after the address, given the URL
    on_worker_start: Callable[[], None] | None = None  # in each worker, after the fork (threads may start here)
    tls: TlsSettings | None = None  # serve HTTPS with this certificate (checked: mockserver.serving.tls)

    @property
    def scheme(self) -> str:
        return "http" if self.tls is None else "https"


class PortInUseError(OSError):
    pass


def check_port_free(host: str, port: int) -> None:
    """Fail early with a clear message instead of the server's own retries or tracebacks."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"{host}:{port} is already in use (choose another with --port)") from None
            raise PortInUseError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def pick_free_port(host: str) -> int:
    """A port free now, for ``--port 0``: granian's workers each bind the port (SO_REUSEPORT), so
    letting each pick its own would give every worker a different port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port




def buffered(app: WSGIApp) -> WSGIApp:
    """Hand granian one bytes object instead of an iterator it must step through from Rust.

    The mock's bodies are small JSON documents, already complete in memory. ``Connection:
    keep-alive`` is stated as gunicorn stated it (clients and tests read it; HTTP/1.1 implies it).
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("Connection", "keep-alive"))
            return start_response(status, headers, exc_info)

        body = app(environ, start)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi


def lean_wsgi_runner(callback: WSGIApp, scope_opts: dict[str, Any], access_log_fmt: str | None = None) -> Any:
    """granian's per-request WSGI call (``granian.wsgi._callback_wrapper``), without the process environment.

    granian starts every request's environ as a copy of ``os.environ`` (a CGI habit PEP 3333
    allows, no WSGI app here reads): dozens of entries copied per request, then walked by every
    layer that looks at the headers (the replay key, the size limits). This runner builds the
    environ from the WSGI keys and the request's scope only, and hands granian the body as one
    bytes object (what :func:`buffered` does for other callers). granian's own access log stays
    off (``log_access`` is never set): the mock writes its own, redacted.
    """
    if access_log_fmt:
        raise ValueError("the mock writes its own access log; granian's is not supported here")
    basic_env: dict[str, Any] = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": scope_opts.get("url_path_prefix") or "",
        "SERVER_SOFTWARE": "Granian", "wsgi.errors": sys.stderr, "wsgi.input_terminated": True,
        "wsgi.multiprocess": False, "wsgi.multithread": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    if basic_env["SCRIPT_NAME"]:
        raise ValueError("the mock is served at the root (no url_path_prefix)")
    app = buffered(callback)

    class Response:
        __slots__ = ("headers", "status")

        def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            self.status = int(status.split(" ", 1)[0])
            self.headers = headers

    def runner(proto: Any, scope: dict[str, Any]) -> int:
        response = Response()
        body = app(basic_env | scope, response)
        proto.response_bytes(response.status, response.headers, body[0])  # type: ignore[index]
        return response.status

    return runner


def _announce(host: str, port: int, welcome: Callable[[str], str] | None = None, scheme: str = "http") -> None:
    """The ready line first (tools wait for it), then what a person needs to start."""
    url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    print(f"{READY_LINE}{url}", flush=True)
    if welcome is not None:
        print(welcome(url), flush=True)


def _announce_when_accepting(host: str, port: int, welcome: Callable[[str], str] | None = None,
                             timeout: float = 30.0, scheme: str = "http") -> None:
    """Print ``READY_LINE`` once a worker accepts connections (granian binds in the workers).

    A TCP connect, for HTTPS too: the worker that accepts it is the one that serves TLS.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            _announce(host, port, welcome, scheme)
            return
        time.sleep(0.01)
    log.error("no worker accepted connections on %s:%d within %.0fs", host, port, timeout)


class ExpectedStopFilter(logging.Filter):
    """Drop granian's warning that it killed a worker at stop: with ``STOP_GRACE_S`` that is how a
    worker holding an idle keep-alive connection ends, not a fault worth a WARNING at every Ctrl-C."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "refused to gracefully stop" not in record.getMessage()


_GRANIAN_LOGGING = {
    "formatters": {"generic": {"()": "logging.Formatter", "fmt": "%(asctime)s %(levelname)s granian: %(message)s"}},
    "filters": {"expected_stop": {"()": "mockserver.serving.server.ExpectedStopFilter"}},
    "handlers": {"console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                             "filters": ["expected_stop"]}},
    "loggers": {"_granian": {"handlers": ["console"], "level": "WARNING", "propagate": False}},
}


def _serve_granian(app: Flask, options: ServerOptions) -> None:
    """Fork the workers from this process, then announce.

    No thread of ours may run while the workers are forked: a lock it holds at that instant
    stays held forever in the child. The announcing thread used to start before the fork; its
    ``socket.create_connection`` imports ``encodings.idna`` and a worker forked mid-import hung
    every request on that module lock (werkzeug encodes host names with idna).
    """
    from granian.constants import Interfaces, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import MPServer

    class AnnouncingServer(MPServer):
        """Announces the address once every worker is forked (see ``_serve_granian``)."""

        def startup(self, spawn_target: Any, target_loader: Any) -> None:
            super().startup(spawn_target, target_loader)  # type: ignore[no-untyped-call]
            threading.Thread(target=_announce_when_accepting, args=(options.host, port, options.welcome),
                             kwargs={"scheme": options.scheme}, daemon=True).start()

    port = options.port or pick_free_port(options.host)
    tls: dict[str, Any] = {}
    if options.tls is not None:  # TLS 1.2 and up, as curl and Python's ssl do (granian's default: 1.3 only)
        tls = {"ssl_cert": options.tls.cert, "ssl_key": options.tls.key, "ssl_protocol_min": SSLProtocols.tls12}
    server = AnnouncingServer(
        "mockserver.app:create_app",  # a label only: the loader below hands over the app built here
        address=options.host, port=port, interface=Interfaces.WSGI, workers=options.workers,
        blocking_threads=options.threads, http1_settings=HTTP1Settings(max_buffer_size=MAX_REQUEST_HEAD),
        log_level=LogLevels.warning, log_dictconfig=_GRANIAN_LOGGING, workers_kill_timeout=STOP_GRACE_S,
        respawn_failed_workers=True,  # as gunicorn does: a worker that dies is replaced, the server stays up
        **tls,
    )
    # Flask.__call__ only calls wsgi_app, whose layers are the app's (mockserver.app.guarded);
    # the bench serves bare WSGI apps too
    wsgi: WSGIApp = app.wsgi_app if isinstance(app, Flask) else app
    import granian.server.mp as granian_workers

    if hasattr(granian_workers, "_wsgi_call_wrap"):  # granian 2.8: the forked workers inherit the swap
        granian_workers._wsgi_call_wrap = lean_wsgi_runner  # it buffers the body itself
    else:  # another granian layout: its own runner, our buffering
        wsgi = buffered(wsgi)

    def load_in_worker(*_args: Any) -> WSGIApp:  # granian calls it in each forked worker
        if options.on_worker_start is not None:
            options.on_worker_start()
        return wsgi

    server.serve(target_loader=load_in_worker, wrap_loader=False)


def _serve_gunicorn(app: Flask, options: ServerOptions) -> None:
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def __init__(self, app: Flask, options: ServerOptions) -> None:
            self._app = app
            self._options = options
            super().__init__()

        def load_config(self) -> None:
            opts = self._options
            settings: dict[str, Any] = {
                "bind": [f"[{opts.host}]:{opts.port}" if ":" in opts.host else f"{opts.host}:{opts.port}"],
                "workers": opts.workers,
                "threads": opts.threads,
                "worker_class": "gthread",
                "timeout": opts.timeout,
                "keepalive": 5,
                "preload_app": True,
                "accesslog": None,  # the app logs one redacted line per request itself
                "loglevel": "warning",
                "limit_request_line": 0,  # unlimited here: mockserver.serving.request_size refuses with JSON
                "limit_request_field_size": 0,
                "when_ready": lambda server: _announce_gunicorn(server, opts.welcome, opts.scheme),
                "post_worker_init": lambda _worker: opts.on_worker_start() if opts.on_worker_start else None,
            }
            if opts.tls is not None:
                settings |= {"certfile": str(opts.tls.cert), "keyfile": str(opts.tls.key)}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return self._app

    _Gunicorn(app, options).run()


def _announce_gunicorn(server: Any, welcome: Callable[[str], str] | None, scheme: str = "http") -> None:
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        _announce(host, port, welcome, scheme)


def freeze_startup_objects() -> None:
    """Exempt everything built at start (contract, validators, libraries) from garbage collection.

    Those long-lived objects are never garbage, yet every full collection walks them all with
    the GIL held, a stall for every request in flight on that worker (the p99; figures in
    docs/performance.md). Frozen before the fork, they also stay in pages the workers share.
    The collection first walks only what is not frozen yet: the CLI freezes the imported modules'
    objects before building the app (:func:`imports_frozen`), so this is the app's, not all ~65k.
    """
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def imports_frozen() -> Iterator[None]:
    """Freeze what the imports made (modules, classes, functions: never garbage) for the block.

    The collection in :func:`freeze_startup_objects` then walks the ~2k objects the app adds
    instead of all ~65k (about 40 ms of a start, docs/performance.md). Unfrozen on the way out,
    so a process that calls the CLI in-process (tests) is left as it was.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def lean_log_records() -> None:
    """Stop filling log record fields that no format of the mock prints (caller, thread, process).

    The access log writes a line per request, and the stdlib computes these for every record
    unless told not to (the logging HOWTO's "Optimization" section): a stack walk to find the
    caller among them (its share of a request: docs/performance.md). The line itself is unchanged.
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # documented knob: no findCaller() per record


def serve(app: Flask, options: ServerOptions) -> None:
    """Run the production server in the foreground until SIGINT/SIGTERM."""
    check_port_free(options.host, options.port)
    if options.engine not in ENGINES:
        raise ValueError(f"unknown server engine {options.engine!r} (one of {', '.join(ENGINES)})")
    lean_log_records()
    freeze_startup_objects()
    if options.engine == "gunicorn":
        _serve_gunicorn(app, options)
    else:
        _serve_granian(app, options)

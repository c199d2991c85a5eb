"""Serve one app (the mock, or a bare WSGI "hello") under one named WSGI server configuration.

Used to choose the mock's production server by measurement: every candidate gets the same
process/thread budget, the same app object and the same logging, so only the server differs.
``python -m bench.variants --app mock --server granian --port 8000`` prints the mock's
``READY_LINE`` when it listens, like ``crosmos-mock`` does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from mockserver.serving.server import READY_LINE

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HELLO_BODY = b"Hello, World!"
SERVERS = ("production", "granian", "granian-st", "gunicorn", "gunicorn-sync", "waitress")
"""``production`` is ``mockserver.serving.server.serve`` as shipped; ``granian`` and ``gunicorn`` (gthread) are
its two engines with everything else equal; ``granian-st`` is granian with its single-threaded Rust
runtime per worker (an experiment); ``gunicorn-sync`` and ``waitress`` are configured here."""


def hello_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The practical ceiling: a WSGI callable that does nothing but answer."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO_BODY)))])
    return [HELLO_BODY]


def build_app(name: str, access_log: bool, **settings: Any) -> WSGIApp:
    """``settings`` override fields of ``MockSettings`` (the profile prices optional stages this way)."""
    if name == "hello":
        return hello_app
    if name == "flask-hello":
        from flask import Flask

        flask_app = Flask("hello")
        flask_app.add_url_rule("/<path:path>", "hello", lambda path: HELLO_BODY)
        return flask_app  # type: ignore[return-value]
    from mockserver.app import create_app
    from mockserver.settings import MockSettings

    return create_app(MockSettings(access_log=access_log, **settings))  # type: ignore[return-value]


def serve_gunicorn(app: WSGIApp, port: int, workers: int, threads: int, worker_class: str) -> None:
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {"bind": [f"127.0.0.1:{port}"], "workers": workers, "threads": threads,
                        "worker_class": worker_class, "keepalive": 5, "preload_app": True, "accesslog": None,
                        "loglevel": "warning", "when_ready": lambda _server: announce(port)}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return app

    _App().run()


def serve_waitress(app: WSGIApp, port: int, threads: int) -> None:
    import waitress

    announce(port)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def _single_threaded_granian_runtime() -> None:
    """Make the production path build granian servers with ``runtime_mode=st`` (fewer I/O threads)."""
    import granian.server as granian_server
    from granian.constants import RuntimeModes

    original = granian_server.MPServer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["runtime_mode"] = RuntimeModes.st
        original(self, *args, **kwargs)

    granian_server.MPServer.__init__ = init


def announce(port: int) -> None:
    print(f"{READY_LINE}http://127.0.0.1:{port}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=("mock", "hello", "flask-hello"), default="mock")
    parser.add_argument("--server", choices=SERVERS, default="production")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None, help="default: the production server's")
    parser.add_argument("--threads", type=int, default=None, help="default: the production server's")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval in seconds (GIL hand-over between a worker's threads)")
    args = parser.parse_args(argv)
    # The same logging the CLI sets up: one INFO line per request on stderr.
    from mockserver.store.access_log import configure_logging

    configure_logging("INFO")
    app = build_app(args.app, access_log=not args.no_access_log)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    from mockserver.serving.server import ServerOptions, serve

    defaults = ServerOptions()
    workers = args.workers or defaults.workers
    threads = args.threads or defaults.threads
    if args.server == "granian-st":
        _single_threaded_granian_runtime()
    if args.server in ("production", "granian", "granian-st", "gunicorn"):
        engine = defaults.engine if args.server == "production" else args.server.removesuffix("-st")
        serve(app, ServerOptions(port=args.port, workers=workers, threads=threads, engine=engine))  # type: ignore[arg-type]
    elif args.server == "gunicorn-sync":
        serve_gunicorn(app, args.port, workers, threads, "sync")
    else:
        serve_waitress(app, args.port, threads)


if __name__ == "__main__":
    main()

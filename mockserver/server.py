"""Serve the mock with a production WSGI server (gunicorn), and start it for tests and tools.

Gunicorn's ``gthread`` workers keep connections alive, which browsers and load tools rely on;
the app is built once in the master (``preload``) so a bad contract fails before any fork.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)
READY_LINE = "crosmos-mock listening on "


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 4010
    workers: int = 2
    threads: int = 4
    timeout: int = 30


class PortInUseError(OSError):
    pass


def check_port_free(host: str, port: int) -> None:
    """Fail early with a clear message instead of gunicorn's five retries."""
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
            "limit_request_line": 8190,
            "limit_request_field_size": 16380,
            "when_ready": _announce,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def _announce(server: Any) -> None:
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        print(f"{READY_LINE}http://{host}:{port}", flush=True)


def serve(app: Flask, options: ServerOptions) -> None:
    """Run gunicorn in the foreground until SIGINT/SIGTERM."""
    check_port_free(options.host, options.port)
    _Gunicorn(app, options).run()


@contextlib.contextmanager
def running_mock(seed: int = 0, spec: Path | None = None, extra_args: Sequence[str] = (),
                 workers: int = 1, threads: int = 4, timeout: float = 20.0) -> Iterator[str]:
    """Start ``crosmos-mock`` (the production server, as users start it) on a free 127.0.0.1 port.

    Yields its base URL; stops it on exit. Raises RuntimeError with the mock's own words if it
    does not come up within ``timeout`` seconds.
    """
    command = [sys.executable, "-m", "mockserver", "--port", "0", "--seed", str(seed),
               "--workers", str(workers), "--threads", str(threads), *extra_args]
    if spec is not None:
        command += ["--spec", str(spec)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        base_url = _wait_ready(process, timeout)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


def _wait_ready(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line.rstrip())
            match = re.search(re.escape(READY_LINE) + r"(\S+)", line)
            if match:
                os.set_blocking(process.stdout.fileno(), True)
                _drain_in_background(process)
                return match.group(1)
            continue
        if process.poll() is not None:
            break
        time.sleep(0.02)
    tail = " | ".join(seen[-5:]) or "no output"
    raise RuntimeError(f"the mock did not start within {timeout:.0f}s: {tail}")


def _drain_in_background(process: subprocess.Popen[str]) -> None:
    """Keep reading the mock's output so a full pipe never blocks it."""
    import threading

    def drain() -> None:
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for _ in process.stdout:
                pass

    threading.Thread(target=drain, daemon=True).start()

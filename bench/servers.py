"""The servers under test: how to start each on 127.0.0.1, know it serves, and stop it.

Every server runs in its own session (process group) so that stopping it stops its workers too,
and every wait is bounded. Readiness is "answers the benchmark request with 200", the same
definition the cold-start timing uses.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRISM_DIR = ROOT / "bench" / ".prism"
PRISM_VERSION = "5.16.0"
WIREMOCK_DIR = ROOT / "bench" / ".wiremock"  # npm's install folder (gitignored)
WIREMOCK_VERSION = "3.13.2"
WIREMOCK_ROOT = ROOT / "bench" / "wiremock"  # committed: mappings/usage.json (see bench/wiremock_mapping.py)
JAVA_PACKAGES = ("openjdk-17-jre-headless", "default-jre-headless")  # Debian's, in order of preference
CONTRACT = ROOT / "openapi.json"
USAGE_PATH = "/api/v1/usage"
TOKEN = "csk_bench_0123456789abcdef"  # an API key our mock accepts; Prism takes any non-empty token


@dataclass(frozen=True)
class ServerSpec:
    """A named server: ``command(port)`` starts it; ``url(port)`` is what wrk requests."""

    name: str
    description: str
    command: Callable[[int], list[str]]
    path: str = USAGE_PATH
    env: dict[str, str] = field(default_factory=dict)
    token: str = TOKEN
    cwd: Path = ROOT  # ``python -m`` imports from here first

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}{self.path}"

    def base_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def free_port() -> int:
    """A port the kernel considers free now (servers that take ``--port 0`` are not all alike)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def python_module(*args: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-m", *args, "--port", str(port)]


def prism_binary() -> Path:
    return PRISM_DIR / "node_modules" / ".bin" / "prism"


def npm_install(what: str, package: str, prefix: Path, wanted: Path) -> Path:
    """``wanted``, installing the pinned npm ``package`` under ``prefix`` (gitignored) when it is missing."""
    if wanted.exists():
        return wanted
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed to install {what} (Debian: apt-get install npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(prefix), package],
                   check=True, timeout=600)
    if not wanted.exists():
        raise RuntimeError(f"npm installed {package} but {wanted} is missing")
    return wanted


def ensure_prism() -> Path:
    """Prism from npm into bench/.prism (gitignored), pinned to the version the issue measured."""
    return npm_install("Prism", f"@stoplight/prism-cli@{PRISM_VERSION}", PRISM_DIR, prism_binary())


def prism(*flags: str) -> Callable[[int], list[str]]:
    return lambda port: [str(prism_binary()), "mock", str(CONTRACT), "-h", "127.0.0.1", "-p", str(port), *flags]


def wiremock_jar() -> Path:
    return WIREMOCK_DIR / "node_modules" / "wiremock" / "build" / f"wiremock-standalone-{WIREMOCK_VERSION}.jar"


def ensure_wiremock() -> Path:
    """WireMock's standalone jar, from the npm package ``wiremock`` (which bundles it) into bench/.wiremock."""
    return npm_install("WireMock", f"wiremock@{WIREMOCK_VERSION}", WIREMOCK_DIR, wiremock_jar())


def ensure_java() -> str:
    """``java``; a headless JRE from Debian packages when missing (17 if the mirror has it), as wrk is installed."""
    found = shutil.which("java")
    if found:
        return found
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300)
    for package in JAVA_PACKAGES:
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                              timeout=900, env=environment, check=False)
        found = shutil.which("java")
        if done.returncode == 0 and found:
            return found
    raise RuntimeError(f"java is not installed and apt-get could not install any of {', '.join(JAVA_PACKAGES)}")


def wiremock_command(port: int) -> list[str]:
    """WireMock standalone as the bench runs it: loopback only, the committed mappings, no journal, no logging."""
    java = shutil.which("java") or "java"
    return [java, "-jar", str(wiremock_jar()), "--port", str(port), "--bind-address", "127.0.0.1",
            "--root-dir", str(WIREMOCK_ROOT), "--no-request-journal", "--disable-request-logging",
            "--disable-banner"]


LOAD_SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec("mock", "crosmos-mock as users start it (validation, ledger, self-check, access log), "
                   "accepting only the bench token so that it can be certified (AUTH-003)",
                   lambda port: [*python_module("mockserver")(port), "--token", TOKEN]),
        ServerSpec("mock-no-journal", "crosmos-mock --journal-size 0 (no shared request journal)",
                   lambda port: [*python_module("mockserver")(port), "--journal-size", "0"]),
        ServerSpec("mock-no-access-log", "crosmos-mock --no-access-log (diagnostic: the access log's share)",
                   lambda port: [*python_module("mockserver")(port), "--no-access-log"]),
        ServerSpec("mock-2x4", "crosmos-mock --workers 2 --threads 4 (two processes: more req/s, longer tail)",
                   lambda port: [*python_module("mockserver")(port), "--workers", "2", "--threads", "4"]),
        ServerSpec("mock-1x4", "crosmos-mock --workers 1 --threads 4",
                   lambda port: [*python_module("mockserver")(port), "--workers", "1", "--threads", "4"]),
        ServerSpec("mock-1x1", "crosmos-mock --workers 1 --threads 1 (one Python thread: leaves CPU to the rest)",
                   lambda port: [*python_module("mockserver")(port), "--workers", "1", "--threads", "1"]),
        ServerSpec("prism", "Prism 5.16 static, default flags (info logging)", prism()),
        ServerSpec("prism-silent", "Prism 5.16 static, -v silent", prism("-v", "silent")),
        ServerSpec("prism-dynamic", "Prism 5.16 dynamic (-d), default logging", prism("-d")),
        ServerSpec("wiremock", f"WireMock {WIREMOCK_VERSION} standalone (Java), one stub for the mock's default body, "
                   "no request journal, no request logging", wiremock_command),
        ServerSpec("hello", "bare WSGI hello app under the mock's production server configuration",
                   python_module("bench.variants", "--app", "hello", "--server", "production"), path="/"),
        ServerSpec("flask-hello", "Flask hello app under the mock's production server configuration",
                   python_module("bench.variants", "--app", "flask-hello", "--server", "production"), path="/x"),
    )
}


def baseline_mock(checkout: Path) -> ServerSpec:
    """The mock as another checkout has it (an earlier commit: ``git worktree add DIR COMMIT``), started
    exactly as ``mock`` is, to compare a change side by side in one run (``--baseline DIR``)."""
    checkout = checkout.resolve()
    if not (checkout / "mockserver" / "__main__.py").exists():
        raise SystemExit(f"--baseline {checkout}: not a checkout of this project (no mockserver/__main__.py)")
    return ServerSpec("mock-baseline", f"crosmos-mock from {checkout}, as `mock` is started",
                      lambda port: [*python_module("mockserver")(port), "--token", TOKEN],
                      env={"PYTHONPATH": str(checkout)}, cwd=checkout)


REFERENCE = ServerSpec(
    "reference", "the FastAPI reference server of tests/servers/reference.py under uvicorn",
    lambda port: [sys.executable, "-m", "uvicorn", "--factory", "tests.servers.reference:create_app",
                  "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
    token="csk_reference_0123456789abcdef",  # tests.servers.reference.REFERENCE_TOKEN, not imported: may be absent
)


def variant(app: str, server: str) -> ServerSpec:
    """``app`` (mock, hello, flask-hello) under one candidate WSGI server, for the server choice.

    ``server`` is a name of ``bench.variants.SERVERS``, optionally with ``/WORKERSxTHREADS`` and
    ``@SWITCH_INTERVAL`` (``granian/2x4@0.001``); without them the production server's defaults apply.
    """
    name, _, shape = server.partition("/")
    shape, _, switch = shape.partition("@")
    extra = []
    if shape:
        workers, _, threads = shape.partition("x")
        extra = ["--workers", workers, "--threads", threads or "1"]
    if switch:
        extra += ["--switch-interval", switch]
    command = python_module("bench.variants", "--app", app, "--server", name, *extra)
    return ServerSpec(f"{app}@{server}", f"{app} under {server}", command,
                      path=USAGE_PATH if app == "mock" else "/x")


@dataclass
class Running:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    started_at: float
    ready_after_s: float = 0.0

    @property
    def url(self) -> str:
        return self.spec.url(self.port)

    @property
    def base_url(self) -> str:
        return self.spec.base_url(self.port)


def answers_200(url: str, headers: dict[str, str], timeout: float = 1.0) -> bool:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextlib.contextmanager
def started(spec: ServerSpec, log_dir: Path, timeout: float = 60.0, poll: float = 0.005) -> Iterator[Running]:
    """Start ``spec`` on a free port, wait (bounded) for its first 200, stop it (and its tree) on exit.

    Its output goes to a file under ``log_dir``: a server that logs pays for writing it, as in use.
    """
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', spec.name)}-{port}.log"
    with log_path.open("wb") as log_file:
        began = time.perf_counter()
        process = subprocess.Popen(spec.command(port), stdout=log_file, stderr=subprocess.STDOUT, cwd=spec.cwd,
                                   env={**os.environ, **spec.env}, start_new_session=True)
        running = Running(spec, port, process, began)
        try:
            deadline = began + timeout
            while not answers_200(running.url, spec.headers):
                if process.poll() is not None:
                    raise RuntimeError(f"{spec.name} exited with {process.returncode}; see {log_path}")
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{spec.name} gave no 200 within {timeout:.0f}s; see {log_path}")
                time.sleep(poll)
            running.ready_after_s = time.perf_counter() - began
            yield running
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM our child's own process group, then SIGKILL it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 0)  # workers that outlived their parent
        os.killpg(process.pid, signal.SIGKILL)

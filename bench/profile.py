"""Where the mock's time goes: py-spy on the production server under wrk, and an in-process split.

    python -m bench.profile               # both parts; needs py-spy (pip install py-spy)
    python -m bench.profile --inprocess   # only the in-process split (no wrk, no py-spy)

The in-process part calls the WSGI app directly, without sockets, so its microseconds per
request are stable even on a busy machine. Its first figures are the pipeline's: **every request
names a new usage window** (no replay, no cached body or verdict can answer it), a 422 and a 401
likewise new each time, as CPU time over N requests, median of 5 rounds. Then a request repeated
(the replay layer's figure, not the pipeline's), the mock without its optional stages, a Flask
"hello" and a bare WSGI "hello". Logging is set up as ``crosmos-mock`` sets it up (its access
line on, to /dev/null). Differences between the rows price each layer.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import distinct, servers
from bench.load import ensure_wrk
from bench.variants import WSGIApp, build_app

RESULTS = servers.ROOT / "bench" / "results"


def _environ(path: str, query: str = "") -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "4010", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:4010", "HTTP_AUTHORIZATION": f"Bearer {servers.TOKEN}",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0)}


def _start_response(_status: str, _headers: list[tuple[str, str]], _exc_info: Any = None) -> None:
    return None


class Workload:
    """Requests that are each new to the app: window numbers counted up from 0, mapped to dates as
    ``bench/distinct.lua`` maps them (:func:`bench.distinct.query`), so no query string repeats."""

    def __init__(self, kind: str) -> None:
        self.kind, self.next = kind, 0

    def take(self, count: int) -> list[tuple[str, bool]]:
        """``count`` new requests, each a query string and whether it carries the bench's credential."""
        queries = [distinct.query(k) for k in range(self.next, self.next + count)]
        self.next += count
        if self.kind == "422":  # an impossible end date: refused by the contract, each one new
            return [(q.replace("end_date=", "end_date=x"), True) for q in queries]
        return [(q, self.kind != "401") for q in queries]  # a 401: no credentials


def drain(app: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any] = _start_response) -> bytes:
    """One request through ``app``: its body, read whole and closed as a WSGI server would."""
    body: Iterable[bytes] = app(environ, start_response)
    try:
        return b"".join(body)
    finally:
        close: Callable[[], None] | None = getattr(body, "close", None)
        if close is not None:
            close()


def _usage_environ(query: str, credentials: bool = True) -> dict[str, Any]:
    environ = _environ(servers.USAGE_PATH, query)
    if not credentials:
        del environ["HTTP_AUTHORIZATION"]
    return environ


def distinct_us(app: WSGIApp, workload: Workload, requests: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean CPU µs of ``requests`` requests, each new to ``app``."""
    for query, credentials in workload.take(min(500, requests)):
        drain(app, _usage_environ(query, credentials))
    figures = []
    for _ in range(rounds):
        batch = workload.take(requests)
        began = time.process_time()
        for query, credentials in batch:
            drain(app, _usage_environ(query, credentials))
        figures.append((time.process_time() - began) / requests * 1e6)
    return statistics.median(figures)


def per_request_us(app: WSGIApp, path: str, requests: int, query: str = "") -> float:
    """Mean CPU time (user + system) of one request through ``app``, after a warm-up that fills its caches.

    CPU time, not wall time: colleagues' test runs share this machine, and preemption would
    otherwise be billed to whichever layer happened to be running.
    """

    for _ in range(min(500, requests)):
        drain(app, _environ(path, query))
    began = time.process_time()
    for _ in range(requests):
        drain(app, _environ(path, query))
    return (time.process_time() - began) / requests * 1e6


def inprocess(requests: int, distinct_requests: int = 2000) -> dict[str, float]:
    """CPU µs per request for each layer; the access log goes to /dev/null (formatting still paid)."""
    from mockserver.store.access_log import configure_logging

    with open(os.devnull, "w") as sink:
        logging.getLogger().handlers.clear()
        configure_logging("info", sink)  # as crosmos-mock sets it up: its access line is written
        results = {
            "mock, every request a new window (the pipeline)": distinct_us(
                build_app("mock", access_log=True), Workload("200"), distinct_requests),
            "mock, every request a new 422": distinct_us(build_app("mock", access_log=True), Workload("422"),
                                                         distinct_requests),
            "mock, every request a new 401": distinct_us(build_app("mock", access_log=True), Workload("401"),
                                                         distinct_requests),
            "mock, one request repeated (a replayed reply)": per_request_us(
                build_app("mock", access_log=True), servers.USAGE_PATH, requests),
            "mock, one request repeated, replay off (the verdict and body caches answer)": per_request_us(
                build_app("mock", access_log=True, replay=False), servers.USAGE_PATH, requests),
            **_without_optional_stages(requests),
            "mock, one other window repeated (replayed)": per_request_us(
                build_app("mock", access_log=True), servers.USAGE_PATH, requests, "start_date=2026-01-01"),
            "mock, one request repeated, without access log": per_request_us(
                build_app("mock", access_log=False), servers.USAGE_PATH, requests),
            "flask hello": per_request_us(build_app("flask-hello", access_log=False), "/x", requests),
            "bare WSGI hello": per_request_us(build_app("hello", access_log=False), "/x", requests),
        }
        logging.getLogger().handlers.clear()
    return results


OPTIONAL_STAGES = {"journal": {"journal_size": 0}, "contract reload check": {"reload": False},
                   "journal, reload check and access log": {"journal_size": 0, "reload": False, "access_log": False}}
"""Stages on by default that a user can turn off; each is priced by turning it off alone."""


def _without_optional_stages(requests: int) -> dict[str, float]:
    from dataclasses import fields

    from mockserver.settings import MockSettings

    known = {f.name for f in fields(MockSettings)}
    results = {}
    for label, overrides in OPTIONAL_STAGES.items():
        if not set(overrides) <= known | {"access_log"}:
            continue  # a stage this version of the mock does not have
        settings = dict(overrides)
        access_log = bool(settings.pop("access_log", True))
        app = build_app("mock", access_log=access_log, **settings)
        results[f"mock, one request repeated, without {label}"] = per_request_us(app, servers.USAGE_PATH, requests)
    return results


def stage_split(requests: int) -> dict[str, float]:
    """CPU µs per request in each pipeline stage, every request a new window, and the rest: the
    WSGI layers, the way in and out, the journal and the access line."""
    from mockserver.pipeline import stages as stages_module
    from mockserver.store.access_log import configure_logging

    spent: collections.Counter[str] = collections.Counter()

    def timed(stage: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(ctx: Any) -> Any:
            began = time.process_time()
            try:
                return stage(ctx)
            finally:
                spent[stage.__name__] += time.process_time() - began
        return run

    pipeline = stages_module.STAGES
    stages_module.STAGES = tuple(timed(stage) for stage in pipeline)
    try:
        with open(os.devnull, "w") as sink:
            logging.getLogger().handlers.clear()
            configure_logging("info", sink)
            app = build_app("mock", access_log=True)
            workload = Workload("200")
            for query, _ in workload.take(min(500, requests)):
                drain(app, _usage_environ(query))
            spent.clear()
            batch = workload.take(requests)
            began = time.process_time()
            for query, _ in batch:
                drain(app, _usage_environ(query))
            total = (time.process_time() - began) / requests * 1e6
            logging.getLogger().handlers.clear()
    finally:
        stages_module.STAGES = pipeline
    split = {name: seconds / requests * 1e6 for name, seconds in spent.items()}
    return {**split, "outside the stages (WSGI layers, way in and out, journal, access line)":
            total - sum(split.values()), "total": total}


def _frame_name(frame: str) -> str:
    """``function (path/to/file.py:12)`` → ``function file.py``; line numbers merge."""
    name, _, where = frame.partition(" (")
    file = where.split(":")[0].rsplit("/", 1)[-1] if where else ""
    return f"{name} {file}".strip()


def summarise_raw(raw_path: Path, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Inclusive and self shares of py-spy's raw (collapsed) stacks, idle samples excluded."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue  # no Python frame: granian's Rust threads or an idle thread
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    share = 100.0 / total if total else 0.0
    return {"inclusive_pct": [(k, round(v * share, 1)) for k, v in inclusive.most_common(top)],
            "self_pct": [(k, round(v * share, 1)) for k, v in own.most_common(top)],
            "samples": [("total", float(total))]}


def under_load(seconds: float, connections: int, log_dir: Path, out_dir: Path) -> dict[str, Any]:
    """py-spy (all processes of the tree, idle frames dropped) on the production mock under wrk."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
    wrk = ensure_wrk()
    spec = servers.LOAD_SERVERS["mock"]
    raw_path = out_dir / "mock-under-load.pyspy.txt"
    with servers.started(spec, log_dir) as running:
        load = subprocess.Popen([wrk, "-t2", f"-c{connections}", f"-d{round(seconds) + 3}s", "-H",
                                 f"Authorization: Bearer {spec.token}", running.url],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(1)
            subprocess.run([py_spy, "record", "--pid", str(running.process.pid), "--subprocesses", "--nonblocking",
                            "--format", "raw", "--rate", "250", "--duration", str(round(seconds)),
                            "--output", str(raw_path)], check=True, timeout=seconds + 60, capture_output=True)
        finally:
            wrk_output, _ = load.communicate(timeout=seconds + 60)
    summary = summarise_raw(raw_path)
    return {"raw": str(raw_path), "wrk": wrk_output.strip().splitlines()[-2:], **summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--inprocess", action="store_true", help="only the in-process split")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--distinct-requests", type=int, default=2000,
                        help="requests per round for the every-request-new figures (5 rounds)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = RESULTS / f"profile-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"inprocess_us_per_request": inprocess(args.requests, args.distinct_requests)}
    for name, value in report["inprocess_us_per_request"].items():
        print(f"{name:<52} {value:7.1f} CPU µs/request")
    report["stages_us_per_request"] = stage_split(args.requests)
    print("\nfull pipeline, every request a new window, stage by stage (CPU µs/request):")
    for name, value in report["stages_us_per_request"].items():
        print(f"  {name:<52} {value:7.1f}")
    if not args.inprocess:
        report["under_load"] = under_load(args.seconds, args.connections, out_dir / "logs", out_dir)
        for kind in ("inclusive_pct", "self_pct"):
            print(f"\n{kind}:")
            for name, pct in report["under_load"][kind]:
                print(f"  {pct:5.1f}%  {name}")
    (out_dir / "profile.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out_dir.relative_to(servers.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

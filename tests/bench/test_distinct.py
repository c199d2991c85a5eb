"""Distinct windows: bench/distinct.lua under wrk never repeats a window, within a run or across runs.

The Lua runs under wrk (1 s) against a stdlib server on 127.0.0.1 that records every request;
what it sent is compared with bench.distinct's Python mapping. Nothing here depends on speed:
the assertions hold for any number of requests, one or more.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import distinct, load

WRK = shutil.which("wrk")
needs_wrk = pytest.mark.skipif(WRK is None, reason="needs wrk (bench.load.ensure_wrk installs it)")


class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return None  # wrk resets its connections when it stops

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[tuple[str, str | None]] = []
        self.hosts: set[str | None] = set()
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.path, self.headers.get("Authorization")))
            self.server.hosts.add(self.headers.get("Host"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        return None


@contextlib.contextmanager
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wrk_run(server: Recorder, block: distinct.Block, connections: int = 4) -> list[tuple[str, str | None]]:
    """One 1 s wrk run of distinct.lua with ``block``; the requests the server saw during it."""
    assert WRK is not None
    before = len(server.seen)
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/usage?ignored=1"
    done = subprocess.run([WRK, f"-t{block.threads}", f"-c{connections}", "-d1s", "-H", "Authorization: Bearer t",
                           "-s", str(distinct.SCRIPT), url, "--", *block.script_args()],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    with server.lock:
        return server.seen[before:]


def windows_of(requests: list[tuple[str, str | None]]) -> list[tuple[date, date]]:
    found = []
    for target, authorization in requests:
        parts = urlsplit(target)
        assert parts.path == "/api/v1/usage"
        assert authorization == "Bearer t"  # wrk's -H header, as the repeat workload sends it
        params = parse_qs(parts.query, strict_parsing=True)
        assert set(params) == {"start_date", "end_date"}
        start, end = (date.fromisoformat(params[name][0]) for name in ("start_date", "end_date"))
        assert params["start_date"][0] == start.isoformat() and params["end_date"][0] == end.isoformat()
        found.append((start, end))
    return found


def check_run(requests: list[tuple[str, str | None]], block: distinct.Block, connections: int = 4) -> set[int]:
    """Every window valid, none twice, all in the block, each thread's numbers its own and dense.

    Dense: a thread's numbers run from its first on, with at most a few unseen: wrk calls the
    first thread's ``request()`` once to check the script (that request is never sent), and a
    request written as wrk stops may never be read.
    """
    assert requests, "wrk sent nothing in 1 s"
    numbers = [distinct.number(start, end) for start, end in windows_of(requests)]
    assert len(set(numbers)) == len(numbers)
    assert all(start <= end for start, end in windows_of(requests))
    by_thread: dict[int, list[int]] = {}
    for k in numbers:
        assert block.base <= k < block.base + block.span
        by_thread.setdefault((k - block.base) % block.threads, []).append(k)
    for thread, taken in by_thread.items():
        allowed = block.numbers(thread, len(taken) + connections + 1)
        assert set(taken) <= set(allowed)
    return set(numbers)


@needs_wrk
def test_two_runs_of_two_threads_never_repeat_a_window_and_send_what_the_python_mapping_says() -> None:
    blocks = distinct.Blocks()
    first, second = blocks.take(1.0, 2), blocks.take(1.0, 2)
    with recorder() as server:
        seen_first = check_run(wrk_run(server, first), first)
        seen_second = check_run(wrk_run(server, second), second)
        assert server.hosts == {f"127.0.0.1:{server.server_address[1]}"}  # as wrk.format would send it
    assert not seen_first & seen_second
    assert second.base == first.base + first.span


@needs_wrk
def test_the_last_block_before_capacity_still_gives_valid_dates_up_to_9999() -> None:
    last = distinct.Block(distinct.CAPACITY - distinct.BLOCK, distinct.BLOCK, 1)
    with recorder() as server:
        requests = wrk_run(server, last, connections=1)
        check_run(requests, last, connections=1)
    assert all(end.year >= 9000 for _, end in windows_of(requests))


@needs_wrk
def test_a_run_that_would_leave_its_block_stops_with_an_error_instead_of_repeating() -> None:
    assert WRK is not None
    with recorder() as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/usage"
        done = subprocess.run([WRK, "-t1", "-c1", "-d1s", "-s", str(distinct.SCRIPT), url, "--", "0", "3", "1"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert len({target for target, _ in server.seen}) == len(server.seen) <= 3
    assert done.returncode != 0
    assert "whole block" in done.stderr + done.stdout


def test_the_mapping_is_injective_and_its_inverse_holds_at_the_edges() -> None:
    edges = [0, 1, distinct.STARTS - 1, distinct.STARTS, 10**7, 10**9 + 7, distinct.CAPACITY - 1]
    for k in edges:
        start, end = distinct.window(k)
        assert distinct.number(start, end) == k
        assert date(1900, 1, 1) <= start <= end <= date(9999, 12, 31)
    assert distinct.window(distinct.CAPACITY - 1)[1] == date(9999, 12, 31) - timedelta(
        days=distinct.STARTS - 1 - (distinct.CAPACITY - 1) % distinct.STARTS)
    windows = {distinct.window(k) for k in range(3 * distinct.STARTS)}
    assert len(windows) == 3 * distinct.STARTS
    with pytest.raises(ValueError):
        distinct.window(distinct.CAPACITY)
    with pytest.raises(ValueError):
        distinct.window(-1)


def test_the_lua_and_python_share_their_constants() -> None:
    lua = distinct.SCRIPT.read_text()
    assert f"local STARTS = {distinct.STARTS} " in lua
    assert f"local EPOCH = {distinct.EPOCH} " in lua
    assert distinct.EPOCH == -25567


def test_blocks_are_disjoint_increasing_and_cover_a_run_at_five_times_20k_req_s() -> None:
    blocks = distinct.Blocks()
    taken = [blocks.take(duration, 2) for duration in (2.0, 10.0, 300.0, 0.5)]
    for earlier, later in itertools.pairwise(taken):
        assert later.base == earlier.base + earlier.span
    assert all(block.span >= distinct.BLOCK for block in taken)
    assert taken[2].span >= 300 * 100_000  # a 300 s run at 100k req/s stays inside its block
    assert distinct.span_for(10.0) == distinct.BLOCK
    with pytest.raises(RuntimeError, match="used up"):
        distinct.Blocks(first=distinct.CAPACITY - 1).take(1.0, 2)
    # the bench's whole budget: more than 20,000 runs of 10 s before the dates would run out
    assert distinct.CAPACITY // distinct.span_for(10.0) > 20_000


def test_the_distinct_workload_runs_wrk_with_the_script_and_a_fresh_block(monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[list[str]] = []

    def fake_run(command: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, WRK_OUTPUT, "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(distinct, "BLOCKS", distinct.Blocks(first=5 * distinct.BLOCK))
    headers = {"Authorization": "Bearer t"}
    first = load.run_workload("wrk", "distinct", "http://127.0.0.1:1/api/v1/usage", headers, 16, 2.0, os.getpid())
    load.run_workload("wrk", "distinct", "http://127.0.0.1:1/api/v1/usage", headers, 1, 2.0, os.getpid())
    repeat = load.run_workload("wrk", "repeat", "http://127.0.0.1:1/api/v1/usage", headers, 16, 2.0, os.getpid())
    assert first.workload == "distinct" and first.as_dict()["workload"] == "distinct"
    assert repeat.workload == "repeat"
    script_at = commands[0].index("-s")
    assert commands[0][script_at + 1] == str(distinct.SCRIPT)
    assert commands[0][-4:] == ["--", str(5 * distinct.BLOCK), str(distinct.BLOCK), "2"]
    assert commands[1][-4:] == ["--", str(6 * distinct.BLOCK), str(distinct.BLOCK), "1"]  # -t1 at one connection
    assert "-s" not in commands[2] and "--" not in commands[2]
    with pytest.raises(ValueError, match="unknown workload"):
        load.run_workload("wrk", "zipf", "http://127.0.0.1:1/", headers, 16, 2.0, 0)


WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:1/api/v1/usage
  2 threads and 16 connections
  Latency Distribution
     50%  600.00us
     75%    1.00ms
     90%    2.00ms
     99%    9.00ms
  40000 requests in 2.00s, 10.00MB read
Requests/sec:  20000.00
Transfer/sec:      5.00MB
"""

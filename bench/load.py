"""Drive wrk, parse what it prints, and sample a process tree's memory while it runs.

wrk is the load generator Prism's and the issue's numbers were taken with, so ours are
comparable. RSS is summed over the whole process tree (gunicorn's master and workers, node and
its children) because that is what the machine pays for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import distinct

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WORKLOADS = ("distinct", "repeat")
"""distinct: every request a window never asked before (bench/distinct.lua); repeat: one URL, again and again."""


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: throughput, latency percentiles (ms), failures and the tree's peak RSS (MB)."""

    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    peak_rss_mb: float
    peak_pss_mb: float = 0.0  # proportional set size: shared pages split between the processes sharing them
    workload: str = "repeat"  # one of WORKLOADS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian packages when missing (the machine runs as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, timeout=600,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def wrk_threads(threads: int, connections: int) -> int:
    """The threads wrk runs with: wrk refuses more threads than connections."""
    return max(1, min(threads, connections))


def run_wrk(wrk: str, url: str, headers: dict[str, str], connections: int, duration_s: float,
            root_pid: int, threads: int = 2, script: Path | None = None,
            script_args: Sequence[str] = ()) -> LoadResult:
    """One wrk run against ``url`` while sampling the RSS of ``root_pid``'s process tree.

    ``script``: a wrk Lua script (``-s``), given ``script_args`` after the URL (``-- ARGS``).
    """
    threads = wrk_threads(threads, connections)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency",
               "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script is not None and script_args:
        command += ["--", *script_args]
    with RssSampler(root_pid) as sampler:
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout, connections, duration_s, sampler.peak_mb, sampler.peak_pss_mb)


def run_workload(wrk: str, workload: str, url: str, headers: dict[str, str], connections: int,
                 duration_s: float, root_pid: int, threads: int = 2) -> LoadResult:
    """One wrk run of ``workload`` (see ``WORKLOADS``); distinct takes a fresh block of windows for it."""
    if workload == "repeat":
        result = run_wrk(wrk, url, headers, connections, duration_s, root_pid, threads)
    elif workload == "distinct":
        block = distinct.BLOCKS.take(duration_s, wrk_threads(threads, connections))
        result = run_wrk(wrk, url, headers, connections, duration_s, root_pid, threads, distinct.SCRIPT,
                         block.script_args())
    else:
        raise ValueError(f"unknown workload {workload!r}; known: {', '.join(WORKLOADS)}")
    return replace(result, workload=workload)


def parse_wrk(text: str, connections: int, duration_s: float, peak_rss_mb: float,
              peak_pss_mb: float = 0.0) -> LoadResult:
    """The numbers of wrk's ``--latency`` report (``Requests/sec``, 50 % and 99 % lines, errors)."""
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", text))
    requests = int(_search(r"(\d+) requests in", text))
    p50 = _duration_ms(_search(r"^\s*50%\s+(\S+)", text))
    p99 = _duration_ms(_search(r"^\s*99%\s+(\S+)", text))
    non_2xx = int(_search(r"Non-2xx or 3xx responses:\s+(\d+)", text, default="0"))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(n) for n in socket.groups()) if socket else 0
    return LoadResult(connections, duration_s, requests, rps, p50, p99, non_2xx, socket_errors, peak_rss_mb,
                      peak_pss_mb)


def _search(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match:
        return match.group(1)
    if default is not None:
        return default
    raise ValueError(f"wrk output has no match for {pattern!r}:\n{text}")


def _duration_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants, read from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def tree_rss_mb(root: int) -> float:
    """Resident memory of the tree in MB (resident pages from /proc/PID/statm)."""
    total_kb = 0
    for pid in tree_pids(root):
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total_kb += resident * _PAGE_KB
    return total_kb / 1024


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) the tree has used: each live process's own and its reaped children's.

    Fields 14-17 of /proc/PID/stat (utime, stime, cutime, cstime); a worker that exits is counted
    in its parent's cutime/cstime once reaped, so a difference of two readings loses nothing.
    """
    ticks = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # after the name: state is field 3, utime 14
    return ticks / _CLOCK_TICKS


def tree_pss_mb(root: int) -> float:
    """Proportional memory of the tree in MB (``Pss`` of /proc/PID/smaps_rollup).

    RSS counts a page shared by forked workers once per worker; PSS splits it between them, so
    their sum is what the tree really occupies. Reported beside RSS, which the targets use.
    """
    total_kb = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return total_kb / 1024


class RssSampler:
    """Samples a tree's RSS (and PSS, less often: it costs more) in a thread; keeps the peaks."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self._root = root
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.peak_mb = 0.0
        self.peak_pss_mb = 0.0

    def _loop(self) -> None:
        ticks = 0
        while True:
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self._root))
            if ticks % 4 == 0:
                self.peak_pss_mb = max(self.peak_pss_mb, tree_pss_mb(self._root))
            ticks += 1
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak_mb = max(self.peak_mb, tree_rss_mb(self._root))

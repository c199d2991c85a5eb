"""Soak: 60 s of wrk at 64 connections against the production server (opt-in: ``-m slow``).

After it: zero socket errors, zero non-2xx for valid requests, the mock's memory within 10 % of
what it used after warm-up, and the request journal still bounded. Prints its figures, which
README's reliability section quotes. ``CROSMOS_SOAK_SECONDS`` shortens it for a quick look.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockserver.serving.launch import running_mock

TOKEN = "csk_soak_0123456789abcdef"
SECONDS = int(os.environ.get("CROSMOS_SOAK_SECONDS", "60"))
JOURNAL_SIZE = 200
pytestmark = pytest.mark.slow


def _tree_memory_kib(root: int, field: str) -> int:
    """Sum of ``field`` (Rss or Pss, from /proc/PID/smaps_rollup) over a process and its children."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        total += int(match.group(1)) if match else 0
        pending.extend(int(child) for child in children)
    return total


def _mock_pid(port: str) -> int:
    out = subprocess.run(["pgrep", "-f", "mockserver --port 0"], capture_output=True, text=True, check=False)
    pids = sorted(int(p) for p in out.stdout.split())
    assert pids, f"no mock process for port {port}"
    return pids[0]


def _wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {TOKEN}",
         url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    text = result.stdout
    figures = {"requests": float(re.search(r"(\d+) requests in", text).group(1)),  # type: ignore[union-attr]
               "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    figures["socket_errors"] = float(sum(int(n) for n in errors.groups())) if errors else 0.0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    figures["non_2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    return figures


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (apt-get install wrk; .ci/run installs it)")
    with running_mock(seed=2, workers=2, extra_args=["--journal-size", str(JOURNAL_SIZE), "--no-access-log"]) as url:
        yield url


def test_soak(mock_url: str) -> None:
    port = mock_url.rsplit(":", 1)[1]
    pid = _mock_pid(port)
    target = f"{mock_url}/api/v1/usage"
    warmup = _wrk(target, 5, 64)
    assert warmup["socket_errors"] == 0 and warmup["non_2xx"] == 0
    time.sleep(1)
    rss_warm, pss_warm = _tree_memory_kib(pid, "Rss"), _tree_memory_kib(pid, "Pss")
    soak = _wrk(target, SECONDS, 64)
    time.sleep(1)
    rss_after, pss_after = _tree_memory_kib(pid, "Rss"), _tree_memory_kib(pid, "Pss")
    journal = requests.get(f"{mock_url}/__mock/journal?limit=100000", timeout=10).json()
    entries = journal["entries"] if isinstance(journal, dict) else journal
    print(f"\nsoak: {SECONDS}s wrk -t2 -c64: {soak['requests']:.0f} requests, {soak['rps']:.0f} req/s, "
          f"{soak['socket_errors']:.0f} socket errors, {soak['non_2xx']:.0f} non-2xx; "
          f"RSS {rss_warm / 1024:.1f} -> {rss_after / 1024:.1f} MiB, PSS {pss_warm / 1024:.1f} -> "
          f"{pss_after / 1024:.1f} MiB; journal {len(entries)} entries (bound {JOURNAL_SIZE})")
    assert soak["socket_errors"] == 0
    assert soak["non_2xx"] == 0
    assert soak["requests"] > 0
    assert rss_after <= rss_warm * 1.10, (rss_warm, rss_after)
    assert len(entries) <= JOURNAL_SIZE

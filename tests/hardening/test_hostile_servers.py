"""The suite against servers that misbehave at the transport level.

For each: the run ends within its time budget, exits 1 (a finding that names the fault) or 2
(cannot certify, and why), prints a readable message and no traceback, never leaks the token,
and never follows a redirect off the base URL's host.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import hostile

TOKEN = "csk_hostile_DISTINCTIVE_7731"
BUDGET = 20
CLI = [sys.executable, "-m", "conformance.cli"]


def certify(base_url: str, tmp_path: Path) -> tuple[int, str, dict[str, object] | None, float]:
    report = tmp_path / "report.json"
    started = time.monotonic()
    result = subprocess.run(
        [*CLI, "run", "--base-url", base_url, "--token", TOKEN, "--profile", "smoke", "--timeout", "2",
         "--budget", str(BUDGET), "--json", str(report), "--no-progress"],
        capture_output=True, text=True, timeout=BUDGET + 40, check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-2000:]
    assert TOKEN not in output
    data = json.loads(report.read_text()) if report.exists() else None
    if report.exists():
        assert TOKEN not in report.read_text()
    return result.returncode, output, data, elapsed


EXPECTED_WORDS = {
    "accept-then-hang": ("time",),
    "slow-drip": ("time",),
    "reset-mid-body": ("reset", "connection", "closed", "aborted"),
    "non-json-body": ("json",),
    "fifty-megabytes": ("large", "size", "cap", "bytes", "json"),
    "endless-chunked": ("large", "size", "cap", "bytes", "json", "time"),
    "redirect-loop": ("redirect", "302"),
    "html-error-pages": ("502", "STATUS-002"),
    "empty-200": ("empty", "json", "SCHEMA-001"),
}


@pytest.mark.parametrize("name", sorted(hostile.BEHAVIOURS))
def test_a_hostile_server_ends_the_run_cleanly(name: str, tmp_path: Path) -> None:
    with hostile.serve_hostile(hostile.BEHAVIOURS[name]) as server:
        code, output, _, elapsed = certify(server.base_url, tmp_path)
    assert code in (1, 2), output[-2000:]
    assert elapsed < BUDGET + 15, f"{name}: {elapsed:.1f}s"
    lowered = output.lower()
    assert any(word.lower() in lowered for word in EXPECTED_WORDS[name]), output[-2000:]


def test_connection_refused_is_a_usage_error(tmp_path: Path) -> None:
    code, output, _, elapsed = certify(hostile.refused_url(), tmp_path)
    assert code == 2
    assert "refused" in output.lower() or "cannot reach" in output.lower() or "connect" in output.lower()
    assert elapsed < 15


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with hostile.serve_hostile(hostile.answer_ok, host="127.0.0.2") as canary:
        with hostile.serve_hostile(hostile.redirect_to(canary.base_url)) as server:
            code, output, _, _ = certify(server.base_url, tmp_path)
        assert canary.requests_seen == 0
    assert code in (1, 2)
    assert "redirect" in output.lower() or "307" in output

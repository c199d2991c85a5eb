"""The suite against servers that misbehave at the transport level.

For each: the run ends within its time budget, exits 1 (the check that names the fault, read
from the JSON report) or 2 (cannot certify, and why), prints a readable message and no traceback, never leaks the token,
and never follows a redirect off the base URL's host.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers import hostile

TOKEN = "csk_hostile_DISTINCTIVE_7731"
TIMEOUT = 2
# A cap far above what a run needs (the endless-body server's run reads 256 KiB per probe: a few
# seconds, but tens of seconds on a 2-core machine loaded by other jobs), so the counts decide the
# run and the cap is never what a test observes.
BUDGET = 90
# The run's own budget, twice over for a loaded 2-core machine, plus 30 s for the interpreter to
# start and import schemathesis: a run that waited on a hostile server would not fit.
WORST_CASE_S = BUDGET * 2 + 30
CLI = [sys.executable, "-m", "conformance.cli"]


def certify(base_url: str, tmp_path: Path) -> tuple[int, str, dict[str, Any] | None]:
    """Run the CLI to its end (``subprocess.run``'s timeout fails the test if it does not end)."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [*CLI, "run", "--base-url", base_url, "--token", TOKEN, "--profile", "smoke", "--timeout", str(TIMEOUT),
         "--budget", str(BUDGET), "--json", str(report), "--no-progress"],
        capture_output=True, text=True, timeout=WORST_CASE_S, check=False,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-2000:]
    assert TOKEN not in output
    data = json.loads(report.read_text()) if report.exists() else None
    if report.exists():
        assert TOKEN not in report.read_text()
    return result.returncode, output, data


# Cannot certify (exit 2): the reason the preflight request got, on the console and in the report
# (written anyway, so CI keeps it, with the verdict "cannot certify").
UNUSABLE = {
    "accept-then-hang": "no complete reply before the timeout",
    "slow-drip": "no complete reply before the timeout",
    "reset-mid-body": "the connection broke in the middle of the body",
}
# Not conformant (exit 1): the check that names the fault, and words of one of its findings.
CAUGHT = {
    "non-json-body": ("SCHEMA-001", "JSON deserialization error"),
    "empty-200": ("SCHEMA-001", "JSON deserialization error"),
    "fifty-megabytes": ("SCHEMA-001", "larger than the size cap"),
    "endless-chunked": ("SCHEMA-001", "larger than the size cap"),
    "redirect-loop": ("STATUS-001", "302 for no parameters"),
    "html-error-pages": ("STATUS-002", "HTTP 502"),
}


def test_every_hostile_behaviour_has_an_expected_outcome() -> None:
    assert UNUSABLE.keys() | CAUGHT.keys() == hostile.BEHAVIOURS.keys()


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_a_server_that_gives_no_usable_reply_is_a_usage_error(name: str, tmp_path: Path) -> None:
    with hostile.serve_hostile(hostile.BEHAVIOURS[name]) as server:
        code, output, data = certify(server.base_url, tmp_path)
    assert code == 2, output[-2000:]
    assert UNUSABLE[name] in output, output[-2000:]
    assert_cannot_certify(data, UNUSABLE[name])  # no verdict was reached, and the report says so


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_a_hostile_server_is_caught_by_the_check_that_names_its_fault(name: str, tmp_path: Path) -> None:
    check_id, words = CAUGHT[name]
    with hostile.serve_hostile(hostile.BEHAVIOURS[name]) as server:
        code, output, data = certify(server.base_url, tmp_path)
    assert code == 1, output[-2000:]
    assert data is not None and data["verdict"] == "not conformant"
    assert data["stop_reason"] == "completed"
    assert check_id in data["failed_ids"]
    received = [finding["received"] for check in data["checks"] if check["id"] == check_id
                for finding in check["findings"]]
    assert any(words in text for text in received), received


def test_connection_refused_is_a_usage_error(tmp_path: Path) -> None:
    code, output, data = certify(hostile.refused_url(), tmp_path)
    assert code == 2
    assert "connection refused" in output.lower(), output[-2000:]
    assert_cannot_certify(data, "connection refused")


def assert_cannot_certify(data: dict[str, object] | None, reason: str) -> None:
    assert data is not None
    assert (data["verdict"], data["conformant"], data["complete"]) == ("cannot certify", False, False)
    assert reason in str(data["problem"])


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with hostile.serve_hostile(hostile.answer_ok, host="127.0.0.2") as canary:
        with hostile.serve_hostile(hostile.redirect_to(canary.base_url)) as server:
            code, output, _ = certify(server.base_url, tmp_path)
        assert canary.requests_seen == 0
    assert code in (1, 2)
    assert "redirect" in output.lower() or "307" in output

"""The production server over real HTTP on 127.0.0.1, started the way README starts it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from crosmos_contract import consistency, rules
from mockserver.serving.launch import running_mock
from mockserver.serving.server import READY_LINE, STOP_GRACE_S

TOKEN = "csk_integration_SECRET_4242"
CLI = shutil.which("crosmos-mock", path=str(Path(sys.executable).parent)) or "crosmos-mock"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=3) as url:
        yield url


def test_serves_a_valid_coherent_usage_body_over_http(base_url: str) -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        first = session.get(f"{base_url}/api/v1/usage", timeout=5)
        second = session.get(f"{base_url}/api/v1/usage", params={"start_date": "2024-02-29"}, timeout=5)
    assert first.status_code == second.status_code == 200
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Connection"].lower() == "keep-alive"
    server_day = parsedate_to_datetime(first.headers["Date"]).astimezone(UTC).date()
    assert server_day == datetime.now(UTC).date()
    for response, start in ((first, None), (second, datetime(2024, 2, 29).date())):
        body = response.json()
        assert rules.check_usage_body(body, today_candidates=[server_day], start_param=start, end_param=None) == []
    assert consistency.check_window_monotonic(first.json(), second.json()) == []


def test_rejects_like_the_reference_over_http(base_url: str) -> None:
    missing = requests.get(f"{base_url}/api/v1/usage", timeout=5)
    assert (missing.status_code, missing.json(), missing.headers["WWW-Authenticate"]) == (
        401, {"detail": "Not authenticated"}, "Bearer")
    bad = requests.get(f"{base_url}/api/v1/usage?end_date=2026-13-01", timeout=5,
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "end_date"]
    post = requests.post(f"{base_url}/api/v1/usage", timeout=5, headers={"Authorization": f"Bearer {TOKEN}"})
    assert post.status_code == 405 and post.headers["Allow"] == "GET"


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if READY_LINE in line:
            return line.split(READY_LINE, 1)[1].strip()
    raise AssertionError("the mock did not announce its address")


def test_logs_one_line_per_request_without_the_token() -> None:
    process = _start("--port", "0", "--workers", "1")
    try:
        url = _wait_for_url(process)
        for query in ("", "?start_date=2026-01-01", "?start_date=bad"):
            requests.get(f"{url}/api/v1/usage{query}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        requests.get(f"{url}/api/v1/usage?access_token={TOKEN}", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    access = [line for line in stderr.splitlines() if "mockserver.access" in line]
    assert len(access) == 4
    assert [re.search(r" (\d{3}) [\d.]+ms", line).group(1) for line in access] == [  # type: ignore[union-attr]
        "200", "200", "422", "401"]
    assert access[3].endswith("ms (no Authorization header)")  # a refusal says why
    assert TOKEN not in stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--spec", "/no/such/openapi.json"], "/no/such/openapi.json: no such file"),
    (["--port", "70000"], "70000 is not in the range"),
    (["--workers", "0"], "0 is not in the range"),
])
def test_bad_configuration_gets_one_clear_line_and_a_nonzero_exit(args: list[str], message: str) -> None:
    result = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_busy_port_is_named() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([CLI, "--port", str(port)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def _start_as_from_a_terminal(*args: str) -> subprocess.Popen[str]:
    """In a process group of its own with SIGINT restored (a shell's background child may inherit
    it ignored), so signalling the group is what Ctrl-C in a terminal does."""
    def as_a_terminal_would() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setpgrp()

    return subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=as_a_terminal_would)  # noqa: PLW1509 (pytest's threads hold no lock we need)


def test_the_first_screen_says_where_to_look_a_token_one_request_and_how_to_stop() -> None:
    process = _start_as_from_a_terminal("--port", "0", "--workers", "1")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(READY_LINE, 1)[1].strip()
        screen = [process.stdout.readline().strip() for _ in range(4)]
        assert screen[0] == f"dashboard     {url}/__mock/"
        assert screen[1].startswith("sample token  csk_test")
        assert screen[2] == f"try           curl -s -H 'Authorization: Bearer csk_test' {url}/api/v1/usage"
        assert screen[3] == "stop          Ctrl-C"
        assert requests.get(f"{url}/api/v1/usage", headers={"Authorization": "Bearer csk_test"},
                            timeout=5).status_code == 200  # the line shown works as shown
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.communicate(timeout=30)


# The server promises to stop within 2 s (STOP_GRACE_S of grace, then a kill): twice that plus
# 3 s of slack on a loaded machine, far under the 30 s a worker holding a keep-alive connection
# used to be given.
PROMISED_STOP_S = 2
assert STOP_GRACE_S < PROMISED_STOP_S
STOP_BOUND_S = PROMISED_STOP_S * 2 + 3


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_the_server_promptly_after_traffic(stop: signal.Signals) -> None:
    tries = 10 if stop is signal.SIGINT else 3
    for attempt in range(tries):
        workers = (1, 2, 4)[attempt % 3]
        process = _start_as_from_a_terminal("--port", "0", "--workers", str(workers), "--no-access-log")
        session = requests.Session()  # left open: idle keep-alive connections are what held workers up
        try:
            url = _wait_for_url(process)
            for _ in range(20):
                assert session.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"},
                                   timeout=5).status_code == 200
        finally:
            os.killpg(process.pid, stop)
            try:
                output, _ = process.communicate(timeout=STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise AssertionError(
                    f"{stop.name} with {workers} workers: still running after {STOP_BOUND_S} s") from None
            finally:
                session.close()
        assert "Traceback" not in output, output

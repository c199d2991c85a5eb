"""Faults on demand (latency, an error rate, rate-limit emulation): off by default, on when asked."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from mockserver.app import create_app
from mockserver.cli import main
from mockserver.model import faults
from mockserver.model.faults import FaultSettings, RateLimiter
from mockserver.serving.launch import running_mock
from mockserver.store.shared import SharedStore
from tests.mockserver.frontend import OTHER_TOKEN, USAGE, auth, control, journal, reset

pytestmark = pytest.mark.usefixtures("reset_mock_after_test")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """Two workers: the rate-limit window of an org must be one window, whichever worker answers."""
    with running_mock(seed=6, workers=2, extra_args=["--latency", "150-200ms", "--rate-limit-emulation",
                                                     "--error-status", "503"]) as url:
        yield url


def _usage(base_url: str, token: str | None = None, **headers: str) -> requests.Response:
    return requests.get(f"{base_url}{USAGE}", headers={**(auth(token) if token else auth()), **headers}, timeout=10)


def _no_latency(base_url: str) -> None:
    assert control(base_url, "PATCH", "/faults", json={"latency": None}).status_code == 200


def test_latency_from_the_command_line_slows_every_reply(base_url: str) -> None:
    health = control(base_url, "GET", "/health").json()
    assert health["faults"] == {"latency": "150-200ms", "error_rate": 0.0, "error_status": 503, "rate_limit": True}
    for _ in range(3):
        started = time.monotonic()
        reply = _usage(base_url)
        assert reply.status_code == 200 and reply.headers["X-Mock-Fault"] == "latency"
        # A sleep is never shorter than asked; the upper bound is the 200 ms asked for, twice over
        # for a loaded 2-core machine, plus 3 s of slack: only a wildly wrong delay exceeds it.
        assert 0.15 <= time.monotonic() - started < 0.2 * 2 + 3
    assert journal(base_url)[0]["fault"] == "latency"
    unhurried = _usage(base_url, Prefer="delay=0ms")  # one request may ask for none
    assert unhurried.status_code == 200 and unhurried.headers["Preference-Applied"] == "delay=0ms"
    assert "X-Mock-Fault" not in unhurried.headers
    assert journal(base_url)[0]["fault"] is None


def test_an_org_over_its_own_rate_limit_gets_429_with_retry_after(base_url: str) -> None:
    _no_latency(base_url)
    fresh = {"X-Mock-Scenario": "fresh"}  # the free plan: 60 requests a minute
    assert _usage(base_url, **fresh).json()["rate_limit_rpm"] == 60
    statuses = [_usage(base_url, **fresh).status_code for _ in range(59)]
    assert statuses == [200] * 59
    refused = _usage(base_url, **fresh)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Rate limit exceeded: 60 per 1 minute"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "60" and refused.headers["X-Mock-Fault"] == "rate-limit"
    assert journal(base_url)[0]["fault"] == "rate-limit" and journal(base_url)[0]["response"] == "fault"
    assert _usage(base_url, OTHER_TOKEN, **fresh).status_code == 200  # another org has its own window
    reset(base_url)
    assert _usage(base_url, **fresh).status_code == 200


def test_an_unlimited_org_is_never_rate_limited(base_url: str) -> None:
    _no_latency(base_url)
    assert {_usage(base_url, **{"X-Mock-Scenario": "unlimited"}).status_code for _ in range(70)} == {200}


def test_an_error_rate_of_one_fails_every_request_with_the_chosen_status(base_url: str) -> None:
    control(base_url, "PATCH", "/faults", json={"latency": None, "error_rate": 1})
    replies = [_usage(base_url) for _ in range(6)]
    assert {(r.status_code, r.headers["X-Mock-Fault"]) for r in replies} == {(503, "error-rate")}
    assert replies[0].json() == {"detail": "Service Unavailable"}
    control(base_url, "PATCH", "/faults", json={"error_status": 500})
    crash = _usage(base_url)
    assert (crash.status_code, crash.headers["Content-Type"], crash.text) == (
        500, "text/plain; charset=utf-8", "Internal Server Error")  # as Starlette answers an unhandled error
    assert requests.get(f"{base_url}{USAGE}", timeout=5).status_code == 401  # credentials are judged first


def test_an_error_rate_fails_about_that_share(base_url: str) -> None:
    control(base_url, "PATCH", "/faults", json={"latency": None, "error_rate": "50%", "rate_limit": False})
    with requests.Session() as session:
        statuses = [session.get(f"{base_url}{USAGE}", headers=auth(), timeout=5).status_code for _ in range(200)]
    assert set(statuses) == {200, 503}
    assert 60 <= statuses.count(503) <= 140  # 7 standard deviations either side of 100


def test_faults_are_off_by_default() -> None:
    app = create_app(access_log=False, journal_size=0)
    client = app.test_client()
    assert client.get("/__mock/health").get_json()["faults"] == {
        "latency": None, "error_rate": 0.0, "error_status": 500, "rate_limit": False}
    assert {client.get(USAGE, headers=auth()).status_code for _ in range(80)} == {200}


@pytest.mark.parametrize(("args", "option"), [
    (["--latency", "fast"], "--latency"), (["--latency", "300-50ms"], "--latency"),
    (["--latency", "2min"], "--latency"), (["--latency", "45s"], "--latency"),
    (["--error-rate", "2"], "--error-rate"), (["--error-rate", "lots"], "--error-rate"),
    (["--error-status", "200"], "--error-status"), (["--error-status", "x"], "--error-status"),
])
def test_bad_fault_options_are_one_clear_error(args: list[str], option: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and f"Invalid value for '{option}'" in error_lines[0], result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("200ms", (200, 200)), ("200", (200, 200)), ("1s", (1000, 1000)), ("1.5s", (1500, 1500)),
    ("50-300ms", (50, 300)), ("0.5-2s", (500, 2000)), ("500ms-1s", (500, 1000)), (" 10 - 20 ms ", (10, 20)),
])
def test_delays_are_read_as_people_write_them(text: str, expected: tuple[int, int]) -> None:
    assert faults.parse_delay(text) == expected


def test_rates_and_rolls() -> None:
    assert faults.parse_rate("0.25") == faults.parse_rate("25%") == 0.25
    rng = random.Random(1)
    assert sum(faults.roll_error(0.3, rng) for _ in range(10_000)) in range(2_800, 3_200)
    assert not any(faults.roll_error(0.0, rng) for _ in range(100))
    assert not FaultSettings().active and FaultSettings(rate_limit=True).active


def test_the_rate_window_slides() -> None:
    store = SharedStore()
    try:
        limiter = RateLimiter(store)
        assert all(limiter.admit("org", 3, now=1000.0 + i) is None for i in range(3))
        assert limiter.admit("org", 3, now=1010.0) == 50  # the oldest of the three leaves the window at 1060
        assert limiter.admit("org", 3, now=1060.5) is None
        assert limiter.admit("org", -1, now=1060.6) is None
    finally:
        store.close()

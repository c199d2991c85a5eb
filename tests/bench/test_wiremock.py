"""WireMock in the benchmark: its stubs serve the mock's own bytes, and it is started as documented.

Nothing here needs wrk; the one test that starts WireMock is skipped without java and the jar
(``python -m bench.run --servers wiremock`` installs both), so speed is never asserted here.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bench import run, servers, wiremock_mapping


def committed(path: Path) -> dict[str, Any]:
    stub: dict[str, Any] = json.loads(path.read_text())
    return stub


@pytest.fixture(scope="module")
def exported() -> dict[str, bytes]:
    """``crosmos-mock export`` for the bench token on the stubs' day: what the mock serves it."""
    return wiremock_mapping.exported_fixtures(wiremock_mapping.FIXTURE_DAY, servers.TOKEN)


def test_the_usage_stub_body_is_the_mocks_default_body_byte_for_byte(exported: dict[str, bytes]) -> None:
    stub = committed(wiremock_mapping.USAGE_MAPPING)
    assert stub["response"]["status"] == 200
    assert "jsonBody" not in stub["response"]  # jsonBody would be re-serialised by WireMock
    assert stub["response"]["body"].encode() == exported["default"]
    assert json.loads(exported["default"])["period_end"] == wiremock_mapping.FIXTURE_DAY.isoformat()


def test_the_committed_stubs_are_what_the_generator_writes(exported: dict[str, bytes]) -> None:
    assert wiremock_mapping.USAGE_MAPPING.read_text() == wiremock_mapping.rendered(
        wiremock_mapping.usage_stub(exported["default"]))
    assert wiremock_mapping.UNAUTHORIZED_MAPPING.read_text() == wiremock_mapping.rendered(
        wiremock_mapping.unauthorized_stub(exported["unauthorized"]))


def test_the_usage_stub_wants_a_bearer_credential_and_the_fallback_is_the_mocks_401(
        exported: dict[str, bytes]) -> None:
    usage = committed(wiremock_mapping.USAGE_MAPPING)
    fallback = committed(wiremock_mapping.UNAUTHORIZED_MAPPING)
    assert usage["request"]["method"] == fallback["request"]["method"] == "GET"
    assert usage["request"]["urlPath"] == fallback["request"]["urlPath"] == servers.USAGE_PATH
    pattern = usage["request"]["headers"]["Authorization"]["matches"]
    # WireMock's ``matches`` is Java's String.matches: the whole value must match
    assert re.fullmatch(pattern, f"Bearer {servers.TOKEN}")
    for refused in ("Bearer ", "Bearer", "Basic dXNlcjpwYXNz", servers.TOKEN):
        assert not re.fullmatch(pattern, refused)
    assert usage["priority"] < fallback["priority"]  # WireMock tries the lower number first
    assert "headers" not in fallback["request"]
    assert fallback["response"]["status"] == 401
    assert fallback["response"]["headers"]["WWW-Authenticate"] == "Bearer"
    assert fallback["response"]["body"].encode() == exported["unauthorized"]


def test_wiremock_is_started_on_loopback_with_the_committed_stubs_no_journal_and_no_logging() -> None:
    spec = servers.LOAD_SERVERS["wiremock"]
    command = spec.command(45678)
    assert command[1:3] == ["-jar", str(servers.wiremock_jar())]
    assert servers.wiremock_jar().name == f"wiremock-standalone-{servers.WIREMOCK_VERSION}.jar"
    pairs = dict(zip(command[3::2], command[4::2], strict=False))
    assert pairs["--port"] == "45678"
    assert pairs["--bind-address"] == "127.0.0.1"
    assert Path(pairs["--root-dir"]) == servers.WIREMOCK_ROOT
    assert (servers.WIREMOCK_ROOT / "mappings" / "usage.json").is_file()
    assert {"--no-request-journal", "--disable-request-logging"} <= set(command)
    assert spec.url(45678) == f"http://127.0.0.1:45678{servers.USAGE_PATH}"
    assert spec.headers == {"Authorization": f"Bearer {servers.TOKEN}"}


def test_the_default_run_measures_wiremock_and_gives_every_ratio_against_it() -> None:
    assert "wiremock" in run.DEFAULT_SERVERS
    assert "wiremock" in run.BASELINES
    args = run.parse_args([])
    assert args.warmup >= 10.0  # WireMock's JIT: about twice the rate after 10 s
    assert "wiremock" in args.servers.split(",")
    row = {"rps": 0.0, "p50_ms": 1.0, "p99_ms": 2.0, "peak_rss_mb": 100.0, "peak_pss_mb": 50.0}
    markdown = run.table({"mock": {16: {**row, "rps": 3000.0}}, "wiremock": {16: {**row, "rps": 2000.0}}},
                         run.BASELINES)
    header, _, mock_row, wiremock_row = markdown.splitlines()
    assert header.endswith("| × wiremock |")
    assert mock_row.endswith("| 1.50 |") and wiremock_row.endswith("| 1.00 |")


def test_servers_take_turns_first_across_repeats() -> None:
    specs = [servers.LOAD_SERVERS[name] for name in ("mock", "wiremock", "prism")]
    orders = [[spec.name for spec in run.rotated(specs, repeat)] for repeat in range(4)]
    assert orders == [["mock", "wiremock", "prism"], ["wiremock", "prism", "mock"],
                      ["prism", "mock", "wiremock"], ["mock", "wiremock", "prism"]]
    assert run.rotated([], 3) == []


def test_an_unknown_server_name_stops_the_run_with_the_known_ones() -> None:
    with pytest.raises(SystemExit, match=r"unknown server.*wirmock.*known: mock"):
        run.load_specs(["mock", "wirmock"])


@pytest.mark.skipif(shutil.which("java") is None or not servers.wiremock_jar().exists(),
                    reason="needs java and the WireMock jar (python -m bench.run --servers wiremock installs them)")
def test_wiremock_serves_the_mocks_bytes_to_a_bearer_and_401_without(tmp_path: Path,
                                                                    exported: dict[str, bytes]) -> None:
    spec = servers.LOAD_SERVERS["wiremock"]
    with servers.started(spec, tmp_path, timeout=60.0, poll=0.05) as running:
        request = urllib.request.Request(running.url, headers=spec.headers)
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"] == "application/json"
            assert reply.read() == exported["default"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(running.url), timeout=5)
        assert refused.value.code == 401
        assert refused.value.read() == exported["unauthorized"]
    assert running.process.poll() is not None  # stopped, within stop()'s bounded grace

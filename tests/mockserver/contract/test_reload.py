"""Reload: edits of the contract file are served without a restart; a broken edit changes nothing."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from crosmos_contract import default_contract_path, load_contract
from mockserver.app import create_app
from mockserver.contract.reload import ContractWatcher
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import USAGE, assert_problem, auth, control

ORIGINAL: dict[str, Any] = json.loads(default_contract_path().read_text())
PING = {"get": {"operationId": "ping", "security": [], "responses": {"200": {
    "description": "pong", "content": {"application/json": {
        "schema": {"type": "object", "required": ["pong"], "properties": {"pong": {"type": "boolean"}}},
        "example": {"pong": True}}}}}}}


def _with_ping() -> dict[str, Any]:
    document = copy.deepcopy(ORIGINAL)
    document["paths"]["/api/v1/ping"] = PING
    return document


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll until ``check`` holds; the timeout only guards against a hang (not a speed claim)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the mock did not pick up the edit in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("contract") / "openapi.json"
    path.write_text(json.dumps(ORIGINAL))
    return path


@pytest.fixture(scope="module")
def base_url(spec: Path) -> Iterator[str]:
    with running_mock(spec=spec, workers=2) as url:
        yield url


def _ping_statuses(base_url: str, count: int = 12) -> set[int]:
    return {requests.get(f"{base_url}/api/v1/ping", timeout=5).status_code for _ in range(count)}


def test_an_edit_is_served_by_every_worker_then_a_broken_edit_changes_nothing(base_url: str, spec: Path) -> None:
    first = control(base_url, "GET", "/health").json()["contract"]
    assert first["watching"] is True and first["reload_error"] is None
    assert _ping_statuses(base_url) == {404}

    spec.write_text(json.dumps(_with_ping()))
    _eventually(lambda: _ping_statuses(base_url) == {200})
    assert requests.get(f"{base_url}/api/v1/ping", timeout=5).json() == {"pong": True}
    health = control(base_url, "GET", "/health").json()["contract"]
    assert health["sha256"] != first["sha256"] and health["reloads"] == 1
    assert health["operations"] == ["GET /api/v1/ping", "GET /api/v1/usage"]

    spec.write_text('{"openapi": "3.1.0", "paths": ')  # saved half-way through an edit
    _eventually(lambda: all(control(base_url, "GET", "/health").json()["status"] == "degraded" for _ in range(6)))
    broken = control(base_url, "GET", "/health").json()["contract"]
    assert str(spec) in broken["reload_error"] and "still serving the last good version" in broken["reload_error"]
    assert _ping_statuses(base_url) == {200}
    assert requests.get(f"{base_url}{USAGE}", headers=auth(), timeout=5).status_code == 200

    spec.write_text(json.dumps(ORIGINAL))
    _eventually(lambda: _ping_statuses(base_url) == {404})
    _eventually(lambda: all(control(base_url, "GET", "/health").json()["status"] == "ok" for _ in range(6)))


def test_reload_can_be_asked_for_at_once(base_url: str, spec: Path) -> None:
    response = control(base_url, "POST", "/reload")
    assert response.status_code == 200 and response.json()["reload_error"] is None
    assert response.json()["worker"] == int(response.headers["X-Mock-Worker"])


def test_without_reload_the_first_version_stays(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(ORIGINAL))
    app = create_app(spec=spec, reload=False, access_log=False, journal_size=0)
    spec.write_text(json.dumps(_with_ping()))
    time.sleep(0.6)
    client = app.test_client()
    assert client.get("/api/v1/ping").status_code == 404
    assert client.get("/__mock/health").get_json()["contract"]["watching"] is False
    refused = client.post("/__mock/reload")
    assert refused.status_code == 409 and refused.get_json()["type"].endswith("/reload-off")


def test_the_watcher_checks_at_most_once_per_interval(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(ORIGINAL))
    loaded: list[str] = []
    watcher = ContractWatcher(load_contract(spec), lambda contract, _first: loaded.append(contract.sha256), interval=60)
    spec.write_text(json.dumps(_with_ping()))
    watcher.poll()
    assert loaded == []  # within the interval: not even a stat
    watcher.force()
    assert len(loaded) == 1 and watcher.reloads == 1
    spec.write_text(json.dumps(_with_ping()) + "\n\n")  # new bytes, same content once parsed: sha differs
    watcher.force()
    assert len(loaded) == 2
    watcher.force()  # nothing changed
    assert len(loaded) == 2
    spec.unlink()
    watcher.force()
    assert watcher.error is not None and "no such file" in watcher.error


def test_reload_takes_post_only_and_paths_below_it_are_unknown(base_url: str) -> None:
    assert_problem(control(base_url, "GET", "/reload"), 405, "method-not-allowed")
    assert_problem(control(base_url, "POST", "/reload/x"), 404, "unknown-control-endpoint")


def test_a_reload_that_fails_is_a_problem_naming_the_error(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(ORIGINAL))
    client = create_app(spec=spec, access_log=False, journal_size=0).test_client()
    spec.write_text('{"openapi": "3.1.0", "paths": ')
    refused = client.post("/__mock/reload")
    body = refused.get_json()
    assert (refused.status_code, refused.mimetype) == (422, "application/problem+json")
    assert body["type"].endswith("/reload-failed") and str(spec) in body["detail"]
    assert body["reload_error"] == body["detail"] and body["sha256"]  # still the last good version's
    assert client.get("/api/v1/usage").status_code == 401  # and that version is still served


GOOD_EXAMPLE = {"plan": "pro", "period_start": "2026-11-01", "period_end": "2026-11-30",
                "tokens": {"used": 10, "limit": 100, "remaining": 90},
                "queries": {"used": 1, "limit": -1, "remaining": -1},
                "spaces": {"used": 2, "limit": 5, "remaining": 3}, "rate_limit_rpm": 60, "rate_limit_per_day": 1000}


def _with_examples(**named: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(ORIGINAL)
    content = document["paths"]["/api/v1/usage"]["get"]["responses"]["200"]["content"]["application/json"]
    content["examples"] = {name: {"value": value} for name, value in named.items()}
    return document


def _over(metric: str) -> dict[str, Any]:
    """GOOD_EXAMPLE with ``remaining`` above ``limit`` for ``metric``: valid JSON Schema, broken meaning."""
    body = copy.deepcopy(GOOD_EXAMPLE)
    body[metric] = {"used": 0, "limit": 5, "remaining": 50}
    return body


def _lines(log: Path, words: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if words in line]


def test_a_breaking_example_is_reported_once_never_served_and_refused_by_name(tmp_path: Path) -> None:
    spec, log = tmp_path / "openapi.json", tmp_path / "mock.log"
    spec.write_text(json.dumps(_with_examples(good=GOOD_EXAMPLE, over=_over("tokens"))))
    with running_mock(spec=spec, workers=2, output=log, extra_args=["--no-access-log"]) as url:
        reported = _lines(log, "example 'over' breaks the contract")
        assert len(reported) == 1, log.read_text()  # once, not once per worker
        assert "GET /api/v1/usage (200)" in reported[0] and "METRIC-004" in reported[0]
        good = requests.get(f"{url}{USAGE}", headers={**auth(), "Prefer": "example=good"}, timeout=5)
        assert (good.status_code, good.json()) == (200, GOOD_EXAMPLE)
        refused = assert_problem(requests.get(f"{url}{USAGE}", headers={**auth(), "Prefer": "example=over"},
                                              timeout=5), 400, "broken-example")
        assert "example 'over'" in refused["detail"] and "METRIC-004" in refused["detail"]
        assert refused["valid"] == ["good"]  # what may be asked for instead
        assert _lines(log, "Traceback") == []

        # An edit noticed by every worker's timer, with no request at all: one line, one reload.
        spec.write_text(json.dumps(_with_examples(good=GOOD_EXAMPLE, worse=_over("spaces"))))
        _eventually(lambda: bool(_lines(log, "contract reloaded")))
        time.sleep(1.5)  # both workers' timers have ticked (interval 0.5 s) and seen the same edit
        assert len(_lines(log, "contract reloaded")) == 1, log.read_text()
        assert len(_lines(log, "example 'worse' breaks the contract")) == 1, log.read_text()
        workers = {}
        for _ in range(24):
            health = control(url, "GET", "/health").json()
            workers[health["worker"]] = health["contract"]["reloads"]
        assert len(workers) == 2 and set(workers.values()) == {1}  # one counter for the server
        worse = requests.get(f"{url}{USAGE}", headers={**auth(), "Prefer": "example=worse"}, timeout=5)
        assert worse.status_code == 400 and worse.json()["type"].endswith("/broken-example")

"""The control API under /__mock/, over real HTTP, against a server with two worker processes.

Two workers on purpose: whatever one worker is told, every worker must serve, and the journal
must show what every worker answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from mockserver.model.scenarios import SCENARIOS
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import (
    OTHER_TOKEN,
    TOKEN,
    USAGE,
    assert_problem,
    auth,
    control,
    journal,
    jwt,
)

pytestmark = pytest.mark.usefixtures("reset_mock_after_test")

REQUESTS_TO_REACH_EVERY_WORKER = 24


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=4, workers=2) as url:
        yield url


def _usage(base_url: str, token: str = TOKEN, **headers: str) -> requests.Response:
    return requests.get(f"{base_url}{USAGE}", headers={**auth(token), **headers}, timeout=5)


def _every_reply(base_url: str, token: str = TOKEN) -> list[requests.Response]:
    """Enough requests, each on a new connection, for both workers to answer some."""
    return [_usage(base_url, token) for _ in range(REQUESTS_TO_REACH_EVERY_WORKER)]


def test_health_names_the_worker_the_contract_and_the_settings(base_url: str) -> None:
    response = control(base_url, "GET", "/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok" and health["mode"] == "mock"
    assert health["worker"] == int(response.headers["X-Mock-Worker"])
    assert health["contract"]["title"] == "Crosmos Memory API"
    assert health["contract"]["operations"] == ["GET /api/v1/usage"]
    assert health["scenario"] == "default" and health["cors_origins"] == ["*"]
    assert health["faults"] == {"latency": None, "error_rate": 0.0, "error_status": 500, "rate_limit": False}
    workers = {control(base_url, "GET", "/health").json()["worker"] for _ in range(REQUESTS_TO_REACH_EVERY_WORKER)}
    assert len(workers) == 2, "the test server should run two workers"


def test_scenarios_are_listed_with_a_valid_sample_each(base_url: str) -> None:
    listing = control(base_url, "GET", "/scenarios?samples=1", headers=auth()).json()
    assert [s["name"] for s in listing["scenarios"]] == list(SCENARIOS)
    assert listing["server_scenario"] == listing["default"] == "default"
    samples = {s["name"]: s["sample"] for s in listing["scenarios"]}
    assert samples["exhausted"]["tokens"]["remaining"] == 0
    for name in SCENARIOS:  # the caller's org, as the API serves it in that scenario
        assert samples[name] == _usage(base_url, **{"X-Mock-Scenario": name}).json(), name
    assert "sample" not in control(base_url, "GET", "/scenarios").json()["scenarios"][0]


def test_a_server_wide_scenario_reaches_every_worker(base_url: str) -> None:
    response = control(base_url, "PUT", "/scenario", json={"scenario": "unlimited"})
    assert response.json() == {"scenario": "unlimited", "source": "control-api"}
    replies = _every_reply(base_url)
    assert all(r.json()["tokens"]["limit"] == -1 for r in replies)
    assert control(base_url, "GET", "/scenario").json() == {"scenario": "unlimited", "source": "control-api"}
    assert control(base_url, "DELETE", "/scenario").json() == {"scenario": "default", "source": "command-line"}
    assert all(r.json()["plan"] != "enterprise" or r.json()["rate_limit_rpm"] != -1 for r in _every_reply(base_url))


def test_a_tokens_scenario_reaches_every_worker_and_only_that_token(base_url: str) -> None:
    response = control(base_url, "PUT", "/tokens/scenario", headers=auth(), json={"scenario": "exhausted"})
    assert response.status_code == 200
    set_reply = response.json()
    assert set_reply["scenario"] == "exhausted" and set_reply["org"].startswith("key:")
    assert TOKEN not in response.text
    assert all(r.json()["tokens"]["remaining"] == 0 and r.headers["X-Mock-Scenario"] == "exhausted"
               for r in _every_reply(base_url))
    assert _usage(base_url, OTHER_TOKEN).headers.get("X-Mock-Scenario") is None
    # A request's own choice still wins over its token's.
    assert _usage(base_url, Prefer="scenario=fresh").json()["tokens"]["used"] == 0
    listed = control(base_url, "GET", "/tokens")
    assert listed.json() == {"tokens": [{"org": set_reply["org"], "token": "api-key", "scenario": "exhausted"}]}
    assert TOKEN not in listed.text
    assert control(base_url, "GET", "/tokens/scenario", headers=auth()).json()["source"] == "token"
    cleared = control(base_url, "DELETE", "/tokens/scenario", headers=auth())
    assert cleared.json()["source"] == "server"
    assert all("X-Mock-Scenario" not in r.headers for r in _every_reply(base_url))


def test_a_jwt_names_its_org_and_a_token_may_come_in_the_body(base_url: str) -> None:
    alice, bob = jwt({"org_id": "acme", "sub": "alice"}), jwt({"org_id": "acme", "sub": "bob"})
    response = control(base_url, "PUT", "/tokens/scenario", json={"token": alice, "scenario": "near-limit"})
    assert response.json() == {"org": "org:acme", "token": "jwt", "scenario": "near-limit"}
    assert _usage(base_url, bob).headers["X-Mock-Scenario"] == "near-limit"  # same org, same state


def test_reset_forgets_everything_clients_changed(base_url: str) -> None:
    control(base_url, "PUT", "/scenario", json={"scenario": "fresh"})
    control(base_url, "PUT", "/tokens/scenario", headers=auth(), json={"scenario": "mixed"})
    control(base_url, "PUT", "/faults", json={"latency": "1ms"})
    _usage(base_url)
    reset = control(base_url, "POST", "/reset")
    assert (reset.status_code, reset.content, reset.headers.get("Content-Type")) == (204, b"", None)
    assert control(base_url, "GET", "/tokens").json() == {"tokens": []}
    assert control(base_url, "GET", "/scenario").json()["source"] == "command-line"
    assert control(base_url, "GET", "/faults").json()["source"] == "command-line"
    assert journal(base_url) == []


def test_the_journal_shows_every_workers_requests_with_their_outcome(base_url: str) -> None:
    assert _usage(base_url).status_code == 200
    assert requests.get(f"{base_url}{USAGE}?start_date=2026-02-30", headers=auth(), timeout=5).status_code == 422
    assert requests.get(f"{base_url}{USAGE}", timeout=5).status_code == 401
    assert _usage(base_url, **{"X-Mock-Scenario": "nope"}).status_code == 400
    assert requests.get(f"{base_url}/api/v2/usage", headers=auth(), timeout=5).status_code == 404
    _every_reply(base_url)
    entries = journal(base_url, limit=200)
    assert len(entries) == 5 + REQUESTS_TO_REACH_EVERY_WORKER
    assert len({e["worker"] for e in entries}) == 2
    oldest = entries[::-1][:5]
    assert [(e["status"], e["request"], e["response"]) for e in oldest] == [
        (200, "valid", "valid"), (422, "invalid", "valid"), (401, "unauthenticated", "valid"),
        (400, "valid", "mock-error"), (404, "not-in-contract", "valid")]
    assert oldest[0]["path"] == USAGE and oldest[0]["scenario"] == "default" and oldest[0]["org"].startswith("key:")
    assert oldest[1]["problems"] == ["query.start_date: Input should be a valid date or datetime, day value is "
                                     "outside expected range"]
    assert "nope" in oldest[3]["problems"][0]
    assert TOKEN not in json.dumps(entries)
    assert len(journal(base_url, limit=3)) == 3


def test_the_journal_never_holds_a_token_even_one_sent_in_the_url(base_url: str) -> None:
    requests.get(f"{base_url}{USAGE}?access_token={TOKEN}&start_date=2026-01-01", headers=auth(), timeout=5)
    requests.get(f"{base_url}/{TOKEN}", headers=auth(), timeout=5)
    text = json.dumps(journal(base_url))
    assert TOKEN not in text and "[REDACTED]" in text


def test_control_requests_are_not_journaled_and_the_journal_can_be_cleared(base_url: str) -> None:
    _usage(base_url)
    control(base_url, "GET", "/health")
    assert [e["path"] for e in journal(base_url)] == [USAGE]
    assert control(base_url, "DELETE", "/journal").status_code == 204
    assert journal(base_url) == []
    _usage(base_url)
    assert len(journal(base_url)) == 1


@pytest.mark.parametrize(("authorization", "reason"), [
    (None, "no Authorization header"),
    ("Basic Y3NrX2pvdXJuYWxfc2VjcmV0", "scheme 'Basic' is not Bearer"),
    ("csk_journal_secret", "the Authorization header has no scheme"),
    ("Bearer csk_journal secret", "an API key has only A-Z, a-z, 0-9, _ and - after its prefix"),
    ("Bearer csk_", "an API key needs at least one character after its prefix"),
    ("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln", "alg 'none'"),
    ("Bearer journal_secret", "neither a csk_ API key nor a JWT"),
])
def test_a_refused_token_is_journaled_with_its_reason_never_the_token(base_url: str, authorization: str | None,
                                                                      reason: str) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    assert requests.get(f"{base_url}{USAGE}", headers=headers, timeout=5).status_code == 401
    entry = journal(base_url, limit=1)[0]
    assert entry["request"] == "unauthenticated" and entry["status"] == 401
    assert any(reason in problem for problem in entry["problems"]), entry
    assert "journal_secret" not in str(entry) and "Y3NrX2pvdXJuYWxfc2VjcmV0" not in str(entry)


def test_faults_can_be_changed_and_restored(base_url: str) -> None:
    changed = control(base_url, "PUT", "/faults", json={"error_rate": "100%", "error_status": 503})
    assert changed.json() == {"latency": None, "error_rate": 1.0, "error_status": 503, "rate_limit": False,
                              "source": "control-api"}
    assert {r.status_code for r in _every_reply(base_url)} == {503}
    assert control(base_url, "DELETE", "/faults").json()["source"] == "command-line"
    assert {r.status_code for r in _every_reply(base_url)} == {200}


def test_put_replaces_the_fault_settings_and_patch_merges_them(base_url: str) -> None:
    """A 429 asked for earlier does not linger when a 503 is asked for with PUT."""
    control(base_url, "PUT", "/faults", json={"rate_limit": True, "latency": "1ms"})
    replaced = control(base_url, "PUT", "/faults", json={"error_rate": 1, "error_status": 503}).json()
    assert replaced == {"latency": None, "error_rate": 1.0, "error_status": 503, "rate_limit": False,
                        "source": "control-api"}
    merged = control(base_url, "PATCH", "/faults", json={"latency": "5ms"}).json()
    assert merged == {"latency": "5ms", "error_rate": 1.0, "error_status": 503, "rate_limit": False,
                      "source": "control-api"}
    assert control(base_url, "GET", "/faults").json() == merged
    assert_problem(control(base_url, "PATCH", "/faults", json={"jitter": 1}), 400, "bad-control-request")
    control(base_url, "DELETE", "/faults")


@pytest.mark.parametrize(("payload", "detail"), [
    ({"latency": "soon"}, "latency"), ({"error_rate": 2}, "between 0 and 1"), ({"error_status": 200}, "400-599"),
    ({"rate_limit": "yes"}, "true or false"), ({"jitter": 1}, "unknown fault setting"),
])
def test_bad_fault_settings_are_refused(base_url: str, payload: dict[str, object], detail: str) -> None:
    body = assert_problem(control(base_url, "PUT", "/faults", json=payload), 400, "bad-control-request")
    assert detail in body["detail"]


def test_live_usage_needs_to_be_switched_on(base_url: str) -> None:
    assert_problem(control(base_url, "POST", "/usage", headers=auth(), json={"amount": 5}), 409, "live-usage-off")


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "kind"), [
    ("PUT", "/scenario", {"json": {"scenario": "nearly-full"}}, 400, "unknown-scenario"),
    ("PUT", "/scenario", {"json": {}}, 400, "bad-control-request"),
    ("PUT", "/scenario", {"data": "{not json"}, 400, "bad-control-request"),
    ("PUT", "/scenario", {"json": ["fresh"]}, 400, "bad-control-request"),
    ("PUT", "/tokens/scenario", {"json": {"scenario": "fresh"}}, 400, "missing-token"),
    ("PUT", "/tokens/scenario", {"json": {"scenario": "fresh", "token": "garbage"}}, 400, "invalid-token"),
    ("GET", "/journal?limit=lots", {}, 400, "bad-control-request"),
    ("GET", "/nothing-here", {}, 404, "unknown-control-endpoint"),
    ("POST", "/health", {}, 405, "method-not-allowed"),
    ("POST", "/reload/", {"data": "x"}, 404, "unknown-control-endpoint"),
])
def test_control_errors_are_problem_json_with_stable_types(base_url: str, method: str, path: str,
                                                           kwargs: dict[str, object], status: int, kind: str) -> None:
    body = assert_problem(control(base_url, method, path, **kwargs), status, kind)
    if kind == "unknown-scenario":
        assert body["valid"] == list(SCENARIOS)
    if kind == "unknown-control-endpoint":
        assert "/__mock/health (GET)" in body["valid"]


def test_a_wrong_method_names_the_allowed_ones(base_url: str) -> None:
    response = control(base_url, "PATCH", "/scenario", json={"scenario": "fresh"})
    assert response.status_code == 405 and response.headers["Allow"] == "DELETE, GET, PUT"


def test_without_the_control_api_its_prefix_is_just_an_unknown_path() -> None:
    with running_mock(extra_args=["--no-control"]) as url:
        response = control(url, "GET", "/health")
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
        assert requests.get(f"{url}{USAGE}", headers=auth(), timeout=5).status_code == 200

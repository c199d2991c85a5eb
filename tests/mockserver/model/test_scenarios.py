"""Scenarios: every UI state on demand, every body still within the contract and the rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from crosmos_contract import consistency, default_contract_path, rules
from mockserver.app import create_app
from mockserver.cli import main
from mockserver.model.scenarios import SCENARIOS
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import TOKEN, USAGE, assert_problem, auth, jwt

pytestmark = pytest.mark.usefixtures("reset_mock_after_test")

TODAYS = (date(2026, 11, 25), date(2024, 2, 29), date(2027, 1, 1), date(2026, 12, 31))
APPS = {today: create_app(seed=7, clock=lambda today=today: today, access_log=False, journal_size=0)
        for today in TODAYS}
NAMES = sorted(SCENARIOS)


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(default_contract_path()))


def _get(app: Flask, scenario: str, token: str, start: date | None = None, end: date | None = None) -> Any:
    query = {k: v.isoformat() for k, v in (("start_date", start), ("end_date", end)) if v is not None}
    headers = {**auth(token), "X-Mock-Scenario": scenario}
    return app.test_client().get(USAGE, query_string=query, headers=headers)


tokens = st.one_of(st.from_regex(r"csk_[A-Za-z0-9]{8,16}", fullmatch=True),
                   st.sampled_from(["org-a", "org-b", "acme"]).map(lambda org: jwt({"org_id": org})))
offsets = st.integers(min_value=-800, max_value=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=st.sampled_from(NAMES), today=st.sampled_from(TODAYS), token=tokens,
       start_offset=st.one_of(st.none(), offsets), length=st.integers(min_value=0, max_value=400))
def test_every_scenario_answers_within_the_contract_and_the_rules(
        openapi: OpenAPI, scenario: str, today: date, token: str, start_offset: int | None, length: int) -> None:
    app = APPS[today]
    start = today + timedelta(days=start_offset) if start_offset is not None else None
    end = start + timedelta(days=length) if start is not None else None
    response = _get(app, scenario, token, start, end)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert rules.check_usage_body(body, today_candidates=[today], start_param=start, end_param=end) == []
    query = {k: v.isoformat() for k, v in (("start_date", start), ("end_date", end)) if v is not None}
    with app.test_request_context(USAGE, query_string=query, headers=auth(token)) as ctx:
        openapi.validate_response(WerkzeugOpenAPIRequest(ctx.request), WerkzeugOpenAPIResponse(response))
    # A window inside the default billing period never uses more (CONSIST-003), limits never move (CONSIST-004).
    period = _get(app, scenario, token).get_json()
    if start is not None and end is not None and rules.first_of_month(today) <= start and end <= today:
        assert consistency.check_window_monotonic(body, period) == []
    assert consistency.check_window_independent(body, period) == []


@settings(max_examples=60, deadline=None)
@given(today=st.sampled_from(TODAYS), token=tokens)
def test_each_scenario_shows_the_state_it_promises_over_the_billing_period(today: date, token: str) -> None:
    app = APPS[today]
    bodies = {name: _get(app, name, token).get_json() for name in NAMES}
    metrics = rules.METRIC_NAMES

    def share(body: dict[str, Any], name: str) -> float:
        return float(body[name]["used"]) / float(body[name]["limit"])

    assert all(bodies["fresh"][m]["used"] == 0 and bodies["fresh"][m]["remaining"] == bodies["fresh"][m]["limit"]
               for m in metrics)
    assert all(0.90 <= share(bodies["near-limit"], m) <= 0.99 and bodies["near-limit"][m]["remaining"] > 0
               for m in metrics)
    assert all(bodies["exhausted"][m]["used"] == bodies["exhausted"][m]["limit"] > 0
               and bodies["exhausted"][m]["remaining"] == 0 for m in metrics)
    assert all(bodies["over-quota"][m]["used"] > bodies["over-quota"][m]["limit"]
               and bodies["over-quota"][m]["remaining"] == 0 for m in metrics)
    unlimited = bodies["unlimited"]
    assert all(unlimited[m]["limit"] == unlimited[m]["remaining"] == -1 for m in metrics)
    assert unlimited["rate_limit_rpm"] == unlimited["rate_limit_per_day"] == -1
    mixed = bodies["mixed"]
    assert 0.90 <= share(mixed, "tokens") <= 0.99
    assert mixed["queries"]["remaining"] == 0 and mixed["queries"]["used"] == mixed["queries"]["limit"]
    assert mixed["spaces"]["limit"] == mixed["spaces"]["remaining"] == -1
    assert bodies["default"] == app.test_client().get(USAGE, headers=auth(token)).get_json()


def test_a_scenario_is_stable_for_an_org_and_differs_between_orgs() -> None:
    app = APPS[TODAYS[0]]
    first = _get(app, "near-limit", "csk_alpha_12345678").get_json()
    assert _get(app, "near-limit", "csk_alpha_12345678").get_json() == first
    assert _get(app, "near-limit", "csk_bravo_12345678").get_json()["tokens"] != first["tokens"]
    # Tokens of one org (a JWT's org claim) see one state, as they see one ledger.
    assert _get(app, "near-limit", jwt({"org_id": "acme", "sub": "1"})).get_json() == \
        _get(app, "near-limit", jwt({"org_id": "acme", "sub": "2"})).get_json()


# --- over real HTTP --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=5, workers=2) as url:
        yield url


@pytest.mark.parametrize("how", ["prefer", "header", "query"])
def test_a_request_chooses_its_scenario_three_ways(base_url: str, how: str) -> None:
    url, headers = f"{base_url}{USAGE}", auth()
    if how == "prefer":
        headers["Prefer"] = "scenario=exhausted"
    elif how == "header":
        headers["X-Mock-Scenario"] = "exhausted"
    else:
        url += "?__scenario=exhausted"
    response = requests.get(url, headers=headers, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["tokens"]["remaining"] == 0 and body["plan"] == "free"
    assert response.headers["X-Mock-Scenario"] == "exhausted"
    assert response.headers["Preference-Applied"] == "scenario=exhausted"
    assert rules.check_usage_body(body, today_candidates=[date.fromisoformat(body["period_end"])],
                                  start_param=None, end_param=None) == []


def test_the_query_wins_over_prefer_which_wins_over_the_header(base_url: str) -> None:
    headers = {**auth(), "Prefer": "scenario=unlimited", "X-Mock-Scenario": "fresh"}
    assert requests.get(f"{base_url}{USAGE}", headers=headers, timeout=5).headers["X-Mock-Scenario"] == "unlimited"
    assert requests.get(f"{base_url}{USAGE}?__scenario=mixed", headers=headers,
                        timeout=5).headers["X-Mock-Scenario"] == "mixed"


@pytest.mark.parametrize("headers", [{"Prefer": "scenario=nearly-full"}, {"X-Mock-Scenario": "nearly-full"}])
def test_an_unknown_scenario_is_refused_with_the_valid_ones(base_url: str, headers: dict[str, str]) -> None:
    response = requests.get(f"{base_url}{USAGE}", headers={**auth(), **headers}, timeout=5)
    body = assert_problem(response, 400, "unknown-scenario")
    assert body["valid"] == list(SCENARIOS)
    assert "nearly-full" in body["detail"] and "near-limit" in body["detail"]


def test_scenario_names_are_case_insensitive(base_url: str) -> None:
    response = requests.get(f"{base_url}{USAGE}", headers={**auth(), "X-Mock-Scenario": "Near-Limit"}, timeout=5)
    assert response.status_code == 200 and response.headers["X-Mock-Scenario"] == "near-limit"


def test_contract_errors_come_before_the_scenario(base_url: str) -> None:
    """Credentials and parameters are judged as production judges them, whatever scenario is asked for."""
    no_token = requests.get(f"{base_url}{USAGE}", headers={"X-Mock-Scenario": "fresh"}, timeout=5)
    assert no_token.status_code == 401 and no_token.json() == {"detail": "Not authenticated"}
    bad_date = requests.get(f"{base_url}{USAGE}?start_date=2026-02-30",
                            headers={**auth(), "X-Mock-Scenario": "fresh"}, timeout=5)
    assert bad_date.status_code == 422 and bad_date.json()["detail"][0]["loc"] == ["query", "start_date"]


def test_a_plain_request_is_unchanged_by_the_scenario_machinery(base_url: str) -> None:
    plain = requests.get(f"{base_url}{USAGE}", headers=auth(), timeout=5)
    assert plain.status_code == 200
    assert "X-Mock-Scenario" not in plain.headers and "Preference-Applied" not in plain.headers
    default = requests.get(f"{base_url}{USAGE}", headers={**auth(), "X-Mock-Scenario": "default"}, timeout=5)
    assert default.json() == plain.json()


def test_a_server_wide_scenario_is_certified_by_the_conformance_suite() -> None:
    """Set with --scenario (live usage on too), and judged by the kit's own suite at level full."""
    tokens = ["--token", TOKEN, "--token", "csk_another_org_1234", "--token", "csk_certify_12345678"]  # as a server
    with running_mock(seed=5, extra_args=["--scenario", "over-quota", "--live-usage", "tokens:1000", *tokens]) as url:
        body = requests.get(f"{url}{USAGE}", headers=auth(), timeout=5).json()
        assert body["tokens"]["used"] > body["tokens"]["limit"] and body["tokens"]["remaining"] == 0
        headers = {**auth("csk_another_org_1234"), "X-Mock-Scenario": "fresh"}
        assert requests.get(f"{url}{USAGE}", headers=headers, timeout=5).json()["tokens"]["used"] == 0
        assert requests.get(f"{url}{USAGE}", headers=headers, timeout=5).json()["tokens"]["used"] == 1000  # live
        run = subprocess.run([sys.executable, "-m", "conformance.cli", "run", "--base-url", url, "--token",
                              "csk_certify_12345678", "--profile", "smoke", "--level", "full", "--seed", "1"],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert "CONFORMANT at level full" in run.stdout


def test_an_unknown_scenario_on_the_command_line_is_one_clear_error() -> None:
    result = CliRunner().invoke(main, ["--scenario", "nearly-full"])
    assert result.exit_code == 2
    assert "Invalid value for '--scenario'" in result.output and "near-limit" in result.output

"""Live usage: calls raise an org's ``used`` during the day, and every rule still holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from click.testing import CliRunner

from crosmos_contract import consistency, rules
from mockserver.cli import main
from mockserver.model.live_usage import parse_live_usage
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import OTHER_TOKEN, TOKEN, USAGE, assert_problem, auth, control, reset

pytestmark = pytest.mark.usefixtures("reset_mock_after_test")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=8, workers=2, extra_args=["--live-usage", "queries"]) as url:
        yield url


def _usage(base_url: str, token: str = TOKEN, query: str = "", **headers: str) -> dict[str, Any]:
    response = requests.get(f"{base_url}{USAGE}{query}", headers={**auth(token), **headers}, timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    today = date.fromisoformat(control(base_url, "GET", "/health").json()["today"])
    asked = dict(parse_qsl(query.lstrip("?")))  # what the request named, not what the body says
    start = date.fromisoformat(asked["start_date"]) if "start_date" in asked else None
    end = date.fromisoformat(asked["end_date"]) if "end_date" in asked else None
    assert rules.check_usage_body(body, today_candidates=[today], start_param=start, end_param=end) == []
    return body


def test_every_call_counts_one_query_for_its_org_across_workers(base_url: str) -> None:
    health = control(base_url, "GET", "/health").json()
    assert health["live_usage"] == {"metric": "queries", "per_call": 1}
    first = _usage(base_url)
    bodies = [_usage(base_url) for _ in range(10)]
    assert [b["queries"]["used"] - first["queries"]["used"] for b in bodies] == list(range(1, 11))
    for before, after in zip([first, *bodies], bodies, strict=False):
        assert consistency.check_stable_between(before, after) == []  # CONSIST-001/002: only used grows
    assert bodies[-1]["queries"]["remaining"] == rules.remaining_for(bodies[-1]["queries"]["limit"],
                                                                     bodies[-1]["queries"]["used"])
    assert bodies[-1]["tokens"] == first["tokens"]  # only the counted metric moves
    other = _usage(base_url, OTHER_TOKEN)
    assert _usage(base_url, OTHER_TOKEN)["queries"]["used"] == other["queries"]["used"] + 1


def test_usage_added_today_stays_out_of_windows_that_end_before_today(base_url: str) -> None:
    today = date.fromisoformat(control(base_url, "GET", "/health").json()["today"])
    yesterday = (today - timedelta(days=1)).isoformat()
    window = f"?start_date={(today - timedelta(days=40)).isoformat()}&end_date={yesterday}"
    before = _usage(base_url, query=window)
    for _ in range(3):
        _usage(base_url)
    after = _usage(base_url, query=window)
    assert after == before
    wide = _usage(base_url, query=f"?start_date={(today - timedelta(days=40)).isoformat()}")
    assert consistency.check_window_monotonic(after, wide) == []  # CONSIST-003, today's calls included
    narrow = _usage(base_url, query=f"?start_date={today.isoformat()}")
    assert consistency.check_window_monotonic(narrow, _usage(base_url)) == []


def test_usage_can_be_pushed_through_the_control_api(base_url: str) -> None:
    before = _usage(base_url, **{"X-Mock-Scenario": "near-limit"})
    added = control(base_url, "POST", "/usage", headers=auth(), json={"metric": "tokens", "amount": 2_000_000})
    assert added.status_code == 200 and added.json()["added"] == 2_000_000 and TOKEN not in added.text
    after = _usage(base_url, **{"X-Mock-Scenario": "near-limit"})
    assert after["tokens"]["used"] == before["tokens"]["used"] + 2_000_000
    assert after["tokens"]["used"] > after["tokens"]["limit"] and after["tokens"]["remaining"] == 0  # METRIC-004
    assert after["plan"] == before["plan"] and after["tokens"]["limit"] == before["tokens"]["limit"]


def test_reset_forgets_live_usage(base_url: str) -> None:
    first = _usage(base_url)
    for _ in range(3):
        _usage(base_url)
    reset(base_url)
    assert _usage(base_url)["queries"]["used"] == first["queries"]["used"]


@pytest.mark.parametrize(("payload", "kind"), [
    ({"metric": "coffee", "amount": 1}, "bad-control-request"),
    ({"metric": "tokens", "amount": -5}, "bad-control-request"),
    ({"metric": "tokens", "amount": "5"}, "bad-control-request"),
    ({"metric": "tokens", "amount": 5, "date": "2026-01-01"}, "bad-control-request"),  # not silently today
])
def test_bad_usage_additions_are_refused(base_url: str, payload: dict[str, object], kind: str) -> None:
    assert_problem(control(base_url, "POST", "/usage", headers=auth(), json=payload), 400, kind)
    assert_problem(control(base_url, "POST", "/usage", json=payload), 400, "missing-token")


def test_the_live_usage_option() -> None:
    assert parse_live_usage("queries") == ("queries", 1)
    assert parse_live_usage("Tokens:1500") == ("tokens", 1500)
    for bad in ("coffee", "tokens:lots", "tokens:0"):
        result = CliRunner().invoke(main, ["--live-usage", bad])
        assert result.exit_code == 2 and "Invalid value for '--live-usage'" in result.output

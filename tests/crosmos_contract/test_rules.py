"""The rules module: each rule fires on its own defect, and only there."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crosmos_contract import catalogue, consistency, load_contract, rules

TODAY = date(2026, 11, 25)


def body(**changes: Any) -> dict[str, Any]:
    good: dict[str, Any] = {
        "plan": "pro", "period_start": "2026-11-01", "period_end": "2026-11-25",
        "tokens": {"used": 1200, "limit": 1000, "remaining": 0},
        "queries": {"used": 10, "limit": 100, "remaining": 90},
        "spaces": {"used": 3, "limit": -1, "remaining": -1},
        "rate_limit_rpm": 600, "rate_limit_per_day": 20000,
    }
    good.update(changes)
    return good


def ids(found: list[rules.Violation]) -> list[str]:
    return [v.rule_id for v in found]


def judge(b: dict[str, Any], start: date | None = None, end: date | None = None) -> list[str]:
    return ids(rules.check_usage_body(b, today_candidates=[TODAY], start_param=start, end_param=end))


def test_a_correct_body_breaks_nothing() -> None:
    assert judge(body()) == []
    assert judge(body(period_start="2026-01-01", period_end="2026-02-01"), date(2026, 1, 1), date(2026, 2, 1)) == []


@pytest.mark.parametrize(("changes", "start", "end", "expected"), [
    ({"period_start": "2026-10-26"}, None, None, ["PERIOD-001"]),
    ({"period_end": "2026-11-30"}, None, None, ["PERIOD-002"]),
    ({"period_start": "2026-11-01"}, date(2026, 10, 1), None, ["PERIOD-003"]),
    ({"period_end": "2026-11-25"}, None, date(2026, 11, 20), ["PERIOD-003"]),
    ({"period_start": "2026-11-20", "period_end": "2026-11-10"}, date(2026, 11, 20), date(2026, 11, 10),
     ["PERIOD-004"]),
    ({"tokens": {"used": -1, "limit": 10, "remaining": 10}}, None, None, ["METRIC-001"]),
    ({"tokens": {"used": 1, "limit": -5, "remaining": 0}}, None, None, ["METRIC-002"]),
    ({"spaces": {"used": 1, "limit": -1, "remaining": 0}}, None, None, ["METRIC-003"]),
    ({"tokens": {"used": 1200, "limit": 1000, "remaining": -200}}, None, None, ["METRIC-004"]),
    ({"queries": {"used": 10, "limit": 100, "remaining": 91}}, None, None, ["METRIC-005"]),
    ({"rate_limit_rpm": 0}, None, None, ["METRIC-006"]),
    ({"rate_limit_per_day": 59, "rate_limit_rpm": 60}, None, None, ["METRIC-007"]),
    ({"plan": "  "}, None, None, ["METRIC-008"]),
])
def test_each_rule_fires_on_its_own_defect(changes: dict[str, Any], start: date | None, end: date | None,
                                           expected: list[str]) -> None:
    assert judge(body(**changes), start, end) == expected


@pytest.mark.parametrize("changes", [
    {"tokens": {"used": "12", "limit": "100", "remaining": "88"}},
    {"tokens": {"used": True, "limit": 10, "remaining": 9.0}},
    {"period_start": "2026-11-01T00:00:00Z"}, {"rate_limit_rpm": "600"}, {"plan": None}, {"tokens": None},
])
def test_type_errors_are_left_to_the_schema_check(changes: dict[str, Any]) -> None:
    assert judge(body(**changes)) == []


def test_either_day_counts_as_today_across_midnight() -> None:
    late = body(period_start="2026-11-01", period_end="2026-11-30")
    both = [date(2026, 11, 30), date(2026, 12, 1)]
    assert rules.check_period(late, today_candidates=both, start_param=None, end_param=None) == []
    next_month = body(period_start="2026-12-01", period_end="2026-12-01")
    assert rules.check_period(next_month, today_candidates=both, start_param=None, end_param=None) == []


def test_defaults_and_window_validity() -> None:
    assert rules.default_period(TODAY, None, None) == (date(2026, 11, 1), TODAY)
    assert rules.default_period(TODAY, None, date(2026, 10, 1)) == (date(2026, 11, 1), date(2026, 10, 1))
    assert not rules.window_is_valid(date(2026, 11, 1), date(2026, 10, 1))
    assert rules.remaining_for(-1, 10**9) == -1 and rules.remaining_for(10, 11) == 0


def test_every_rule_id_is_in_the_catalogue() -> None:
    used = {rule_id for module in (rules, consistency)
            for rule_id in re.findall(r'Violation\("([A-Z]+-\d{3})"', Path(module.__file__).read_text())}
    assert len(used) >= 17 and used <= set(catalogue.BY_ID)


def test_the_embedded_contract_is_the_usage_contract() -> None:
    contract = load_contract()
    raw = json.loads(contract.path.read_text())
    assert raw == contract.raw
    operation = contract.resolved["paths"]["/api/v1/usage"]["get"]
    assert operation["operationId"] == "get_usage_api_v1_usage_get"
    assert [p["name"] for p in operation["parameters"]] == ["start_date", "end_date"]
    assert set(operation["responses"]) == {"200", "422"}
    usage = contract.resolved["components"]["schemas"]["UsageResponse"]
    assert set(usage["required"]) == {"plan", "period_start", "period_end", "tokens", "queries", "spaces",
                                      "rate_limit_rpm", "rate_limit_per_day"}

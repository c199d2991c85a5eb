"""The rules module: each rule fires on its own defect, and only there."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crosmos_contract import catalogue, load_contract, rules

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


def test_cross_request_rules() -> None:
    a = body()
    assert rules.check_stable_between(a, a) == []
    assert ids(rules.check_stable_between(a, body(plan="team"))) == ["CONSIST-001"]
    assert ids(rules.check_stable_between(a, body(queries={"used": 9, "limit": 100, "remaining": 91}))) == [
        "CONSIST-002"]
    wide = body(period_start="2026-01-01", tokens={"used": 1000, "limit": 1000, "remaining": 0})
    assert ids(rules.check_window_monotonic(a, wide)) == ["CONSIST-003"]
    assert ids(rules.check_window_independent(a, body(rate_limit_rpm=60))) == ["CONSIST-004"]
    grown = body(tokens={"used": 1300, "limit": 1000, "remaining": 0})
    assert rules.check_explicit_default(a, grown) == []
    assert ids(rules.check_explicit_default(a, body(period_end="2026-11-24"))) == ["CONSIST-005"]


def test_every_rule_id_is_in_the_catalogue() -> None:
    used = set(re.findall(r'Violation\("([A-Z]+-\d{3})"', Path(rules.__file__).read_text()))
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


def test_the_explicit_default_window_compares_the_contracts_fields_only() -> None:
    """An extra field that varies per call (the schema allows extra fields) is no CONSIST-005."""
    implicit = {**body(), "request_id": "req-1", "served_at": 1}
    explicit = {**body(), "request_id": "req-2", "served_at": 2}
    assert rules.check_explicit_default(implicit, explicit) == []
    changed = {**explicit, "plan": "team"}
    assert [v.rule_id for v in rules.check_explicit_default(implicit, changed)] == ["CONSIST-005"]


def test_window_messages_quote_the_windows_asked_for_not_the_periods_returned() -> None:
    """A server that does not echo dates answered both with the same period: quote what was asked."""
    inner, outer = body(), body(tokens={"used": 5, "limit": 1000, "remaining": 995}, plan="team")
    [shrinks] = rules.check_window_monotonic(inner, outer, "2026-11-08..2026-11-14", "2026-11-01..2026-11-30")
    assert "asked as 2026-11-01..2026-11-30" in shrinks.message and "narrower 2026-11-08..2026-11-14" in shrinks.message
    [depends] = rules.check_window_independent(inner, outer, "default..default", "2026-10-01..2026-10-31")
    assert "asked as default..default and 2026-10-01..2026-10-31" in depends.message


def _used(tokens: int, queries: int, spaces: int = 3) -> dict[str, Any]:
    return body(tokens={"used": tokens, "limit": -1, "remaining": -1},
                queries={"used": queries, "limit": -1, "remaining": -1},
                spaces={"used": spaces, "limit": -1, "remaining": -1})


def test_adjacent_windows_add_up_for_tokens_and_queries() -> None:
    assert rules.check_window_additive(_used(100, 10), _used(25, 1), _used(125, 11)) == []
    # Spaces count what exists: three spaces in each half and in the whole is no defect.
    assert rules.check_window_additive(_used(100, 10, 3), _used(25, 1, 3), _used(125, 11, 3)) == []
    assert rules.check_window_additive(_used(0, 0), _used(0, 0), _used(0, 0)) == []


@pytest.mark.parametrize(("whole", "metrics"), [
    (_used(150, 11), ["tokens"]),  # a day counted twice
    (_used(125, 10), ["queries"]),  # a day lost
    (_used(0, 0), ["tokens", "queries"]),
])
def test_adjacent_windows_that_do_not_add_up(whole: dict[str, Any], metrics: list[str]) -> None:
    found = rules.check_window_additive(_used(100, 10), _used(25, 1), whole,
                                        "2024-02-01..2024-02-28", "2024-02-29..2024-02-29", "2024-02-01..2024-02-29")
    assert ids(found) == ["CONSIST-006"] * len(metrics)
    assert [v.message.split(".used", 1)[0].removeprefix("Received ") for v in found] == metrics
    first = found[0].message
    assert "asked as 2024-02-01..2024-02-28 plus" in first and "adjacent 2024-02-29..2024-02-29" in first
    assert "for 2024-02-01..2024-02-29 / Expected" in first


def test_additivity_skips_what_the_schema_check_reports() -> None:
    broken = body(tokens={"used": "100", "limit": -1, "remaining": -1}, queries=None)
    assert rules.check_window_additive(broken, _used(25, 1), _used(125, 11)) == []


def test_a_future_window_uses_nothing() -> None:
    assert rules.check_future_window_unused(_used(0, 0, spaces=7)) == []  # spaces exist already
    found = rules.check_future_window_unused(_used(12, 0), "2027-01-01..2027-01-31")
    assert ids(found) == ["CONSIST-007"]
    assert "tokens.used 12 for the window asked as 2027-01-01..2027-01-31" in found[0].message
    assert ids(rules.check_future_window_unused(_used(1, 1))) == ["CONSIST-007", "CONSIST-007"]
    assert "2026-11-01..2026-11-25" in rules.check_future_window_unused(_used(1, 0))[0].message  # the body's own
    assert rules.check_future_window_unused(body(tokens={"used": 1.5}, queries={})) == []

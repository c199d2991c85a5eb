"""The cross-response rules: each fires on its own defect between answers, and only there."""

from __future__ import annotations

from typing import Any

import pytest

from crosmos_contract import consistency
from tests.crosmos_contract.test_rules import body, ids


def test_cross_request_rules() -> None:
    a = body()
    assert consistency.check_stable_between(a, a) == []
    assert ids(consistency.check_stable_between(a, body(plan="team"))) == ["CONSIST-001"]
    assert ids(consistency.check_stable_between(a, body(queries={"used": 9, "limit": 100, "remaining": 91}))) == [
        "CONSIST-002"]
    wide = body(period_start="2026-01-01", tokens={"used": 1000, "limit": 1000, "remaining": 0})
    assert ids(consistency.check_window_monotonic(a, wide)) == ["CONSIST-003"]
    assert ids(consistency.check_window_independent(a, body(rate_limit_rpm=60))) == ["CONSIST-004"]
    grown = body(tokens={"used": 1300, "limit": 1000, "remaining": 0})
    assert consistency.check_explicit_default(a, grown) == []
    assert ids(consistency.check_explicit_default(a, body(period_end="2026-11-24"))) == ["CONSIST-005"]


def test_the_explicit_default_window_compares_the_contracts_fields_only() -> None:
    """An extra field that varies per call (the schema allows extra fields) is no CONSIST-005."""
    implicit = {**body(), "request_id": "req-1", "served_at": 1}
    explicit = {**body(), "request_id": "req-2", "served_at": 2}
    assert consistency.check_explicit_default(implicit, explicit) == []
    changed = {**explicit, "plan": "team"}
    assert [v.rule_id for v in consistency.check_explicit_default(implicit, changed)] == ["CONSIST-005"]


def test_window_messages_quote_the_windows_asked_for_not_the_periods_returned() -> None:
    """A server that does not echo dates answered both with the same period: quote what was asked."""
    inner, outer = body(), body(tokens={"used": 5, "limit": 1000, "remaining": 995}, plan="team")
    [shrinks] = consistency.check_window_monotonic(inner, outer, "2026-11-08..2026-11-14", "2026-11-01..2026-11-30")
    assert "asked as 2026-11-01..2026-11-30" in shrinks.message and "narrower 2026-11-08..2026-11-14" in shrinks.message
    [depends] = consistency.check_window_independent(inner, outer, "default..default", "2026-10-01..2026-10-31")
    assert "asked as default..default and 2026-10-01..2026-10-31" in depends.message


def _used(tokens: int, queries: int, spaces: int = 3) -> dict[str, Any]:
    return body(tokens={"used": tokens, "limit": -1, "remaining": -1},
                queries={"used": queries, "limit": -1, "remaining": -1},
                spaces={"used": spaces, "limit": -1, "remaining": -1})


def test_adjacent_windows_add_up_for_tokens_and_queries() -> None:
    assert consistency.check_window_additive(_used(100, 10), _used(25, 1), _used(125, 11)) == []
    # Spaces count what exists: three spaces in each half and in the whole is no defect.
    assert consistency.check_window_additive(_used(100, 10, 3), _used(25, 1, 3), _used(125, 11, 3)) == []
    assert consistency.check_window_additive(_used(0, 0), _used(0, 0), _used(0, 0)) == []


@pytest.mark.parametrize(("whole", "metrics"), [
    (_used(150, 11), ["tokens"]),  # a day counted twice
    (_used(125, 10), ["queries"]),  # a day lost
    (_used(0, 0), ["tokens", "queries"]),
])
def test_adjacent_windows_that_do_not_add_up(whole: dict[str, Any], metrics: list[str]) -> None:
    found = consistency.check_window_additive(_used(100, 10), _used(25, 1), whole,
                                        "2024-02-01..2024-02-28", "2024-02-29..2024-02-29", "2024-02-01..2024-02-29")
    assert ids(found) == ["CONSIST-006"] * len(metrics)
    assert [v.message.split(".used", 1)[0].removeprefix("Received ") for v in found] == metrics
    first = found[0].message
    assert "asked as 2024-02-01..2024-02-28 plus" in first and "adjacent 2024-02-29..2024-02-29" in first
    assert "for 2024-02-01..2024-02-29 / Expected" in first


def test_additivity_skips_what_the_schema_check_reports() -> None:
    broken = body(tokens={"used": "100", "limit": -1, "remaining": -1}, queries=None)
    assert consistency.check_window_additive(broken, _used(25, 1), _used(125, 11)) == []


def test_a_future_window_uses_nothing() -> None:
    assert consistency.check_future_window_unused(_used(0, 0, spaces=7)) == []  # spaces exist already
    found = consistency.check_future_window_unused(_used(12, 0), "2027-01-01..2027-01-31")
    assert ids(found) == ["CONSIST-007"]
    assert "tokens.used 12 for the window asked as 2027-01-01..2027-01-31" in found[0].message
    assert ids(consistency.check_future_window_unused(_used(1, 1))) == ["CONSIST-007", "CONSIST-007"]
    assert "2026-11-01..2026-11-25" in consistency.check_future_window_unused(_used(1, 0))[0].message  # the body's own
    assert consistency.check_future_window_unused(body(tokens={"used": 1.5}, queries={})) == []

"""The calendar-rules probes' dates, as data: derived from the calendar's rules and the server's today."""

from __future__ import annotations

import calendar
from datetime import date

from conformance.probes.calendar_rules import calendar_cases
from crosmos_contract.expectations import Reading, read_date

TODAY = date(2026, 12, 6)


def test_every_calendar_rule_is_met_in_both_directions() -> None:
    cases = calendar_cases(TODAY)
    by_value = {value: kind for _, value, kind in cases}
    # Each month's last day (valid) and the day after it (invalid) in a common year; Feb 30 in a leap year.
    for year in (2025,):
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            assert by_value[f"{year}-{month:02d}-{last:02d}"] == "valid"
            assert by_value[f"{year}-{month:02d}-{last + 1:02d}"] == "invalid"
    # The leap rules: by 4 (2024), not by 100 (1900, 2100), but by 400 (2000).
    assert by_value["2024-02-29"] == "valid" and by_value["2025-02-29"] == by_value["2024-02-30"] == "invalid"
    assert by_value["1900-02-29"] == by_value["2100-02-29"] == "invalid"
    assert by_value["2000-02-29"] == "valid" and by_value["0004-02-29"] == "valid"
    assert by_value["0001-02-29"] == "invalid" and by_value["9996-02-29"] == "valid"
    # Field bounds and year 0000.
    assert {by_value[v] for v in ("2026-01-00", "2026-00-15", "2026-13-01", "9999-12-32")} == {"invalid"}
    assert by_value["0001-01-01"] == by_value["9999-12-31"] == "valid"
    assert by_value["0000-01-01"] == "unclear"


def test_the_calendar_cases_agree_with_the_judges_reading_of_dates() -> None:
    expected = {"valid": Reading.VALID, "invalid": Reading.INVALID, "unclear": Reading.UNCLEAR}
    for label, value, kind in calendar_cases(TODAY):
        assert read_date("start_date", [value]).reading is expected[kind], (label, value)


def test_the_years_follow_the_servers_today() -> None:
    later = {value for _, value, _ in calendar_cases(date(2101, 3, 1))}
    assert "2100-02-28" in later and "2200-02-29" in later  # the next century year that is not leap

"""The probes round 3 added, as data: derived from the calendar's rules and the token's shape."""

from __future__ import annotations

import calendar
from datetime import date

from conformance.probes import Calendar, additive_triples, calendar_cases, decode_jwt, jwt_variants
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


def test_jwts_never_issued_for_a_key_and_tampered_ones_for_a_jwt() -> None:
    for_key = dict(jwt_variants("csk_live_0123456789"))
    assert len(for_key) == 8 and all(value.startswith("Bearer ") for value in for_key.values())
    token = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwib3JnIjoiYWNtZSJ9."
             "c2lnbmF0dXJlLW9mLXRoZS1yZWFsLXRva2Vu")
    assert decode_jwt(token) is not None and decode_jwt("csk_live_0123456789") is None
    for_jwt = dict(jwt_variants(token))
    assert len(for_jwt) == 12
    altered = for_jwt["auth:real-jwt-claims-altered-signature-kept"].removeprefix("Bearer ")
    assert altered.split(".")[2] == token.split(".")[2] and altered.split(".")[1] != token.split(".")[1]
    assert token not in for_jwt.values()


def test_additive_triples_are_adjacent_settled_and_of_several_sizes() -> None:
    cal = Calendar(TODAY)
    triples = additive_triples(cal)
    sizes = {((left[1] - left[0]).days + 1, (right[1] - right[0]).days + 1) for left, right in triples}
    assert len(sizes) == len(triples) >= 4
    for left, right in triples:
        assert (right[0] - left[1]).days == 1 and right[1] < TODAY

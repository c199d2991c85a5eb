"""How a sent request is read: which dates are dates, which credentials are the user's."""

from __future__ import annotations

from datetime import date

import pytest

from crosmos_contract.expectations import AuthReading, Reading, Window, expect, read_auth, read_date

TOKEN = "csk_user_token_12345678"
TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(("raw", "reading", "value"), [
    ("2026-11-01", Reading.VALID, date(2026, 11, 1)),
    ("0001-01-01", Reading.VALID, date(1, 1, 1)),
    ("9999-12-31", Reading.VALID, date(9999, 12, 31)),
    ("2026-11-01T00:00:00", Reading.LAX, date(2026, 11, 1)),
    ("2026-11-01 00:00", Reading.LAX, date(2026, 11, 1)),
    ("2026-11-01T00:00:00Z", Reading.LAX, date(2026, 11, 1)),
    ("2026-11-01T00:00:00+05:00", Reading.LAX, date(2026, 11, 1)),
    ("0", Reading.LAX, date(1970, 1, 1)),
    ("86400", Reading.LAX, date(1970, 1, 2)),
    ("2026-11-01T10:00:00", Reading.UNCLEAR, None),
    ("1e-38", Reading.UNCLEAR, None),
    ("0.5", Reading.UNCLEAR, None),
    ("20261101", Reading.UNCLEAR, None),
    ("2026-1-5", Reading.UNCLEAR, None),
    (" 2026-11-01", Reading.UNCLEAR, None),
    ("", Reading.UNCLEAR, None),
    ("null", Reading.UNCLEAR, None),
    ("0000-01-01", Reading.UNCLEAR, None),
    ("not-a-date", Reading.INVALID, None),
    ("2026-02-30", Reading.INVALID, None),
    ("2026-13-01", Reading.INVALID, None),
    ("true", Reading.INVALID, None),
    ("AAA", Reading.INVALID, None),
])
def test_date_values_are_read_as_a_lax_server_would(raw: str, reading: Reading, value: date | None) -> None:
    param = read_date("start_date", [raw])
    assert (param.reading, param.value) == (reading, value)


def test_a_repeated_parameter_with_different_values_is_unclear() -> None:
    assert read_date("end_date", ["2026-11-01", "2026-11-02"]).reading is Reading.UNCLEAR
    assert read_date("end_date", ["2026-11-01", "2026-11-01"]).reading is Reading.VALID
    assert read_date("end_date", []).reading is Reading.ABSENT


@pytest.mark.parametrize(("header", "reading"), [
    (None, AuthReading.MISSING),
    ("Basic Y3Jvc21vczpwcm9iZQ==", AuthReading.WRONG_SCHEME),
    (TOKEN, AuthReading.WRONG_SCHEME),
    ("Bearer", AuthReading.MALFORMED),
    ("Bearer  ", AuthReading.MALFORMED),
    ("Bearer a b", AuthReading.MALFORMED),
    ("Bearer this-is-not-a-token", AuthReading.BAD_TOKEN),
    (f"Bearer {TOKEN}", AuthReading.OK),
    (f"bearer {TOKEN}", AuthReading.OK),
])
def test_credentials_are_read_against_the_users_token(header: str | None, reading: AuthReading) -> None:
    assert read_auth(header, TOKEN) is reading


def test_check_ids_of_credential_defects() -> None:
    # UNCHECKED (no token to compare with) has no id: it is no verdict
    assert [r.check_id for r in AuthReading] == ["", "AUTH-001", "AUTH-002", "AUTH-002", "AUTH-003", ""]


@pytest.mark.parametrize(("query", "todays", "window"), [
    ([], (TODAY,), Window.VALID),
    ([("end_date", "2026-10-31")], (TODAY,), Window.INVERTED),  # defaulted start is the 1st
    ([("start_date", "2026-11-27")], (TODAY,), Window.INVERTED),  # defaulted end is today
    ([("start_date", "2026-11-26")], (TODAY, date(2026, 11, 26)), Window.EITHER),  # straddles midnight
    ([("start_date", "2026-10-02"), ("end_date", "2026-10-01")], (TODAY,), Window.INVERTED),
    ([("start_date", "not-a-date")], (TODAY,), Window.UNKNOWN),
    ([("start_date", "0")], (TODAY,), Window.VALID),
])
def test_the_window_a_request_names(query: list[tuple[str, str]], todays: tuple[date, ...], window: Window) -> None:
    assert expect("GET", query, f"Bearer {TOKEN}", TOKEN, 100, todays).window is window


def test_unknown_parameters_extreme_dates_and_long_urls_are_noticed() -> None:
    expectation = expect("GET", [("start_date", "0001-01-01"), ("x", "1"), ("x", "2")], None, TOKEN, 5000,
                         (TODAY,))
    assert expectation.unknown_params == ("x",)
    assert expectation.extreme
    assert expectation.oversized
    assert expectation.auth is AuthReading.MISSING

"""The test servers themselves, over real HTTP.

The conformance suite is proven against these servers, so they must be right first: the
reference must equal the contract (document and behaviour), every zoo entry must start, and
every defect must actually be visible (a defect that never shows would make the suite's proof
vacuous).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from crosmos_contract.catalogue import BY_ID
from tests.servers.reference import (
    PRO_ORG,
    REFERENCE_TOKEN,
    SECOND_TOKEN,
    ServerOptions,
    create_app,
)
from tests.servers.running import serve_app
from tests.servers.zoo import CONFORMANT, FAULTY

CONTRACT = Path(__file__).resolve().parents[1] / "openapi.json"
USAGE = "/api/v1/usage"
AUTH = {"Authorization": f"Bearer {REFERENCE_TOKEN}"}
PINNED_TODAY = date(2026, 3, 15)


def utc_today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    with serve_app(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def pinned_url() -> Iterator[str]:
    """The reference with "today" pinned, so figures can be asserted exactly."""
    with serve_app(create_app(ServerOptions(today=lambda: PINNED_TODAY))) as url:
        yield url


def get(base: str, query: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{base}{USAGE}{query}", headers=AUTH if headers is None else headers, timeout=10)


# --- the reference --------------------------------------------------------------------------------

def test_openapi_document_equals_the_contract(reference_url: str) -> None:
    served = requests.get(f"{reference_url}/openapi.json", timeout=10).json()
    assert served == json.loads(CONTRACT.read_text(encoding="utf-8"))


def test_defaults_are_the_current_billing_period(reference_url: str) -> None:
    before = utc_today()
    response = get(reference_url)
    after = utc_today()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["period_end"] in {before.isoformat(), after.isoformat()}
    assert body["period_start"] == date.fromisoformat(body["period_end"]).replace(day=1).isoformat()
    assert body["plan"] == "pro"


def test_usage_figures_follow_the_daily_rates(pinned_url: str) -> None:
    body = get(pinned_url).json()
    assert body == {
        "plan": "pro",
        "period_start": "2026-03-01",
        "period_end": "2026-03-15",
        "tokens": {"used": 375_000, "limit": 1_000_000, "remaining": 625_000},
        "queries": {"used": 13_500, "limit": 50_000, "remaining": 36_500},
        "spaces": {"used": 30, "limit": -1, "remaining": -1},
        "rate_limit_rpm": 600,
        "rate_limit_per_day": 20_000,
    }


def test_second_org_has_its_own_plan(pinned_url: str) -> None:
    body = get(pinned_url, headers={"Authorization": f"Bearer {SECOND_TOKEN}"}).json()
    assert body["plan"] == "team"
    assert body["spaces"] == {"used": 15, "limit": 100, "remaining": 85}


def test_a_full_month_stays_under_quota_and_sixty_days_exceed_it(pinned_url: str) -> None:
    month = get(pinned_url, "?start_date=2026-01-01&end_date=2026-01-31").json()
    assert month["tokens"]["used"] < month["tokens"]["limit"]
    wide = get(pinned_url, "?start_date=2026-01-01&end_date=2026-03-01").json()
    assert wide["tokens"]["used"] > wide["tokens"]["limit"]
    assert wide["tokens"]["remaining"] == 0


@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "Not authenticated"),
    ({"Authorization": f"Basic {REFERENCE_TOKEN}"}, "Not authenticated"),
    ({"Authorization": REFERENCE_TOKEN}, "Not authenticated"),
    ({"Authorization": "Bearer x"}, "Invalid authentication credentials"),
])
def test_rejected_credentials_get_401_with_bearer_challenge(
    reference_url: str, headers: dict[str, str], detail: str
) -> None:
    response = get(reference_url, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": detail}


def test_a_bad_date_gets_fastapis_422(reference_url: str) -> None:
    response = get(reference_url, "?start_date=not-a-date")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "start_date"]
    assert error["type"] == "date_from_datetime_parsing"


def test_an_inverted_window_gets_422(reference_url: str) -> None:
    response = get(reference_url, "?start_date=2026-02-01&end_date=2026-01-31")
    assert response.status_code == 422
    assert response.json() == {"detail": [{
        "type": "value_error",
        "loc": ["query", "start_date"],
        "msg": "Value error, start_date must be on or before end_date",
        "input": "2026-02-01",
        "ctx": {"error": "start_date must be on or before end_date"},
    }]}


def test_a_defaulted_start_after_the_given_end_gets_422(pinned_url: str) -> None:
    response = get(pinned_url, "?end_date=2026-02-28")
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "2026-03-01"


def test_fastapi_leniency_is_kept(pinned_url: str) -> None:
    lax = get(pinned_url, "?start_date=2026-03-02T00:00:00&unknown=1")
    assert lax.status_code == 200
    assert lax.json()["period_start"] == "2026-03-02"
    repeated = get(pinned_url, "?start_date=2026-03-01&start_date=2026-03-05")
    assert repeated.json()["period_start"] == "2026-03-05"


def test_the_widest_window_is_answered_in_closed_form(reference_url: str) -> None:
    """Every day from the org's creation to today counts, and no further (a speed claim for
    ``bench/``, not here: closed form is what keeps the reply instant)."""
    response = get(reference_url, "?start_date=0001-01-01&end_date=9999-12-31")
    assert response.status_code == 200
    body = response.json()
    days = (utc_today() - PRO_ORG.created).days + 1
    assert body["tokens"]["used"] == PRO_ORG.daily_rates["tokens"] * days
    assert body["queries"]["used"] == PRO_ORG.daily_rates["queries"] * days
    assert body["tokens"]["remaining"] == 0


# --- the zoo -----------------------------------------------------------------------------------

def test_zoo_names_only_catalogue_checks() -> None:
    assert len(FAULTY) >= 24
    assert len(CONFORMANT) >= 6
    for entry in FAULTY.values():
        assert entry.expected, entry.name
        assert not entry.expected & entry.tolerated, entry.name
        assert entry.expected | entry.tolerated <= BY_ID.keys(), entry.name
        assert entry.description, entry.name


def _body(base: str, query: str = "") -> dict[str, Any]:
    return get(base, query).json()


def _first_of_month() -> str:
    return utc_today().replace(day=1).isoformat()


def _slow(base: str) -> bool:
    started = time.monotonic()
    get(base, f"?end_date={utc_today().isoformat()}")
    return time.monotonic() - started >= 2.0


def _used_drops_on_repeat(base: str) -> bool:
    first, second = _body(base), _body(base)
    return bool(second["tokens"]["used"] < first["tokens"]["used"])


def _wider_window_uses_less(base: str) -> bool:
    narrow = _body(base, f"?start_date={_first_of_month()}")
    wide = _body(base, f"?start_date={_first_of_month()}&end_date=9999-12-31")
    return bool(wide["tokens"]["used"] < narrow["tokens"]["used"])


def _older_window_uses_nothing(base: str) -> bool:
    narrow = _body(base, f"?start_date={_first_of_month()}")
    wide = _body(base, f"?start_date={(utc_today() - timedelta(days=400)).isoformat()}")
    return bool(wide["tokens"]["used"] < narrow["tokens"]["used"])


def _explicit_default_uses_less(base: str) -> bool:
    implicit = _body(base)
    explicit = _body(base, f"?start_date={_first_of_month()}&end_date={utc_today().isoformat()}")
    return bool(explicit["tokens"]["used"] < implicit["tokens"]["used"])


def _tokens(base: str, start: str, end: str) -> int:
    return int(_body(base, f"?start_date={start}&end_date={end}")["tokens"]["used"])


Probe = Callable[[str], bool]

# One direct observation of each defect: True when the defect shows.
DEFECT_VISIBLE: dict[str, Probe] = {
    "rolling_default_start": lambda b: _body(b)["period_start"] != _first_of_month(),
    "default_end_next_month": lambda b: _body(b)["period_end"] > utc_today().isoformat(),
    "dates_not_echoed": lambda b: _body(b, "?start_date=2025-01-01&end_date=2025-01-31")["period_start"]
    != "2025-01-01",
    "inverted_window_accepted": lambda b: get(b, "?start_date=2025-02-01&end_date=2025-01-01").status_code
    == 200,
    "extreme_dates_crash": lambda b: get(b, "?start_date=0001-01-01&end_date=9999-12-31").status_code == 500,
    "remaining_not_clamped": lambda b: _body(b, "?start_date=0001-01-01&end_date=9999-12-31")["tokens"][
        "remaining"] < 0,
    "unlimited_remaining_zero": lambda b: _body(b)["spaces"]["remaining"] == 0,
    "remaining_off_by_one": lambda b: (t := _body(b)["tokens"])["remaining"] == t["limit"] - t["used"] - 1,
    "negative_used": lambda b: _body(b)["spaces"]["used"] < 0,
    "negative_limit": lambda b: _body(b)["queries"]["limit"] == -5,
    "zero_rate_limit": lambda b: _body(b)["rate_limit_rpm"] == 0,
    "per_day_below_rpm": lambda b: (x := _body(b))["rate_limit_per_day"] < x["rate_limit_rpm"],
    "empty_plan": lambda b: _body(b)["plan"] == "",
    "bad_date_500": lambda b: get(b, "?start_date=not-a-date").status_code == 500,
    "bad_date_400": lambda b: get(b, "?start_date=2026-13-01").status_code == 400,
    "invalid_day_clamped": lambda b: get(b, "?start_date=2026-02-30&end_date=2026-03-31").status_code == 200,
    "error_body_string_detail": lambda b: isinstance(get(b, "?start_date=x").json()["detail"], str),
    "error_body_foreign_shape": lambda b: "detail" not in get(b, "?start_date=x").json(),
    "error_loc_body": lambda b: get(b, "?end_date=x").json()["detail"][0]["loc"] == ["body"],
    "text_plain_json": lambda b: get(b).headers["content-type"].startswith("text/plain"),
    "unknown_parameter_rejected": lambda b: get(b, "?page=2").status_code == 422,
    "long_query_crash": lambda b: get(b, "?q=" + "x" * 2_100).status_code == 500,
    "slow_explicit_window": _slow,
    "retention_window_rejected": lambda b: get(b, "?start_date=2020-01-01").status_code == 422,
    "auth_not_enforced": lambda b: get(b, headers={}).status_code == 200,
    "any_token_accepted": lambda b: get(b, headers={"Authorization": "Bearer x"}).status_code == 200,
    "token_case_folded": lambda b: get(b, headers={"Authorization": f"Bearer {REFERENCE_TOKEN.upper()}"}
                                       ).status_code == 200,
    "basic_user_is_the_key": lambda b: get(b, headers={"Authorization": "Basic " + base64.b64encode(
        f"{REFERENCE_TOKEN}:".encode()).decode()}).status_code == 200,
    "scheme_spelled_exactly": lambda b: get(b, headers={"Authorization": f"BEARER {REFERENCE_TOKEN}"}
                                            ).status_code == 401,
    "other_scheme_accepted": lambda b: get(b, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code
    == 200,
    "no_www_authenticate": lambda b: "www-authenticate" not in get(b, headers={}).headers,
    "missing_rate_limit_per_day": lambda b: "rate_limit_per_day" not in _body(b),
    "string_integers": lambda b: isinstance(_body(b)["tokens"]["used"], str),
    "float_integers": lambda b: isinstance(_body(b)["tokens"]["used"], float),
    "datetime_period_start": lambda b: "T" in _body(b)["period_start"],
    "plan_alternates": lambda b: _body(b)["plan"] != _body(b)["plan"],
    "used_decreases": _used_drops_on_repeat,
    "prorated_used": _wider_window_uses_less,
    "archive_window_empty": _older_window_uses_nothing,
    "prorated_limits": lambda b: _body(b, "?start_date=2026-01-01&end_date=2026-01-10")["tokens"]["limit"]
    != _body(b, "?start_date=2026-01-01&end_date=2026-03-31")["tokens"]["limit"],
    "explicit_end_exclusive": _explicit_default_uses_less,
    "leap_day_year_over_year_crash": lambda b: get(b, "?start_date=2024-02-01&end_date=2024-02-29").status_code
    == 500 and get(b, "?start_date=2024-02-01&end_date=2024-02-28").status_code == 200,
    "year_partition_of_end": lambda b: _tokens(b, "2025-12-02", "2026-01-01") < _tokens(b, "2025-12-02", "2025-12-31"),
    "epoch_start_is_unset": lambda b: _tokens(b, "1970-01-01", "2025-12-31") < _tokens(b, "1970-01-02", "2025-12-31"),
    "leap_february_rollup": lambda b: _tokens(b, "2024-02-01", "2024-02-28") + _tokens(b, "2024-02-29", "2024-02-29")
    > _tokens(b, "2024-02-01", "2024-02-29"),
    "future_window_forecast": lambda b: _tokens(b, (utc_today() + timedelta(days=2)).isoformat(),
                                                (utc_today() + timedelta(days=9)).isoformat()) > 0,
    # round 3
    "julian_leap_years": lambda b: get(b, "?start_date=2100-02-29&end_date=2100-03-31").status_code == 200,
    "centuries_never_leap": lambda b: get(b, "?start_date=2000-02-29&end_date=2000-02-29").status_code == 422,
    "thirty_one_day_april": lambda b: get(b, "?start_date=2025-04-31&end_date=2025-05-31").status_code == 200,
    "jwt_signature_never_verified": lambda b: get(b, headers={"Authorization": "Bearer " + _jwt("HS256")}
                                                  ).status_code == 200,
    "jwt_none_denylist_case_sensitive": lambda b: get(b, headers={"Authorization": "Bearer " + _jwt("None")}
                                                      ).status_code == 200,
    "head_crashes": lambda b: requests.head(b + USAGE, headers=AUTH, timeout=10).status_code == 500,
    "head_served_by_the_static_fallback": lambda b: requests.head(b + USAGE, headers=AUTH, timeout=10
                                                                  ).headers["content-type"].startswith("text/html"),
    "head_answers_204": lambda b: requests.head(b + USAGE, headers=AUTH, timeout=10).status_code == 204,
    "gzip_label_on_plain_bodies": lambda b: requests.get(b + USAGE + "?start_date=2025-01-01", headers=AUTH,
                                                         timeout=10, stream=True).headers["content-encoding"] == "gzip",
    "multi_day_window_skips_first_day": lambda b: _tokens(b, "2025-06-01", "2025-06-02")
    == _tokens(b, "2025-06-02", "2025-06-02"),
    "signup_credit_booked_as_usage": lambda b: _tokens(b, "2020-01-01", "2020-01-01") < 0,
}


def _jwt(alg: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    signature = "c2ln" if alg != "None" else ""
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part({'sub': 'anyone', 'org': 'x'})}.{signature}"

# What makes each conformant variant tricky, observed once so the variant keeps its point.
TRICK_VISIBLE: dict[str, Probe] = {
    "reference": lambda b: get(b, "?start_date=2026-01-01T00:00:00&end_date=2026-01-31").status_code == 200,
    "extra_fields": lambda b: "org_id" in _body(b),
    "varying_request_id": lambda b: _body(b)["request_id"] != _body(b)["request_id"],
    "forbidden_403": lambda b: (r := get(b, headers={})).status_code == 403
    and "www-authenticate" not in r.headers,
    "charset_json": lambda b: get(b, "?start_date=x").headers["content-type"]
    == "application/json; charset=utf-8",
    "over_quota": lambda b: (t := _body(b)["tokens"])["used"] > t["limit"] and t["remaining"] == 0,
    "all_unlimited": lambda b: (x := _body(b))["rate_limit_rpm"] == -1 and x["tokens"]["remaining"] == -1,
    "rate_limits_equal": lambda b: (x := _body(b))["rate_limit_rpm"] == x["rate_limit_per_day"],
    "fresh_org": lambda b: _body(b, "?start_date=2025-01-01&end_date=2025-12-31")["tokens"]["used"] == 0,
    "uri_too_long_414": lambda b: get(b, "?q=" + "x" * 5_000).status_code == 414
    and get(b, "?q=" + "x" * 2_100).status_code == 200,
    "other_methods_501": lambda b: requests.delete(b + "/api/v1/usage", timeout=5).status_code == 501
    and get(b).status_code == 200,
    "gzip_compressed": lambda b: get(b).headers.get("content-encoding") == "gzip",
}


def test_every_zoo_entry_has_an_observation() -> None:
    assert DEFECT_VISIBLE.keys() == FAULTY.keys()
    assert TRICK_VISIBLE.keys() == CONFORMANT.keys()


@pytest.mark.parametrize("name", sorted(FAULTY))
def test_faulty_server_starts_and_shows_its_defect(name: str) -> None:
    with serve_app(FAULTY[name].create_app()) as base:
        status = get(base).status_code
        assert status == 200 or 400 <= status < 500
        assert DEFECT_VISIBLE[name](base), FAULTY[name].description


@pytest.mark.parametrize("name", sorted(CONFORMANT))
def test_conformant_server_starts_and_shows_its_trick(name: str) -> None:
    with serve_app(CONFORMANT[name]()) as base:
        assert get(base).status_code == 200
        assert TRICK_VISIBLE[name](base)

"""Direct tests of the independent reference (tests/servers/independent.py), over real HTTP."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.servers import independent
from tests.servers.independent import INDEPENDENT_TOKEN, create_app, is_leap_year, issue_jwt
from tests.servers.running import serve_app

USAGE = "/api/v1/usage"
TODAY = date(2026, 3, 18)  # a Wednesday; the pinned server's today


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    with serve_app(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def pinned_url() -> Iterator[str]:
    with serve_app(create_app(today=lambda: TODAY)) as url:
        yield url


def get(base: str, query: str = "", authorization: str | None = f"Bearer {INDEPENDENT_TOKEN}",
        method: str = "GET") -> requests.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.request(method, f"{base}{USAGE}{query}", headers=headers, timeout=10)


def body(base: str, query: str = "") -> dict[str, Any]:
    response = get(base, query)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _segment(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- the module stays independent --------------------------------------------------------------

def test_it_imports_only_the_standard_library_and_starlette() -> None:
    tree = ast.parse(Path(independent.__file__).read_text(encoding="utf-8"))
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.level == 0}
    third_party = {root for root in roots if root not in sys.stdlib_module_names}
    assert third_party == {"starlette"}


# --- credentials -------------------------------------------------------------------------------

@pytest.mark.parametrize(("authorization", "detail"), [
    (None, "Not authenticated"),
    ("Bearer", "Not authenticated"),
    (f"Basic {INDEPENDENT_TOKEN}", "Invalid authentication credentials"),
    (INDEPENDENT_TOKEN, "Invalid authentication credentials"),
    (f"Bearer {INDEPENDENT_TOKEN}x", "Invalid authentication credentials"),
    (f"Bearer {INDEPENDENT_TOKEN[:-1]}", "Invalid authentication credentials"),
    (f"Bearer {INDEPENDENT_TOKEN.upper()}", "Invalid authentication credentials"),
    ("Bearer csk_", "Invalid authentication credentials"),
])
def test_refused_api_keys_get_401_with_a_bearer_challenge(live_url: str, authorization: str | None,
                                                         detail: str) -> None:
    response = get(live_url, authorization=authorization)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "date" in response.headers


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_case_insensitive(live_url: str, scheme: str) -> None:
    assert get(live_url, authorization=f"{scheme} {INDEPENDENT_TOKEN}").status_code == 200


def test_a_jwt_it_signed_is_accepted_for_its_org(live_url: str) -> None:
    response = get(live_url, authorization=f"Bearer {issue_jwt('org_team')}")
    assert response.status_code == 200
    assert response.json() == body(live_url)  # the same org as the team's API key
    assert get(live_url, authorization=f"Bearer {issue_jwt('org_free')}").json()["plan"] == "free"


def _refused_jwts() -> dict[str, str]:
    good = issue_jwt("org_team")
    head, claims, signature = good.split(".")
    enterprise_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    enterprise_claims["org"] = "org_enterprise"
    other_key = hmac.new(b"not the server's key", f"{head}.{claims}".encode(), hashlib.sha256).digest()
    unsigned_head = _segment({"alg": "none", "typ": "JWT"})
    last = signature[-1]
    duplicate_org = _segment(b'{"org":"org_free","org":"org_team"}')
    duplicate_signed = hmac.new(independent._JWT_SECRET, f"{head}.{duplicate_org}".encode(), hashlib.sha256).digest()
    return {
        "alg none, empty signature": f"{unsigned_head}.{claims}.",
        "alg none, the real signature kept": f"{unsigned_head}.{claims}.{signature}",
        "HS256, empty signature": f"{head}.{claims}.",
        "signed with another key": f"{head}.{claims}.{_segment(other_key)}",
        "claims altered under the kept signature": f"{head}.{_segment(enterprise_claims)}.{signature}",
        "signature's last character changed": f"{head}.{claims}.{signature[:-1]}{'A' if last != 'A' else 'B'}",
        # 32 bytes are 43 characters with 2 unused bits: the next character decodes to the same bytes
        "signature with stray bits": f"{head}.{claims}.{signature[:-1]}{chr(ord(last) + 1)}",
        "padded segments": f"{head}.{claims}.{signature}=",
        "four segments": f"{good}.{signature}",
        "header not JSON": f"{_segment(b'not json')}.{claims}.{signature}",
        "header a JSON array": f"{_segment(b'[1]')}.{claims}.{signature}",
        "HS512 header": issue_jwt("org_team", header={"alg": "HS512"}),
        "critical extension": issue_jwt("org_team", header={"crit": ["exp"]}),
        "expired": issue_jwt("org_team", now=1_000_000_000),
        "not yet valid": issue_jwt("org_team", claims={"nbf": 4_102_444_800}),
        "exp a string": issue_jwt("org_team", claims={"exp": "never"}),
        "unknown org": issue_jwt("org_nobody"),
        "no org": issue_jwt("org_team", claims={"org": None}),
        "duplicate org claim, signed with the server's key": f"{head}.{duplicate_org}.{_segment(duplicate_signed)}",
        "non-ASCII segment": f"{head}.{claims}.{signature[:-1]}é",
    }


@pytest.mark.parametrize("case", sorted(_refused_jwts()))
def test_jwts_it_did_not_sign_or_no_longer_honours_are_refused(live_url: str, case: str) -> None:
    token = _refused_jwts()[case]
    response = requests.get(f"{live_url}{USAGE}", headers={"Authorization": f"Bearer {token}".encode()},
                            timeout=10)
    assert response.status_code == 401, case
    assert response.json() == {"detail": "Invalid authentication credentials"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_credentials_are_checked_before_the_parameters(live_url: str) -> None:
    assert get(live_url, "?start_date=nope", authorization=None).status_code == 401


# --- the calendar ------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "valid"), [
    ("2024-02-29", True),   # divisible by 4
    ("2023-02-29", False),  # not divisible by 4
    ("2100-02-29", False),  # a century
    ("1900-02-29", False),
    ("2000-02-29", True),   # a fourth century
    ("1600-02-29", True),
    ("2025-04-31", False),  # a 30-day month
    ("2025-04-30", True),
    ("2025-12-31", True),
    ("2025-12-32", False),
    ("2025-13-01", False),
    ("2025-00-10", False),
    ("2025-01-00", False),
    ("0001-01-01", True),
    ("9999-12-31", True),
    ("0000-01-01", False),
    ("2026-1-05", False),
    ("2026-01-05T00:00:00", False),  # strict: a lax reader may take it, this server does not
    ("20260105", False),
    ("２０２６-01-05", False),  # full-width digits are not ASCII digits
    ("2026/01/05", False),
])
def test_dates_follow_every_rule_of_the_gregorian_calendar(pinned_url: str, day: str, valid: bool) -> None:
    response = get(pinned_url, f"?start_date={day}&end_date=9999-12-31")
    if valid:
        assert response.status_code == 200, response.text
        assert response.json()["period_start"] == day
    else:
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["query", "start_date"]
        assert error["input"] == day
        assert {"type", "msg"} <= error.keys()


def test_the_leap_year_rule() -> None:
    assert [year for year in range(1896, 1912) if is_leap_year(year)] == [1896, 1904, 1908]
    assert [year for year in (1600, 1700, 1800, 1900, 2000, 2100, 2400) if is_leap_year(year)] == [1600, 2000, 2400]


def test_both_bad_dates_are_reported(pinned_url: str) -> None:
    response = get(pinned_url, "?start_date=yesterday&end_date=2026-02-30")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "start_date"], ["query", "end_date"]]


# --- the window --------------------------------------------------------------------------------

def test_defaults_are_the_first_of_the_month_and_today(pinned_url: str) -> None:
    data = body(pinned_url)
    assert (data["period_start"], data["period_end"]) == ("2026-03-01", "2026-03-18")
    assert body(pinned_url, "?start_date=2026-03-01&end_date=2026-03-18") == data


@pytest.mark.parametrize(("query", "blamed", "echoed"), [
    ("?start_date=2026-03-10&end_date=2026-03-09", "start_date", "2026-03-10"),
    ("?end_date=2026-02-28", "end_date", "2026-02-28"),   # the defaulted start is the 1st of March
    ("?start_date=2026-03-19", "start_date", "2026-03-19"),  # the defaulted end is today
])
def test_an_inverted_window_gets_422(pinned_url: str, query: str, blamed: str, echoed: str) -> None:
    response = get(pinned_url, query)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["input"]) == (["query", blamed], echoed)


def test_the_last_repeated_value_wins_and_unknown_parameters_are_ignored(pinned_url: str) -> None:
    data = body(pinned_url, "?start_date=nope&start_date=2026-01-01&end_date=2026-01-31&page=2&x")
    assert (data["period_start"], data["period_end"]) == ("2026-01-01", "2026-01-31")
    assert data == body(pinned_url, "?start_date=2026-01-01&end_date=2026-01-31")
    assert body(pinned_url, "?start_date=2026%2D01%2D01&end_date=2026-01-31") == data


# --- the ledger --------------------------------------------------------------------------------

def _used(base: str, start: date, end: date) -> dict[str, int]:
    data = body(base, f"?start_date={start.isoformat()}&end_date={end.isoformat()}")
    return {name: data[name]["used"] for name in ("tokens", "queries", "spaces")}


def test_usage_adds_up_over_adjacent_windows_and_is_never_negative(pinned_url: str) -> None:
    first = date(2021, 6, 15)  # the team org's first day
    for a, b, c in ((first, first, first + timedelta(1)), (first - timedelta(3), first, first + timedelta(40)),
                    (date(2024, 2, 27), date(2024, 2, 29), date(2024, 3, 2)),
                    (date(2025, 12, 1), date(2025, 12, 31), date(2026, 1, 31))):
        left, right, both = _used(pinned_url, a, b), _used(pinned_url, b + timedelta(1), c), _used(pinned_url, a, c)
        for metric in ("tokens", "queries"):
            assert left[metric] + right[metric] == both[metric], (a, b, c, metric)
        assert all(value >= 0 for value in (*left.values(), *right.values()))
    assert _used(pinned_url, first - timedelta(1), first - timedelta(1)) == {"tokens": 0, "queries": 0, "spaces": 0}
    assert _used(pinned_url, first, first)["tokens"] > 0


def test_days_after_today_have_no_usage_yet(pinned_url: str) -> None:
    future = _used(pinned_url, TODAY + timedelta(1), TODAY + timedelta(30))
    assert (future["tokens"], future["queries"]) == (0, 0)
    assert _used(pinned_url, TODAY, TODAY + timedelta(30)) == _used(pinned_url, TODAY, TODAY)


def test_spaces_count_those_alive_in_the_window(pinned_url: str) -> None:
    # (2023-02-28, deleted 2023-03-01) existed on both days; a space deleted 2022-01-31 did not.
    assert _used(pinned_url, date(2023, 3, 1), date(2023, 3, 1))["spaces"] == 3
    assert _used(pinned_url, date(2023, 3, 2), date(2023, 3, 2))["spaces"] == 2


def test_limits_do_not_depend_on_the_window_and_remaining_is_clamped(pinned_url: str) -> None:
    month = body(pinned_url, "?start_date=2026-02-01&end_date=2026-02-28")
    everything = body(pinned_url, "?start_date=0001-01-01&end_date=9999-12-31")
    for data in (month, everything):
        assert data["plan"] == "team"
        assert (data["rate_limit_rpm"], data["rate_limit_per_day"]) == (600, 120_000)
        assert data["queries"] == {"used": data["queries"]["used"], "limit": -1, "remaining": -1}
        for name in ("tokens", "spaces"):
            metric = data[name]
            assert metric["remaining"] == max(metric["limit"] - metric["used"], 0)
    assert month["tokens"]["remaining"] > 0
    assert everything["tokens"]["remaining"] == 0  # years of usage exceed the plan's 2.5 M
    assert everything["spaces"]["used"] > everything["spaces"]["limit"]


# --- HTTP --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_get_405_naming_get_and_head(live_url: str, method: str) -> None:
    response = get(live_url, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert "date" in response.headers


def test_head_mirrors_get_without_a_body(pinned_url: str) -> None:
    head, full = get(pinned_url, method="HEAD"), get(pinned_url)
    assert (head.status_code, head.content) == (200, b"")
    for name in ("content-type", "content-length"):
        assert head.headers[name] == full.headers[name]
    assert get(pinned_url, "?start_date=nope", method="HEAD").status_code == 422


def test_every_reply_is_json_with_a_date(live_url: str) -> None:
    for response in (get(live_url), get(live_url, "?end_date=x"), get(live_url, authorization=None),
                     requests.get(f"{live_url}/api/v1/other", timeout=10)):
        assert response.headers["content-type"] == "application/json"
        assert "date" in response.headers
        response.json()

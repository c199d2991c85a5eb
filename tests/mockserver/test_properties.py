"""Property tests: every 200 the mock sends is valid and coherent, whatever the window."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from crosmos_contract import consistency, default_contract_path, rules
from mockserver.app import create_app
from mockserver.model.scenarios import SCENARIOS

TODAY = date(2026, 11, 25)


def _jwt(claims: dict[str, Any]) -> str:
    def seg(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg(claims)}.c2lnbmF0dXJl"


tokens = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=8, max_size=40).map(
        lambda s: "csk_" + s),
    st.builds(lambda org, sub: _jwt({"org_id": org, "sub": sub}), st.text(min_size=1, max_size=12),
              st.integers(1, 10**6)),
)
# Dates biased towards the edges that break naive date code.
edges = st.sampled_from([date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2025, 12, 31),
                         date(2026, 1, 1), date(2026, 10, 31), date(2026, 11, 1), TODAY, date(1, 1, 1),
                         date(9999, 12, 31), date(2000, 2, 29)])
days = st.one_of(edges, st.dates(date(2015, 1, 1), date(2027, 12, 31)), st.dates())
optional_days = st.one_of(st.none(), days)


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(default_contract_path()))


def _app(seed: int) -> Flask:
    return create_app(seed=seed, clock=lambda: TODAY, access_log=False)


APPS = {seed: _app(seed) for seed in (0, 1, 2, 99)}


def _query(start: date | None, end: date | None) -> dict[str, str]:
    return {k: v.isoformat() for k, v in (("start_date", start), ("end_date", end)) if v is not None}


def _get(app: Flask, token: str, start: date | None, end: date | None) -> Any:
    query = _query(start, end)
    return app.test_client().get("/api/v1/usage", query_string=query, headers={"Authorization": f"Bearer {token}"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(sorted(APPS)), token=tokens, start=optional_days, end=optional_days)
def test_every_answer_is_valid_and_obeys_every_rule(openapi: OpenAPI, seed: int, token: str,
                                                     start: date | None, end: date | None) -> None:
    app = APPS[seed]
    response = _get(app, token, start, end)
    effective = rules.default_period(TODAY, start, end)
    if not rules.window_is_valid(*effective):
        assert response.status_code == 422
        assert response.get_json()["detail"][0]["loc"][0] == "query"
        return
    assert response.status_code == 200
    with app.test_request_context("/api/v1/usage", query_string=_query(start, end),
                                  headers={"Authorization": f"Bearer {token}"}) as ctx:
        openapi.validate_response(WerkzeugOpenAPIRequest(ctx.request), WerkzeugOpenAPIResponse(response))
    body = response.get_json()
    assert rules.check_usage_body(body, today_candidates=[TODAY], start_param=start, end_param=end) == []


@settings(max_examples=200, deadline=None)
@given(seed=st.sampled_from(sorted(APPS)), token=tokens, outer_start=days, lengths=st.tuples(
    st.integers(0, 4000), st.integers(0, 4000), st.integers(0, 4000)))
def test_a_wider_window_never_uses_less(seed: int, token: str, outer_start: date,
                                        lengths: tuple[int, int, int]) -> None:
    before, inner, after = lengths
    try:
        inner_start = outer_start + timedelta(days=before)
        inner_end = inner_start + timedelta(days=inner)
        outer_end = inner_end + timedelta(days=after)
    except OverflowError:
        return
    app = APPS[seed]
    narrow_reply, wide_reply = _get(app, token, inner_start, inner_end), _get(app, token, outer_start, outer_end)
    assert narrow_reply.status_code == wide_reply.status_code == 200  # two valid windows: two usage bodies
    narrow, wide = narrow_reply.get_json(), wide_reply.get_json()
    assert consistency.check_window_monotonic(narrow, wide) == []
    assert consistency.check_window_independent(narrow, wide) == []


@given(token=tokens, start=optional_days, end=optional_days)
@settings(max_examples=50, deadline=None)
def test_same_request_same_seed_same_body(token: str, start: date | None, end: date | None) -> None:
    first = _get(_app(5), token, start, end)
    second = _get(_app(5), token, start, end)
    assert first.status_code == (200 if rules.window_is_valid(*rules.default_period(TODAY, start, end)) else 422)
    assert (first.status_code, first.get_data()) == (second.status_code, second.get_data())


SCENARIO_NAMES = sorted(SCENARIOS)


def _scenario_get(app: Flask, token: str, scenario: str, start: date, end: date) -> Any:
    reply = app.test_client().get("/api/v1/usage", query_string=_query(start, end),
                                  headers={"Authorization": f"Bearer {token}", "Prefer": f"scenario={scenario}"})
    assert reply.status_code == 200
    return reply.get_json()


@settings(max_examples=200, deadline=None)
@given(seed=st.sampled_from(sorted(APPS)), token=tokens, scenario=st.sampled_from(SCENARIO_NAMES), start=days,
       lengths=st.tuples(st.integers(0, 4000), st.integers(0, 4000)))
def test_adjacent_past_windows_add_up_in_every_scenario(seed: int, token: str, scenario: str, start: date,
                                                        lengths: tuple[int, int]) -> None:
    """CONSIST-006: usage is a sum of days, so a window split anywhere adds up (past windows)."""
    try:
        middle = start + timedelta(days=lengths[0])
        end = middle + timedelta(days=1 + lengths[1])
    except OverflowError:
        return
    if end >= TODAY:
        end = TODAY - timedelta(days=1)
        if not start <= middle < end:
            return
    app = APPS[seed]
    left = _scenario_get(app, token, scenario, start, middle)
    right = _scenario_get(app, token, scenario, middle + timedelta(days=1), end)
    whole = _scenario_get(app, token, scenario, start, end)
    assert consistency.check_window_additive(left, right, whole) == []


@settings(max_examples=100, deadline=None)
@given(seed=st.sampled_from(sorted(APPS)), token=tokens, scenario=st.sampled_from(SCENARIO_NAMES),
       start=st.one_of(st.sampled_from([TODAY + timedelta(days=1), date(2028, 2, 29), date(9999, 12, 31)]),
                       st.dates(TODAY + timedelta(days=1), date(9999, 12, 31))),
       length=st.integers(0, 4000))
def test_future_windows_use_nothing_in_every_scenario(seed: int, token: str, scenario: str, start: date,
                                                      length: int) -> None:
    """CONSIST-007: a window starting after today has no usage yet."""
    end = min(start + timedelta(days=min(length, (date(9999, 12, 31) - start).days)), date(9999, 12, 31))
    body = _scenario_get(APPS[seed], token, scenario, start, end)
    assert consistency.check_future_window_unused(body) == []

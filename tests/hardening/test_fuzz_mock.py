"""Fuzz the running mock with schemathesis-generated requests, positive and negative.

Zero 5xx, and every answer within the contract: a 200 passes openapi-core and every rule of the
rules module; anything else is one of the documented refusals with a JSON body. The default run
sends a bounded share; ``-m slow`` (``make fuzz``) sends 100,000 requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from schemathesis import GenerationMode

from crosmos_contract import default_contract_path, rules
from crosmos_contract.expectations import Reading, read_date
from mockserver.serving.launch import running_mock

TOKEN = "csk_fuzzing_0123456789"
SCHEMA = schemathesis.openapi.from_path(str(default_contract_path()))
OPERATION = SCHEMA["/api/v1/usage"]["GET"]
OPENAPI = OpenAPI.from_file_path(str(default_contract_path()))
REFUSALS = {401, 403, 404, 405, 414, 422, 431}
SLOW_TOTAL = int(os.environ.get("CROSMOS_FUZZ_REQUESTS", "100000"))

cases = st.one_of(OPERATION.as_strategy(generation_mode=GenerationMode.POSITIVE),
                  OPERATION.as_strategy(generation_mode=GenerationMode.NEGATIVE))
auth_headers = st.sampled_from([
    {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}"},
    {}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x.y.z"},
])


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with running_mock(seed=11, workers=2) as url:
        yield url


def judge(response: requests.Response, query: dict[str, Any] | None) -> None:
    """Fail the test on any answer that breaks the contract or a rule."""
    assert response.status_code < 500, f"{response.status_code} for {response.request.url}: {response.text[:300]}"
    assert response.status_code in {200, *REFUSALS}, response.status_code
    assert response.headers.get("Content-Type", "").startswith("application/json")
    response.json()
    if response.status_code not in (200, 422):
        return
    OPENAPI.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
    if response.status_code != 200:
        return
    server_day = parsedate_to_datetime(response.headers["Date"]).astimezone(UTC).date()
    body = response.json()
    found = rules.check_usage_body(body, today_candidates=[server_day - timedelta(days=1), server_day],
                                   start_param=_given(body, query, "start_date", "period_start"),
                                   end_param=_given(body, query, "end_date", "period_end"))
    assert found == [], f"{found} for {response.request.url}"


def _given(body: dict[str, Any], query: dict[str, Any] | None, name: str, field: str) -> date | None:
    """The date the request named, read from the query as the suite reads it, or None when absent.

    Only a value whose date cannot be told (repeated values, unclear forms) falls back to the
    body's own field, which leaves the echo rule nothing to judge for that request.
    """
    if not query or query.get(name) in (None, [], ""):
        return None
    raw = query[name]
    param = read_date(name, [str(value) for value in (raw if isinstance(raw, list) else [raw])])
    if param.reading in (Reading.VALID, Reading.LAX):
        return param.value
    return rules.parse_iso_date(body.get(field))


def _fuzz(mock_url: str, examples: int) -> None:
    session = requests.Session()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases, headers=auth_headers)
    def run(case: Any, headers: dict[str, str]) -> None:
        response = session.get(f"{mock_url}/api/v1/usage", params=case.query, headers=headers, timeout=10)
        judge(response, case.query)

    run()


def test_fuzz_a_bounded_share(mock_url: str) -> None:
    _fuzz(mock_url, 400)


@pytest.mark.slow
def test_fuzz_a_hundred_thousand_requests(mock_url: str) -> None:
    _fuzz(mock_url, SLOW_TOTAL)

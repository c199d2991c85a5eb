"""Prism-compatible ``Prefer`` (code, example, dynamic), ``delay``, and their ``__`` query fallbacks."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests
from werkzeug.datastructures import MultiDict

from crosmos_contract import rules
from mockserver.produce import prefer
from mockserver.produce.prefer import PreferenceError, Preferences
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import USAGE, assert_problem, auth, journal

FASTAPI_422 = {"detail": [{
    "type": "date_from_datetime_parsing", "loc": ["query", "start_date"],
    "msg": "Input should be a valid date or datetime, invalid character in year",
    "input": "not-a-date", "ctx": {"error": "invalid character in year"}}]}

PETS = """
openapi: 3.0.3
info: {title: Pets, version: 1.0.0}
paths:
  /pets/{petId}:
    parameters: [{name: petId, in: path, required: true, schema: {type: integer}}]
    get:
      responses:
        '200':
          description: A pet
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
              examples:
                cat: {value: {id: 1, name: Tom, kind: cat}}
                dog: {value: {id: 2, name: Rex, kind: dog}}
        '404':
          description: No such pet
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Message'}
              example: {message: no such pet}
        5XX:
          description: Trouble
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Message'}
components:
  schemas:
    Message: {type: object, required: [message], properties: {message: {type: string, minLength: 1}}}
    Pet:
      type: object
      required: [id, name, kind]
      properties:
        id: {type: integer, minimum: 1}
        name: {type: string, minLength: 1}
        kind: {type: string, enum: [cat, dog, bird]}
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=2) as url:
        yield url


@pytest.fixture(scope="module")
def pets_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spec: Path = tmp_path_factory.mktemp("pets") / "pets.yaml"
    spec.write_text(PETS)
    with running_mock(spec=spec) as url:
        yield url


def _usage(base_url: str, prefer_header: str | None = None, query: str = "") -> requests.Response:
    headers = auth() if prefer_header is None else {**auth(), "Prefer": prefer_header}
    return requests.get(f"{base_url}{USAGE}{query}", headers=headers, timeout=10)


@pytest.mark.parametrize(("header", "query"), [("code=422", ""), (None, "?__code=422")])
def test_code_422_gets_the_reference_servers_validation_error(base_url: str, header: str | None, query: str) -> None:
    response = _usage(base_url, header, query)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == FASTAPI_422
    assert response.headers["Preference-Applied"] == "code=422"


def test_code_200_is_the_ordinary_reply(base_url: str) -> None:
    assert _usage(base_url, "code=200").json() == _usage(base_url).json()


@pytest.mark.parametrize("header", ["code=418", "code=302", "code=502"])
def test_an_undocumented_status_is_refused_listing_the_documented_ones(base_url: str, header: str) -> None:
    body = assert_problem(_usage(base_url, header), 400, "undocumented-status")
    assert body["valid"] == ["200", "401", "403", "422", "429", "500", "503"]
    assert "401, 403, 429, 500, 503" in body["detail"]  # and the production errors it can serve


@pytest.mark.parametrize("ask", [{"Prefer": "code=401"}, {"Prefer": "code=403"}, {"Prefer": "code=429"},
                                 {"Prefer": "code=500"}, {"Prefer": "code=503"}, {"query": "?__code=503"}])
def test_production_errors_are_served_on_request_as_production_sends_them(base_url: str,
                                                                          ask: dict[str, str]) -> None:
    query = ask.pop("query", "")
    code = int(ask["Prefer"].split("=")[1]) if ask else int(query.split("=")[1])
    response = requests.get(f"{base_url}{USAGE}{query}", headers={**auth(), **ask}, timeout=5)
    assert response.status_code == code
    assert response.headers["X-Mock-Fault"] == "requested"  # marked as asked for
    assert response.headers["Preference-Applied"] == f"code={code}"
    entry = journal(base_url, limit=1)[0]
    assert (entry["status"], entry["fault"], entry["response"]) == (code, "requested", "fault")  # not a break
    if code in (401, 403):
        assert response.json() == {"detail": "Not authenticated"}
        assert response.headers["WWW-Authenticate"] == "Bearer"
    elif code == 429:
        assert response.json()["detail"].startswith("Rate limit exceeded: ")
        assert int(response.headers["Retry-After"]) > 0 and response.headers["X-RateLimit-Remaining"] == "0"
        assert int(response.headers["X-RateLimit-Limit"]) == _usage(base_url).json()["rate_limit_rpm"]
    elif code == 503:
        assert response.json() == {"detail": "Service Unavailable"}
    else:
        assert response.text == "Internal Server Error"  # Starlette's own 500


@pytest.mark.parametrize("header", ["code=abc", "dynamic=maybe", "delay=forever", "delay=31s"])
def test_a_malformed_preference_is_refused(base_url: str, header: str) -> None:
    assert_problem(_usage(base_url, header), 400, "invalid-preference")


def test_an_example_the_contract_does_not_document_points_to_scenarios(base_url: str) -> None:
    body = assert_problem(_usage(base_url, "example=typical"), 400, "unknown-example")
    assert body["valid"] == [] and "scenario=" in body["detail"]


def test_dynamic_gives_a_different_org_each_time_every_one_coherent(base_url: str) -> None:
    bodies = [_usage(base_url, "dynamic=true").json() for _ in range(12)]
    assert len({(b["plan"], b["tokens"]["used"]) for b in bodies}) > 3
    for body in bodies:
        today = date.fromisoformat(body["period_end"])
        assert rules.check_usage_body(body, today_candidates=[today], start_param=None, end_param=None) == []
    assert _usage(base_url, "dynamic=false").json() == _usage(base_url).json()
    scenario = _usage(base_url, "dynamic=true, scenario=exhausted").json()
    assert scenario["tokens"]["remaining"] == 0


def test_preferences_the_mock_does_not_know_are_ignored(base_url: str) -> None:
    response = _usage(base_url, "return=minimal, respond-async, wait=10")
    assert response.status_code == 200 and "Preference-Applied" not in response.headers


def test_delay_slows_one_reply(base_url: str) -> None:
    started = time.monotonic()
    response = _usage(base_url, "delay=300ms")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.headers["Preference-Applied"] == "delay=300ms"
    started = time.monotonic()
    assert _usage(base_url, None, "?__delay=0.2s").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_a_documented_example_is_chosen_by_name(pets_url: str) -> None:
    assert requests.get(f"{pets_url}/pets/1", timeout=5).json() == {"id": 1, "name": "Tom", "kind": "cat"}
    dog = requests.get(f"{pets_url}/pets/1", headers={"Prefer": "example=dog"}, timeout=5)
    assert dog.json() == {"id": 2, "name": "Rex", "kind": "dog"}
    assert requests.get(f"{pets_url}/pets/1?__example=dog", timeout=5).json()["name"] == "Rex"
    body = assert_problem(requests.get(f"{pets_url}/pets/1", headers={"Prefer": "example=fish"}, timeout=5),
                          400, "unknown-example")
    assert body["valid"] == ["cat", "dog"]


def test_a_documented_status_gets_a_body_valid_for_it(pets_url: str) -> None:
    missing = requests.get(f"{pets_url}/pets/1", headers={"Prefer": "code=404"}, timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"message": "no such pet"})
    trouble = requests.get(f"{pets_url}/pets/1?__code=503", timeout=5)
    assert trouble.status_code == 503 and trouble.json()["message"]
    body = assert_problem(requests.get(f"{pets_url}/pets/1", headers={"Prefer": "code=418"}, timeout=5),
                          400, "undocumented-status")
    assert body["valid"] == ["200", "404", "429", "500", "503", "5XX"]  # documented, and production errors


def test_dynamic_bodies_of_any_document_follow_its_schema(pets_url: str) -> None:
    pets = [requests.get(f"{pets_url}/pets/1", headers={"Prefer": "dynamic=true"}, timeout=5).json()
            for _ in range(8)]
    assert all(pet["kind"] in ("cat", "dog", "bird") and pet["id"] >= 1 and pet["name"] for pet in pets)
    assert len({pet["name"] for pet in pets}) > 1


# --- parsing, without a server ----------------------------------------------------------------------

def _read(headers: dict[str, str], query: str = "") -> Preferences | None:
    environ = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    environ["QUERY_STRING"] = query
    pairs = [(name, value) for name, _, value in (pair.partition("=") for pair in query.split("&") if pair)]
    return prefer.read(environ, lambda: MultiDict(pairs))


def test_reading_preferences() -> None:
    assert _read({}) is None
    assert _read({"Prefer": "return=minimal"}) is None
    assert _read({}, "start_date=2026-01-01") is None
    assert _read({"Prefer": 'code=422; lenient, example="big one", dynamic=TRUE, delay=50-300ms'}) == Preferences(
        code="422", example="big one", dynamic=True, delay=(50, 300))
    assert _read({"Prefer": "scenario=fresh", "X-Mock-Scenario": "mixed"}, "__scenario=exhausted&__code=200") \
        == Preferences(scenario="exhausted", code="200")
    applied = Preferences(scenario="fresh", code="422", example="big one", dynamic=False, delay=(1000, 1000))
    assert applied.applied() == 'scenario=fresh, code=422, example="big one", dynamic=false, delay=1000ms'


def test_several_prefer_headers_are_merged(base_url: str) -> None:
    """The server joins repeated headers with commas; requests cannot send two, http.client can."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.putrequest("GET", USAGE)
        for name, value in (*auth().items(), ("Prefer", "code=422"), ("Prefer", "delay=10ms")):
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 422 and response.getheader("Preference-Applied") == "code=422, delay=10ms"


@pytest.mark.parametrize(("prefer", "applied"), [
    ("scenario=fresh, code=422", "code=422"),  # the canned 422 has no usage data for a scenario to shape
    ("scenario=fresh, dynamic=true", "scenario=fresh, dynamic=true"),
    ("scenario=exhausted, code=200", "scenario=exhausted, code=200"),
])
def test_only_what_the_reply_honoured_is_said_to_be_applied(base_url: str, prefer: str, applied: str) -> None:
    response = requests.get(f"{base_url}{USAGE}", headers={**auth(), "Prefer": prefer}, timeout=5)
    assert response.headers["Preference-Applied"] == applied


@pytest.mark.parametrize(("header", "kind"), [
    ("scenario=nope", "unknown-scenario"), ("code=2000", "invalid-preference"), ("scenario", "unknown-scenario"),
])
def test_reading_a_bad_preference_names_its_kind(header: str, kind: str) -> None:
    with pytest.raises(PreferenceError) as caught:
        _read({"Prefer": header})
    assert caught.value.kind == kind


@pytest.mark.parametrize(("query", "loc"), [
    ("?start_date=2026-02-30", ["query", "start_date"]),
    ("?start_date=2026-03-10&end_date=2026-03-01", ["query", "start_date"]),
])
@pytest.mark.parametrize("prefer", ["scenario=nope", "code=abc", "delay=forever"])
def test_contract_errors_come_before_a_bad_preference(base_url: str, query: str, loc: list[str], prefer: str) -> None:
    response = requests.get(f"{base_url}{USAGE}{query}", headers={**auth(), "Prefer": prefer}, timeout=5)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc
    assert requests.get(f"{base_url}{USAGE}{query}", headers={"Prefer": prefer}, timeout=5).status_code == 401

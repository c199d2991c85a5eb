"""The pipeline through Flask's test client: the reference's errors, and any document served."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from crosmos_contract import ContractError
from mockserver.app import create_app

TODAY = date(2026, 11, 25)
TOKEN = "csk_live_abcdef123456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INVENTORY = Path(__file__).with_name("data") / "inventory.yaml"


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(seed=1, clock=lambda: TODAY, access_log=False)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer   "},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": TOKEN},
])
def test_missing_or_malformed_credentials_get_fastapis_401(app: Flask, headers: dict[str, str]) -> None:
    response = app.test_client().get("/api/v1/usage", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"detail": "Not authenticated"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["csk_test", "csk_demo", "csk_x", "csk_short", "csk_A-b_9"])
def test_any_csk_key_with_a_character_after_the_prefix_is_accepted(app: Flask, token: str) -> None:
    """The contract says only "API key (csk_…)": the first keys people type must work."""
    response = app.test_client().get("/api/v1/usage", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["plan"]


@pytest.mark.parametrize("token", [
    "garbage", "csk_", "csk_!!", "a.b", "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln",  # alg none
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.",  # empty signature
])
def test_tokens_of_the_wrong_shape_get_401(app: Flask, token: str) -> None:
    response = app.test_client().get("/api/v1/usage", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_auth_is_judged_before_parameters_like_fastapi(app: Flask) -> None:
    assert app.test_client().get("/api/v1/usage?start_date=nope").status_code == 401


def test_bad_date_gets_fastapis_422_detail(app: Flask) -> None:
    response = app.test_client().get("/api/v1/usage?start_date=not-a-date", headers=AUTH)
    assert response.status_code == 422
    assert response.get_json() == {"detail": [{
        "type": "date_from_datetime_parsing", "loc": ["query", "start_date"],
        "msg": "Input should be a valid date or datetime, invalid character in year",
        "input": "not-a-date", "ctx": {"error": "invalid character in year"}}]}


def test_every_bad_parameter_is_reported(app: Flask) -> None:
    response = app.test_client().get("/api/v1/usage?start_date=2026-02-30&end_date=2026-13-01", headers=AUTH)
    detail = response.get_json()["detail"]
    assert [d["loc"] for d in detail] == [["query", "start_date"], ["query", "end_date"]]
    assert "day value is outside expected range" in detail[0]["msg"]


@pytest.mark.parametrize("query", ["start_date=2026-11-20&end_date=2026-11-01", "end_date=2026-10-31",
                                   "start_date=2026-12-01"])
def test_inverted_window_given_or_defaulted_gets_422(app: Flask, query: str) -> None:
    response = app.test_client().get(f"/api/v1/usage?{query}", headers=AUTH)
    assert response.status_code == 422
    (detail,) = response.get_json()["detail"]
    assert detail["type"] == "value_error" and detail["loc"][0] == "query"


@pytest.mark.parametrize(("raw", "expected"), [("2026-11-01T00:00:00", "2026-11-01"), ("0", "1970-01-01")])
def test_lax_dates_are_accepted_as_the_reference_accepts_them(app: Flask, raw: str, expected: str) -> None:
    response = app.test_client().get(f"/api/v1/usage?start_date={raw}", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["period_start"] == expected


def test_defaults_unknown_params_and_last_value_wins(app: Flask) -> None:
    client = app.test_client()
    body = client.get("/api/v1/usage?foo=bar", headers=AUTH).get_json()
    assert (body["period_start"], body["period_end"]) == ("2026-11-01", "2026-11-25")
    repeated = client.get("/api/v1/usage?start_date=2026-01-01&start_date=2026-02-01", headers=AUTH).get_json()
    assert repeated["period_start"] == "2026-02-01"


def test_other_methods_get_405_with_allow_and_unknown_paths_404_json(app: Flask) -> None:
    client = app.test_client()
    for method in ("post", "put", "delete", "patch", "head", "options"):
        response = getattr(client, method)("/api/v1/usage", headers=AUTH)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "GET"
    unknown = client.open("/api/v1/usage", method="FOO", headers=AUTH)
    assert unknown.status_code == 405 and unknown.headers["Allow"] == "GET"
    assert unknown.get_json() == {"detail": "Method Not Allowed"}
    missing = client.get("/api/v2/usage", headers=AUTH)
    assert missing.status_code == 404 and missing.get_json() == {"detail": "Not Found"}


def test_same_org_in_jwt_claims_sees_the_same_usage(app: Flask) -> None:
    import base64
    import json

    def jwt(claims: dict[str, str]) -> str:
        seg = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode()
               for p in ({"alg": "RS256"}, claims)]
        return ".".join([*seg, "c2ln"])

    client = app.test_client()
    alice = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {jwt({'org_id': 'acme', 'sub': 'a'})}"})
    bob = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {jwt({'org_id': 'acme', 'sub': 'b'})}"})
    carol = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {jwt({'org_id': 'globex', 'sub': 'c'})}"})
    assert alice.status_code == bob.status_code == carol.status_code == 200
    assert alice.get_json() == bob.get_json()
    assert carol.get_json() != alice.get_json()  # the org decides the usage, not "any JWT"


def test_a_second_document_is_served_for_all_its_operations() -> None:
    app = create_app(spec=INVENTORY, access_log=False)
    openapi = OpenAPI.from_file_path(str(INVENTORY))
    client = app.test_client()
    key = {"X-API-Key": "k"}
    calls = [("get", "/items?limit=5", None, 200), ("post", "/items", {"name": "a", "price": 1}, 201),
             ("get", "/items/7", None, 200), ("delete", "/items/7", None, 204), ("get", "/health", None, 200)]
    for method, url, payload, status in calls:
        response = getattr(client, method)(url, headers=key, json=payload)
        assert response.status_code == status, (method, url, response.get_data(as_text=True))
        with app.test_request_context(url, method=method.upper(), headers=key, json=payload) as ctx:
            openapi.validate_response(WerkzeugOpenAPIRequest(ctx.request), WerkzeugOpenAPIResponse(response))
    created = client.post("/items", headers=key, json={"name": "a", "price": 1}).get_json()
    assert created == {"id": 42, "name": "widget", "price": 9.5, "tags": ["blue"], "discontinued": None}
    assert client.get("/items?limit=500", headers=key).status_code == 422
    assert client.post("/items", headers=key, json={"price": -1}).status_code == 422
    assert client.get("/items/7").status_code == 401
    assert client.get("/health").get_json() == {"status": "ok"}


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"), ("{not json", "not valid JSON"), ('{"swagger": "2.0"}', "not an OpenAPI 3.x"),
    ('{"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": {"/a": {"get": {"responses": '
     '{"200": {"$ref": "#/components/responses/Gone"}}}}}}', "invalid OpenAPI document"),
])
def test_unusable_documents_fail_with_one_clear_line(tmp_path: Path, content: str | None, message: str) -> None:
    spec = tmp_path / "spec.json"
    if content is not None:
        spec.write_text(content)
    with pytest.raises(ContractError) as caught:
        create_app(spec=spec)
    text = str(caught.value)
    assert message in text and str(spec) in text and "\n" not in text


def test_with_tokens_given_only_those_are_valid_as_on_a_real_server() -> None:
    client = create_app(seed=1, access_log=False, journal_size=0, tokens=frozenset({"csk_only_this_one"})).test_client()
    assert client.get("/api/v1/usage", headers={"Authorization": "Bearer csk_only_this_one"}).status_code == 200
    for near in ("csk_only_this_onE", "csk_only_this_one0", "csk_only_this_on", "csk_test"):
        refused = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {near}"})
        assert (refused.status_code, refused.get_json()) == (401, {"detail": "Invalid authentication credentials"})

"""Contract requests bypass Flask altogether (a speed-up); the control API keeps Flask's routing.

The mock matches every path against the contract's own operation index, so a path Flask would
have claimed for itself (its default ``/static/``) belongs to the contract now.
"""

from __future__ import annotations

import pytest
from flask import Flask, Response, request

from mockserver.app import create_app

AUTH = {"Authorization": "Bearer csk_routing_12345678"}


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(seed=1, access_log=False, journal_size=0)


def test_contract_paths_are_served_without_flask() -> None:
    """Seen from Flask's public ``after_request`` hook: a contract request never enters Flask (no
    request context, no URL rule, no hooks), while a control API path still matched its own rule.
    (Until the pipeline ran outside Flask, the contract path entered Flask with no rule matched.)"""
    app = create_app(seed=1, access_log=False, journal_size=0)
    rules: dict[str, str | None] = {}

    @app.after_request
    def record_rule(response: Response) -> Response:
        rules[request.path] = request.url_rule.rule if request.url_rule is not None else None
        return response

    client = app.test_client()
    response = client.get("/api/v1/usage", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["plan"]
    assert client.get("/__mock/health").status_code == 200
    assert rules == {"/__mock/health": "/__mock/health"}


def test_flask_claims_no_path_of_the_contracts_own(app: Flask) -> None:
    response = app.test_client().get("/static/dashboard.css", headers=AUTH)
    assert (response.status_code, response.get_json()) == (404, {"detail": "Not Found"})


def test_the_control_api_and_its_assets_keep_flasks_routing(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/__mock/health").status_code == 200
    assert client.get("/__mock/static/dashboard.css").status_code == 200
    assert client.get("/__mock/no-such-thing").status_code == 404


def test_methods_the_contract_lacks_still_get_405_with_allow(app: Flask) -> None:
    response = app.test_client().post("/api/v1/usage", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("path", ["/api/v1/usage/", "//api/v1/usage", "/api/v1//usage", "/api/v1/usage/extra"])
def test_near_misses_of_a_documented_path_are_404_not_the_operation(app: Flask, path: str) -> None:
    response = app.test_client().get(path, headers=AUTH)
    assert (response.status_code, response.get_json()) == (404, {"detail": "Not Found"}), path


def test_the_root_leads_to_the_dashboard_when_the_control_api_is_on(app: Flask) -> None:
    root = app.test_client().get("/")
    assert (root.status_code, root.headers["Location"]) == (302, "/__mock/")
    closed = create_app(seed=1, access_log=False, journal_size=0, control=False).test_client().get("/")
    assert (closed.status_code, closed.get_json()) == (404, {"detail": "Not Found"})

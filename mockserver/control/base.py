"""The control API's frame: its blueprint, route table, errors, unknown endpoints and request helpers.

Its views live in :mod:`mockserver.control.api` (health, journal, reset, reload, the dashboard) and
:mod:`mockserver.control.views` (scenarios, per-token scenarios, faults, live usage).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from mockserver.contract import replies
from mockserver.model.auth import AuthOutcome, authenticate, bearer_token
from mockserver.model.scenarios import UnknownScenarioError, get_scenario, names
from mockserver.settings import CONTROL_PREFIX
from mockserver.state import state

STATIC = Path(__file__).with_name("static")
blueprint = Blueprint("mock_control", __name__, static_folder=str(STATIC), static_url_path="/static")
ROUTES: dict[str, set[str]] = {}
View = Callable[..., Response]


def route(path: str, *methods: str) -> Callable[[View], View]:
    """Register a control endpoint and remember its methods (for 405 and the endpoint list)."""
    def register(view: View) -> View:
        ROUTES.setdefault(path, set()).update(methods)
        blueprint.add_url_rule(path, f"{view.__name__}_{'_'.join(methods).lower()}", view, methods=list(methods))
        return view
    return register


class ControlError(Exception):
    def __init__(self, kind: str, title: str, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.kind, self.title, self.status, self.detail, self.extra = kind, title, status, detail, extra


@blueprint.errorhandler(ControlError)
def _control_error(error: ControlError) -> Response:
    return replies.problem(error.kind, error.title, error.status, error.detail, **error.extra)


@blueprint.after_request
def _name_the_worker(response: Response) -> Response:
    response.headers["X-Mock-Worker"] = str(os.getpid())
    response.headers.setdefault("Cache-Control", "no-store")
    return response



# --- unknown endpoints and methods ---------------------------------------------------------------

@blueprint.route("/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"])
def unknown(rest: str) -> Response:
    path = "/" + rest
    if path in ROUTES:
        allowed = ", ".join(sorted(ROUTES[path]))
        response = replies.problem("method-not-allowed", "Method not allowed", 405,
                                   f"{CONTROL_PREFIX}{path} answers {allowed}")
        response.headers["Allow"] = allowed
        return response
    endpoints = sorted(f"{CONTROL_PREFIX}{path} ({', '.join(sorted(methods))})" for path, methods in ROUTES.items())
    return replies.problem("unknown-control-endpoint", "No such control endpoint", 404,
                           f"{CONTROL_PREFIX}/{rest} is not a control endpoint", valid=endpoints)


@blueprint.route("/", methods=["POST", "PUT", "PATCH", "DELETE", "TRACE"])
def unknown_root() -> Response:
    return unknown("")



# --- request helpers ---------------------------------------------------------------------------

def refuse_in_proxy_mode(what: str) -> None:
    """In proxy mode the upstream answers: a setting that would never apply is refused, not stored."""
    if state().proxy is not None:
        raise ControlError("proxy-mode", "Not available in proxy mode", 409,
                           f"the mock forwards to an upstream, which answers with its own data: {what} would not apply")


def json_body(optional: bool = False) -> dict[str, Any]:
    data = request.get_data()
    if not data.strip():
        if optional:
            return {}
        raise ControlError("bad-control-request", "A JSON body is needed", 400, "send a JSON object")
    try:
        body = json.loads(data)
    except ValueError:
        raise ControlError("bad-control-request", "Not JSON", 400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError("bad-control-request", "Not a JSON object", 400, "send a JSON object")
    return body


def scenario_field(body: dict[str, Any]) -> str:
    value = body.get("scenario")
    if not isinstance(value, str):
        raise ControlError("bad-control-request", "Missing scenario", 400,
                           f"send {{\"scenario\": NAME}} with one of {', '.join(names())}", valid=names())
    try:
        return get_scenario(value).name
    except UnknownScenarioError:
        raise ControlError("unknown-scenario", "Unknown scenario", 400,
                           f"No scenario is called {value!r}; choose one of {', '.join(names())}",
                           valid=names()) from None


def token_of(body: dict[str, Any]) -> str | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None and isinstance(body.get("token"), str):
        token = body["token"].strip() or None
    return token


def required_org(body: dict[str, Any]) -> tuple[str, str]:
    """(org key, token kind) of the token the request names; the token itself goes no further."""
    token = token_of(body)
    if token is None:
        raise ControlError("missing-token", "Which token?", 400,
                           "name the token as the app sends it: an 'Authorization: Bearer …' header "
                           "(or a \"token\" field)")
    credential = authenticate(f"Bearer {token}")
    if credential.outcome is not AuthOutcome.OK:
        raise ControlError("invalid-token", "Not a token the API accepts", 400,
                           f"the token is refused: {credential.reason}")
    return credential.org_key, "api-key" if token.startswith("csk_") else "jwt"


def optional_org() -> str | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    credential = authenticate(f"Bearer {token}")
    return credential.org_key if credential.ok else None


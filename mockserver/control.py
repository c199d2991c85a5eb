"""The control API under ``/__mock/``: health, scenarios, per-token scenarios, faults, live usage,
the journal, reset, reload, and the dashboard page.

It is served by the same server as the mock, so it binds where the mock binds (loopback unless
``--host`` says otherwise; ``--no-control`` removes it). Everything it changes lives in the
:class:`~mockserver.shared.SharedStore`, so whichever worker answers a control call, every worker
serves the result; each reply names the worker that answered (``X-Mock-Worker``). Its errors are
the mock's own problem+json, with stable ``type`` values. Tokens are read from the
``Authorization`` header (or a ``token`` field) and never stored or echoed: a token is known by
its org key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request, send_from_directory

from crosmos_contract import rules
from mockserver import replies
from mockserver.app import CONTROL_PREFIX, MockState, state
from mockserver.auth import AuthOutcome, authenticate, bearer_token
from mockserver.faults import FaultSettings
from mockserver.liveusage import MAX_AMOUNT
from mockserver.scenarios import SCENARIOS, UnknownScenarioError, get_scenario, names

STATIC = Path(__file__).with_name("static")
blueprint = Blueprint("mock_control", __name__, static_folder=str(STATIC), static_url_path="/static")
ROUTES: dict[str, set[str]] = {}
USAGE_FIELDS = frozenset({"metric", "amount", "token"})  # POST /usage
View = Callable[..., Response]
_CSP = "default-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"


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


# --- the dashboard -----------------------------------------------------------------------------

@route("/", "GET")
def dashboard() -> Response:
    response = send_from_directory(STATIC, "dashboard.html", max_age=0)
    response.headers["Content-Security-Policy"] = _CSP
    return response


# --- health and scenarios ----------------------------------------------------------------------

@route("/health", "GET")
def health() -> Response:
    mock = state()
    contract = mock.runtime.contract
    watching = mock.watcher.status() if mock.watcher else {
        "path": str(contract.path), "sha256": contract.sha256, "reload_error": None, "watching": False}
    snapshot = mock.store.snapshot()
    body = {
        "status": "degraded" if watching.get("reload_error") else "ok",
        "worker": os.getpid(),
        "mode": "proxy" if mock.proxy else "mock",
        "upstream": mock.proxy.upstream if mock.proxy else None,
        "strict": bool(mock.proxy and mock.proxy.strict),
        "contract": {"title": contract.title, "operations": [f"{op.method} {op.path}" for op in mock.index.operations],
                     **watching},
        "scenario": mock.server_scenario(snapshot),
        "faults": mock.fault_settings(snapshot).as_json(),
        "live_usage": {"metric": mock.live.metric, "per_call": mock.live.step} if mock.live else None,
        "cors_origins": sorted(mock.cors.origins),
        "journal_size": mock.journal.size,
        "seed": mock.settings.seed,
        "today": mock.settings.clock().isoformat(),
    }
    return replies.json_reply(body)


@route("/scenarios", "GET")
def list_scenarios() -> Response:
    """Every scenario; with ``?samples=1`` a sample body for each (the caller's org, or a demo org)."""
    mock = state()
    snapshot = mock.store.snapshot()
    org = _optional_org() or "key:dashboard-demo"
    with_samples = request.args.get("samples", "").lower() in ("1", "true", "yes")
    listed = []
    for scenario in SCENARIOS.values():
        item = scenario.describe()
        if with_samples:
            item["sample"] = _sample(mock, scenario.name, org)
        listed.append(item)
    return replies.json_reply({"server_scenario": mock.server_scenario(snapshot), "default": mock.settings.scenario,
                               "scenarios": listed})


def _sample(mock: MockState, name: str, org: str) -> dict[str, Any]:
    today = mock.settings.clock()
    start = rules.first_of_month(today)
    extra = mock.live.extra(org, start, today) if mock.live else None
    body = SCENARIOS[name].report(mock.ledger, org, start, today, today, extra).as_body()
    problems = rules.check_usage_body(body, today_candidates=[today], start_param=None, end_param=None)
    if problems:  # the same generation path as the API: a problem here is a bug in the mock
        raise ControlError("self-check-failed", "A sample broke the rules", 500, "; ".join(map(str, problems)))
    return body


@route("/scenario", "GET")
def server_scenario() -> Response:
    mock = state()
    snapshot = mock.store.snapshot()
    return replies.json_reply({"scenario": mock.server_scenario(snapshot),
                               "source": "control-api" if snapshot.scenario else "command-line"})


@route("/scenario", "PUT")
def set_server_scenario() -> Response:
    _refuse_in_proxy_mode("a scenario")
    name = _scenario_field(_json_body())
    state().store.set_setting("scenario", name)
    return replies.json_reply({"scenario": name, "source": "control-api"})


@route("/scenario", "DELETE")
def clear_server_scenario() -> Response:
    mock = state()
    mock.store.set_setting("scenario", None)
    return replies.json_reply({"scenario": mock.settings.scenario, "source": "command-line"})


# --- per-token scenarios -----------------------------------------------------------------------

@route("/tokens", "GET")
def list_tokens() -> Response:
    return replies.json_reply({"tokens": state().store.token_scenarios()})


@route("/tokens/scenario", "GET")
def token_scenario() -> Response:
    mock = state()
    org, _ = _required_org({})
    snapshot = mock.store.snapshot()
    chosen = snapshot.token_scenarios.get(org)
    return replies.json_reply({"org": org, "scenario": chosen or mock.server_scenario(snapshot),
                               "source": "token" if chosen else "server"})


@route("/tokens/scenario", "PUT")
def set_token_scenario() -> Response:
    _refuse_in_proxy_mode("a scenario")
    body = _json_body()
    org, kind = _required_org(body)
    name = _scenario_field(body)
    if not state().store.set_token_scenario(org, kind, name):
        raise ControlError("too-many-tokens", "Too many token scenarios", 409,
                           "clear some with DELETE /__mock/tokens/scenario or POST /__mock/reset")
    return replies.json_reply({"org": org, "token": kind, "scenario": name})


@route("/tokens/scenario", "DELETE")
def clear_token_scenario() -> Response:
    mock = state()
    org, _ = _required_org(_json_body(optional=True))
    mock.store.set_token_scenario(org, "", None)
    return replies.json_reply({"org": org, "scenario": mock.server_scenario(mock.store.snapshot()),
                               "source": "server"})


# --- faults and live usage ---------------------------------------------------------------------

@route("/faults", "GET")
def get_faults() -> Response:
    mock = state()
    snapshot = mock.store.snapshot()
    return replies.json_reply({**mock.fault_settings(snapshot).as_json(),
                               "source": "control-api" if snapshot.faults is not None else "command-line"})


@route("/faults", "PUT")
def replace_faults() -> Response:
    """The fault settings, whole: a field left out is off (PUT replaces, as HTTP means it)."""
    return _apply_faults(replace=True)


@route("/faults", "PATCH")
def merge_faults() -> Response:
    """Change some fault settings; the others keep their current value."""
    return _apply_faults(replace=False)


def _apply_faults(*, replace: bool) -> Response:
    mock = state()
    current = mock.fault_settings(mock.store.snapshot())
    try:
        updated = (FaultSettings() if replace else current).updated(_json_body())
    except ValueError as exc:
        raise ControlError("bad-control-request", "Invalid fault settings", 400, str(exc)) from None
    if updated.rate_limit and not current.rate_limit:
        _refuse_in_proxy_mode("rate-limit emulation")
    mock.store.set_setting("faults", updated.as_json())
    return replies.json_reply({**updated.as_json(), "source": "control-api"})


@route("/faults", "DELETE")
def clear_faults() -> Response:
    mock = state()
    mock.store.set_setting("faults", None)
    return replies.json_reply({**mock.settings.faults.as_json(), "source": "command-line"})


@route("/usage", "POST")
def add_usage() -> Response:
    """Live usage: add ``amount`` of ``metric`` to the caller's org today (needs ``--live-usage``)."""
    mock = state()
    if mock.live is None:
        raise ControlError("live-usage-off", "Live usage is off", 409,
                           "start the mock with --live-usage METRIC[:N] to count usage")
    body = _json_body()
    org, _ = _required_org(body)
    unknown = sorted(set(body) - USAGE_FIELDS)
    if unknown:
        raise ControlError("bad-control-request", "Unknown fields", 400,
                           f"{', '.join(unknown)}: not a field of a usage push (fields: "
                           f"{', '.join(sorted(USAGE_FIELDS))}); usage is always added today",
                           valid=sorted(USAGE_FIELDS))
    metric, amount = body.get("metric", mock.live.metric), body.get("amount", 1)
    if metric not in rules.METRIC_NAMES:
        raise ControlError("bad-control-request", "Unknown metric", 400,
                           f"metric is one of {', '.join(rules.METRIC_NAMES)}", valid=list(rules.METRIC_NAMES))
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise ControlError("bad-control-request", "Invalid amount", 400,
                           f"amount is a whole number between 1 and {MAX_AMOUNT}")
    today = mock.settings.clock()
    mock.live.add(org, today, metric, amount)
    return replies.json_reply({"org": org, "metric": metric, "added": amount, "day": today.isoformat()})


# --- journal, reset, reload --------------------------------------------------------------------

@route("/journal", "GET")
def journal() -> Response:
    """The newest entries of every worker, newest first (``?limit=``, at most the journal's size)."""
    mock = state()
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ControlError("bad-control-request", "Invalid journal query", 400, "limit is a whole number") from None
    return replies.json_reply({"size": mock.journal.size, "entries": mock.journal.recent(limit)})


@route("/journal", "DELETE")
def clear_journal() -> Response:
    state().store.set_setting("journal_cleared_at", time.time())
    return replies.no_content()


@route("/reset", "POST")
def reset() -> Response:
    """Back to how the server started: scenarios, faults, live usage, rate windows and the journal."""
    state().store.reset()
    return replies.no_content()


@route("/reload", "POST")
def reload() -> Response:
    """Check the contract file now (this worker; the others notice on their next request)."""
    mock = state()
    if mock.watcher is None:
        raise ControlError("reload-off", "Reload is off", 409, "the mock was started with --no-reload")
    mock.watcher.force()
    status = mock.watcher.status()
    if status["reload_error"] is not None:
        raise ControlError("reload-failed", "The contract did not reload", 422, status["reload_error"],
                           worker=os.getpid(), **status)
    return replies.json_reply({"worker": os.getpid(), **status})


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

def _refuse_in_proxy_mode(what: str) -> None:
    """In proxy mode the upstream answers: a setting that would never apply is refused, not stored."""
    if state().proxy is not None:
        raise ControlError("proxy-mode", "Not in proxy mode", 409,
                           f"the mock forwards to an upstream, which answers with its own data: {what} would not apply")


def _json_body(optional: bool = False) -> dict[str, Any]:
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


def _scenario_field(body: dict[str, Any]) -> str:
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


def _token(body: dict[str, Any]) -> str | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None and isinstance(body.get("token"), str):
        token = body["token"].strip() or None
    return token


def _required_org(body: dict[str, Any]) -> tuple[str, str]:
    """(org key, token kind) of the token the request names; the token itself goes no further."""
    token = _token(body)
    if token is None:
        raise ControlError("missing-token", "Which token?", 400,
                           "name the token as the app sends it: an 'Authorization: Bearer …' header "
                           "(or a \"token\" field)")
    credential = authenticate(f"Bearer {token}")
    if credential.outcome is not AuthOutcome.OK:
        raise ControlError("invalid-token", "Not a token the API accepts", 400,
                           f"the token is refused: {credential.reason}")
    return credential.org_key, "api-key" if token.startswith("csk_") else "jwt"


def _optional_org() -> str | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    credential = authenticate(f"Bearer {token}")
    return credential.org_key if credential.ok else None


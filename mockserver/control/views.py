"""Control API views that change what the mock serves: scenarios (server-wide and per token),
faults, and live usage. Every change lives in the shared store, so every worker serves it."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from crosmos_contract import rules
from mockserver.contract import replies
from mockserver.control.base import (
    ControlError,
    json_body,
    optional_org,
    refuse_in_proxy_mode,
    required_org,
    route,
    scenario_field,
)
from mockserver.model.faults import FaultSettings
from mockserver.model.live_usage import MAX_AMOUNT
from mockserver.model.scenarios import SCENARIOS
from mockserver.state import MockState, state

USAGE_FIELDS = frozenset({"metric", "amount", "token"})  # POST /usage


@route("/scenarios", "GET")
def list_scenarios() -> Response:
    """Every scenario; with ``?samples=1`` a sample body for each (the caller's org, or a demo org)."""
    mock = state()
    snapshot = mock.store.snapshot()
    org = optional_org() or "key:dashboard-demo"
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
    refuse_in_proxy_mode("a scenario")
    name = scenario_field(json_body())
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
    org, _ = required_org({})
    snapshot = mock.store.snapshot()
    chosen = snapshot.token_scenarios.get(org)
    return replies.json_reply({"org": org, "scenario": chosen or mock.server_scenario(snapshot),
                               "source": "token" if chosen else "server"})


@route("/tokens/scenario", "PUT")
def set_token_scenario() -> Response:
    refuse_in_proxy_mode("a scenario")
    body = json_body()
    org, kind = required_org(body)
    name = scenario_field(body)
    if not state().store.set_token_scenario(org, kind, name):
        raise ControlError("too-many-tokens", "Too many token scenarios", 409,
                           "clear some with DELETE /__mock/tokens/scenario or POST /__mock/reset")
    return replies.json_reply({"org": org, "token": kind, "scenario": name})


@route("/tokens/scenario", "DELETE")
def clear_token_scenario() -> Response:
    mock = state()
    org, _ = required_org(json_body(optional=True))
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
        updated = (FaultSettings() if replace else current).updated(json_body())
    except ValueError as exc:
        raise ControlError("bad-control-request", "Invalid fault settings", 400, str(exc)) from None
    if updated.rate_limit and not current.rate_limit:
        refuse_in_proxy_mode("rate-limit emulation")
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
    body = json_body()
    org, _ = required_org(body)
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

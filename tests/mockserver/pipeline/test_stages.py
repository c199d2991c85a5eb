"""Each pipeline stage on a small context: what it decides, and that it replies only when it must."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask

from mockserver.app import create_app
from mockserver.context import Context, Mode
from mockserver.contract.replies import SelfCheckError
from mockserver.model.faults import FaultSettings
from mockserver.pipeline import stages
from mockserver.pipeline.check import check_output
from mockserver.state import state

TOKEN = "csk_stage_test_token"
TODAY = date(2026, 3, 15)


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(seed=3, clock=lambda: TODAY, access_log=False, journal_size=0, reload=False)


@pytest.fixture
def context(app: Flask) -> Iterator[Any]:
    """``context(path, **headers)``: a Context for that request, inside its request context."""
    open_contexts: list[Any] = []

    def make(path: str = "/api/v1/usage", method: str = "GET", **headers: str) -> Context:
        headers = {"Authorization": f"Bearer {TOKEN}", **headers}
        request_context = app.test_request_context(path, method=method, headers=headers)
        request_context.push()
        open_contexts.append(request_context)
        from flask import request

        return Context(state(), request._get_current_object(), state().moment(), Mode.MOCK)  # type: ignore[attr-defined]

    yield make
    for request_context in reversed(open_contexts):
        request_context.pop()


def _through(ctx: Context, *names: str) -> Any:
    for name in names:
        reply = getattr(stages, name)(ctx)
        if reply is not None:
            return reply
    return None


def test_the_stage_list_is_the_documented_order() -> None:
    assert [s.__name__ for s in stages.STAGES] == [
        "latency", "route", "validate_request", "authenticate_request", "choose_scenario", "refuse_invalid",
        "read_preferences",
        "inject_faults", "produce", "check_output", "conclude"]


def test_route_names_the_operation_or_refuses_what_the_contract_lacks(context: Any) -> None:
    ctx = context()
    assert stages.route(ctx) is None and ctx.operation is not None and ctx.usage
    assert stages.route(context("/api/v1/nothing")).status_code == 404
    assert stages.route(context(method="DELETE")).status_code == 405
    assert stages.route(context("/")).headers["Location"] == "/__mock/"


def test_authenticate_refuses_with_a_reason_and_names_the_org(context: Any) -> None:
    ctx = context(Authorization="Basic abc")
    reply = _through(ctx, "route", "validate_request", "authenticate_request")
    assert reply.status_code == 401 and ctx.request_outcome == "unauthenticated" and "Basic" in ctx.problems[0]
    ok = context()
    assert _through(ok, "route", "validate_request", "authenticate_request") is None
    assert ok.org and ok.org == ok.credential.org_key and TOKEN not in ok.org


def test_refuse_invalid_is_where_every_422_is_decided(context: Any) -> None:
    bad = context("/api/v1/usage?start_date=2026-02-30")
    assert _through(bad, "route", "validate_request", "authenticate_request") is None  # recorded, not refused
    assert bad.request_outcome == "invalid"
    assert stages.refuse_invalid(bad).status_code == 422
    inverted = context("/api/v1/usage?start_date=2026-03-20")  # end defaults to today, the 15th
    reply = _through(inverted, "route", "validate_request", "authenticate_request", "refuse_invalid")
    assert reply.status_code == 422 and reply.get_json()["detail"][0]["loc"] == ["query", "start_date"]
    fine = context("/api/v1/usage?start_date=2026-03-01")
    assert _through(fine, "route", "validate_request", "authenticate_request", "refuse_invalid") is None


def test_read_preferences_chooses_the_requests_scenario_over_the_servers(context: Any) -> None:
    ctx = context(Prefer="scenario=exhausted, delay=5ms")
    assert _through(ctx, "route", "validate_request", "authenticate_request", "choose_scenario",
                    "read_preferences") is None
    assert ctx.scenario == "exhausted" and ctx.delay == (5, 5)
    plain = context()
    _through(plain, "route", "validate_request", "authenticate_request", "choose_scenario", "read_preferences")
    assert plain.scenario == "default" and plain.delay is None
    wrong = context(Prefer="scenario=nope")
    assert _through(wrong, "route", "validate_request", "authenticate_request", "read_preferences").status_code == 400


def test_latency_is_decided_once_for_every_reply(context: Any) -> None:
    ctx = context()
    stages.latency(ctx)
    assert ctx.delay is None and ctx.faults is None  # off unless asked for
    slowed = context()
    slowed.moment = dataclasses.replace(slowed.moment, faults=FaultSettings(latency=(7, 7)))
    stages.latency(slowed)
    assert slowed.delay == (7, 7) and slowed.faults is not None


def test_choose_scenario_knows_the_servers_state_before_any_refusal(context: Any) -> None:
    refused = context("/api/v1/usage?start_date=2026-13-01")
    reply = _through(refused, "route", "validate_request", "authenticate_request", "choose_scenario", "refuse_invalid")
    assert reply.status_code == 422 and refused.scenario == "default"


def test_inject_faults_serves_a_requested_production_error(context: Any) -> None:
    ctx = context(Prefer="code=503")
    reply = _through(ctx, "route", "validate_request", "authenticate_request", "choose_scenario", "refuse_invalid",
                     "read_preferences", "inject_faults")
    assert reply.status_code == 503 and ctx.fault == "requested" and ctx.response_outcome == "fault"


def test_check_output_refuses_a_body_that_breaks_a_rule(context: Any) -> None:
    ctx = context()
    assert _through(ctx, "route", "validate_request", "authenticate_request", "choose_scenario", "refuse_invalid",
                    "read_preferences", "inject_faults", "produce") is None
    assert ctx.check == "full" and ctx.keep is not None
    assert check_output(ctx) is None and ctx.response_outcome == "valid"
    broken = context()
    _through(broken, "route", "validate_request", "authenticate_request", "choose_scenario", "refuse_invalid",
             "read_preferences", "inject_faults", "produce")
    assert broken.check is None  # kept after its first check: not judged again
    body = broken.reply.get_json()
    body["tokens"]["remaining"] = body["tokens"]["limit"] + 1
    broken.reply.set_data(json.dumps(body))
    broken.check = "full"  # as a producer hands over a body it has just built
    with pytest.raises(SelfCheckError, match="METRIC-004"):
        check_output(broken)

"""The usage producer: ``GET /api/v1/usage`` through a scenario over the semantic ledger.

A body depends on the scenario, the org, the window, today and live additions only, so a body
built once (and checked once, by the output stage) is kept under exactly that key
(``ContractRuntime.responses``). ``Prefer: dynamic=true`` asks for a fresh org every time and
is never kept.
"""

from __future__ import annotations

import functools
import random
from typing import Any

from flask import Response

from mockserver.context import Check, Context
from mockserver.contract import generator, replies
from mockserver.contract.operations import Operation
from mockserver.model.scenarios import DEFAULT, SCENARIOS
from mockserver.produce.documented import (
    chosen_status,
    refuse_broken_example,
    render,
    serve_documented,
    unknown_example,
)
from mockserver.produce.prefer import SCENARIO_HEADER


def serve_usage(ctx: Context, operation: Operation) -> Response:
    mock, preferences = ctx.mock, ctx.preferences
    assert ctx.window is not None  # refuse_invalid read it, or refused the request
    today, (start, end) = ctx.moment.today, ctx.window
    org = ctx.credential.org_key
    keep = True
    if preferences is not None:
        chosen = chosen_status(operation, preferences)
        if chosen != "200" or preferences.example is not None:
            return _serve_usage_status(ctx, operation, chosen)
        if preferences.dynamic:
            org, keep = f"dynamic:{random.getrandbits(48):012x}", False
    scenario = ctx.scenario or DEFAULT
    extra = mock.live.extra(org, start, end) if mock.live is not None else None
    key = (scenario, org, start, end, today, tuple(sorted(extra.items())) if extra else None)
    runtime = ctx.moment.runtime
    cached = runtime.responses.get(key)
    if cached is None:
        body = SCENARIOS[scenario].report(mock.ledger, org, start, end, today, extra).as_body()
        response = replies.json_reply(body)
        ctx.check = Check.FULL  # judged by check_output before it is served, then kept
        if keep:
            ctx.keep = (key, (response.status_code, response.get_data(), response.mimetype or "application/json"))
    else:
        response = Response(cached[1], status=cached[0], mimetype=cached[2])
    if scenario != DEFAULT:
        response.headers[SCENARIO_HEADER] = scenario
    return response


def _serve_usage_status(ctx: Context, operation: Operation, status: str) -> Response:
    """``Prefer: code=…`` or ``example=…`` on the usage operation: a documented reply, as written."""
    preferences = ctx.preferences
    assert preferences is not None
    ctx.check = Check.AS_WRITTEN
    if preferences.example is None and status == "422":
        return replies.json_reply({"detail": _canonical_validation_error()}, 422)
    if preferences.example is not None and status.startswith("2"):
        response_spec = operation.response(status)
        media = generator.media_type(response_spec) or "application/json"
        documented = generator.documented_examples(response_spec, media)
        if preferences.example not in documented:
            raise unknown_example(operation, status, documented, hint=True)
        refuse_broken_example(ctx.moment.runtime, operation, status, preferences.example, documented)
        return render(documented[preferences.example], int(status), media)
    return serve_documented(ctx, operation)


@functools.cache
def _canonical_validation_error() -> list[dict[str, Any]]:
    """What FastAPI answers for ``start_date=not-a-date``: the 422 a frontend most often meets."""
    from mockserver.contract.params import parse_value

    return parse_value("date", "not-a-date", ("query", "start_date"))[1]

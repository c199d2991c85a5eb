"""One request to the contract from the way in to the way out: the shared state read once as it
arrives (:meth:`mockserver.state.MockState.moment`), CORS preflights, every stage
(:mod:`mockserver.pipeline.stages`), then, whichever stage replied, the delay, the fault header,
CORS headers, the journal row and the access line.

Contract requests come here straight from WSGI (:mod:`mockserver.app` serves them without Flask's
request context); the control API reaches the way in and out through Flask's hooks.
"""

from __future__ import annotations

import logging
import os
import time
from typing import NamedTuple

from flask import Request, Response, g, request
from werkzeug.exceptions import HTTPException

from mockserver.context import MOMENT, Context, Mode, RequestOutcome, ResponseOutcome
from mockserver.contract import replies
from mockserver.contract.replies import SelfCheckError
from mockserver.model import faults
from mockserver.model.auth import mask_request
from mockserver.pipeline.stages import run
from mockserver.produce.dispatch import give_way
from mockserver.state import MockState, state
from mockserver.store.access_log import access_line, log
from mockserver.store.journal import Entry

REPLAY_FACTS = "crosmos.reply_facts"  # environ key: a replayable reply's facts, for mockserver.serving.replay


def serve(mock: MockState, req: Request, started: float) -> Response:
    """One request to the contract: on the way in, every stage, on the way out."""
    ctx: Context | None = None
    try:
        moment = req.environ.get(MOMENT) or mock.moment()  # the replay layer read it for its key
        reply = mock.cors.preflight(req) if req.method == "OPTIONS" else None
        if reply is None:
            ctx = Context(mock, req, moment, Mode.MOCK if mock.proxy is None else Mode.PROXY)
            reply = run(ctx)
    except HTTPException as error:  # werkzeug's, e.g. a body it cannot read
        reply = http_error_reply(mock, req, error)
    except Exception as error:
        reply = failure_reply(req, ctx, error)
    return depart(mock, req, ctx, reply, started)


def on_the_way_in() -> Response | None:
    """Flask's ``before_request`` hook (the control API): health and the dashboard see an edit of the
    contract too, and a preflight is answered."""
    g.started = time.perf_counter()
    mock, req = state(), current_request()
    if mock.watcher is not None:
        mock.watcher.poll()
    return mock.cors.preflight(req) if req.method == "OPTIONS" else None


def on_the_way_out(response: Response) -> Response:
    """Flask's ``after_request`` hook (the control API)."""
    return depart(state(), current_request(), None, response, g.get("started", time.perf_counter()))


def http_error_reply(mock: MockState, req: Request, error: HTTPException) -> Response:
    """Errors werkzeug raises (an unknown method, a body it cannot read): JSON too."""
    if error.code == 405:
        return replies.method_not_allowed(mock.index.match(req.method, req.path).allowed)
    return replies.json_reply({"detail": error.name}, error.code or 400)


def failure_reply(req: Request, ctx: Context | None, error: Exception) -> Response:
    """Never a traceback on the wire: a defect in the mock is logged and named as the mock's own."""
    logging.getLogger("mockserver.app").exception("mock failure on %s %s", req.method, req.path)
    kind = "self-check-failed" if isinstance(error, SelfCheckError) else "mock-failure"
    detail = f"{type(error).__name__}: {error}"[:500]
    if ctx is not None:
        ctx.response_outcome = ResponseOutcome.MOCK_ERROR
        ctx.problems = [*ctx.problems, detail]  # the journal row names the defect, as the reply does
    return replies.problem(kind, "The mock could not build a valid response", 500, detail)


def depart(mock: MockState, req: Request, ctx: Context | None, response: Response, started: float) -> Response:
    """The reply as it leaves: ``ctx`` is None for the control API and for preflights."""
    if ctx is not None:
        _delay(ctx)
        if ctx.fault is not None:  # every fault reply says which fault it is
            response.headers[faults.FAULT_HEADER] = ctx.fault
    origin = req.environ.get("HTTP_ORIGIN")
    if origin is not None:  # a cross-origin request
        mock.cors.decorate(origin, response)
    recorded = mock.journal.enabled or mock.settings.access_log
    if ctx is None:
        if recorded:
            record(mock, req.remote_addr, req.method, response.status_code, ReplyFacts(redacted_target(req)), None,
                   None, started, started)
        return response
    replayable = _replayable(ctx)
    if recorded or replayable:
        facts = reply_facts(ctx, req)
        if recorded:
            record(mock, req.remote_addr, req.method, response.status_code, facts, str(ctx.mode), ctx.fault,
                   ctx.started, started)
        if replayable:
            req.environ[REPLAY_FACTS] = facts
    return response


def _replayable(ctx: Context) -> bool:
    """Whether this reply is the same for the same request while nothing else changes, so
    :mod:`mockserver.serving.replay` may answer its twin from memory: no fault, no delay, no
    randomness (``dynamic``), no live usage, no upstream, and not a defect of the mock."""
    preferences = ctx.preferences
    return (ctx.mode is Mode.MOCK and ctx.faults is None and ctx.delay is None and ctx.mock.live is None
            and ctx.fault is None and ctx.response_outcome is not ResponseOutcome.MOCK_ERROR
            and (preferences is None or not preferences.dynamic)
            and ctx.request.method == "GET")


class ReplyFacts(NamedTuple):
    """What the journal row and the access line say of a reply: the same for a replayed twin."""

    target: str  # path and query, credentials masked
    org: str | None = None
    scenario: str | None = None
    request: str = "unchecked"
    response: str = "unchecked"
    problems: tuple[str, ...] = ()
    why: str = ""  # the access line's reason (a refused credential's)


def reply_facts(ctx: Context, req: Request) -> ReplyFacts:
    why = ""
    if ctx.request_outcome is RequestOutcome.UNAUTHENTICATED and ctx.problems:
        why = f" ({ctx.problems[0]})"  # a refused credential says why; the reason never quotes it
    outcome = ctx.response_outcome
    if outcome is None:  # the contract's own refusals (401, 404, 405, 422) are the reference's replies
        checked = ctx.mode is Mode.MOCK and ctx.request_outcome is not RequestOutcome.UNCHECKED
        outcome = ResponseOutcome.VALID if checked else ResponseOutcome.UNCHECKED
    return ReplyFacts(redacted_target(req), ctx.org, ctx.scenario, str(ctx.request_outcome), str(outcome),
                      tuple(_redacted_problems(ctx, req)), why)


def record(mock: MockState, remote_addr: str | None, method: str, status: int, facts: ReplyFacts, mode: str | None,
           fault: str | None, journaled_from: float, logged_from: float) -> None:
    """The one place a reply's journal row and its access line are written, for the pipeline's replies
    and for replayed ones (``mode`` None: a control API request, which is not journaled)."""
    if mock.journal.enabled and mode is not None:
        mock.journal.record(Entry(
            time.time(), method, facts.target, status, round((time.perf_counter() - journaled_from) * 1000, 1), mode,
            os.getpid(), facts.org, facts.scenario, facts.request, facts.response, facts.problems, fault))
    if mock.settings.access_log and log.isEnabledFor(logging.INFO):
        access_line(remote_addr, method, facts.target, status, logged_from, facts.why)



def current_request() -> Request:
    """The request itself: each ``request.x`` through Flask's proxy is a context lookup of its own."""
    real: Request = request._get_current_object()  # type: ignore[attr-defined]
    return real


def _delay(ctx: Context) -> None:
    """The latency the pipeline decided (a ``Prefer: delay``, else the latency fault)."""
    if ctx.delay is None:
        return
    if ctx.preferences is None or ctx.preferences.delay is None:
        ctx.fault = ctx.fault or "latency"
    give_way(ctx)
    time.sleep(faults.pick_delay(ctx.delay))


def _redacted_problems(ctx: Context, req: Request) -> list[str]:
    problems = ctx.problems
    if problems:
        authorization = req.environ.get("HTTP_AUTHORIZATION")
        problems = [mask_request(problem, authorization) for problem in problems]
    return problems


def redacted_target(req: Request) -> str:
    """The request's path and query for logs and the journal, credentials masked."""
    return mask_request(req.full_path if req.query_string else req.path, req.environ.get("HTTP_AUTHORIZATION"))

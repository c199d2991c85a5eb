"""What every request does on its way in and out, whichever stage replied (and for the control API):
the contract watcher's poll and CORS preflights on the way in; the delay, the fault header, the
journal row, CORS headers and the access line on the way out.

Contract requests call :func:`arrive` and :func:`depart` directly (:mod:`mockserver.app` serves
them without Flask's request context); the control API reaches them through Flask's hooks.
"""

from __future__ import annotations

import logging
import time

from flask import Request, Response, g, request

from mockserver import faults
from mockserver.access import access_line, log, worker_pid
from mockserver.auth import bearer_token, credential_of, mask_credentials
from mockserver.context import Context, Mode, RequestOutcome, ResponseOutcome
from mockserver.journal import Entry
from mockserver.producers import give_way
from mockserver.replay import REPLAY_FACTS, ReplayFacts
from mockserver.state import MockState, state


def on_the_way_in() -> Response | None:
    """Flask's ``before_request`` hook (the control API)."""
    g.started = time.perf_counter()
    return arrive(state(), current_request())


def on_the_way_out(response: Response) -> Response:
    """Flask's ``after_request`` hook (the control API)."""
    return depart(state(), current_request(), None, response, g.get("started", time.perf_counter()))


def arrive(mock: MockState, req: Request) -> Response | None:
    if mock.watcher is not None:  # every request, so health and the dashboard see an edit too
        mock.watcher.poll()
    if req.method == "OPTIONS":
        return mock.cors.preflight(req)
    return None


def depart(mock: MockState, req: Request, ctx: Context | None, response: Response, started: float) -> Response:
    """The reply as it leaves: ``ctx`` is None for the control API and for preflights."""
    target = None
    if ctx is not None:
        _delay(ctx)
        if ctx.fault is not None:  # every fault reply says which fault it is
            response.headers[faults.FAULT_HEADER] = ctx.fault
        if mock.journal.enabled:
            target = redacted_target(req)
            _journal(mock, ctx, req, response, target)
    mock.cors.decorate(req, response)
    why = ""
    if ctx is not None and ctx.request_outcome is RequestOutcome.UNAUTHENTICATED and ctx.problems:
        why = f" ({ctx.problems[0]})"  # a refused credential says why; the reason never quotes it
    if mock.settings.access_log and log.isEnabledFor(logging.INFO):
        access_line(req.remote_addr, req.method, target or redacted_target(req), response.status_code, started, why)
    if ctx is not None and ctx.replayable():
        outcome = ctx.response_outcome or ResponseOutcome.VALID
        req.environ[REPLAY_FACTS] = ReplayFacts(target or redacted_target(req), ctx.org, ctx.scenario,
                                                str(ctx.request_outcome), str(outcome),
                                                tuple(_redacted_problems(ctx, req)), why)
    return response



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
        token = credential_of(req.headers.get("Authorization"))
        problems = [mask_credentials(problem, token) for problem in problems]
    return problems


def _journal(mock: MockState, ctx: Context, req: Request, response: Response, target: str) -> None:
    elapsed = (time.perf_counter() - ctx.started) * 1000
    problems = _redacted_problems(ctx, req)
    outcome = ctx.response_outcome
    if outcome is None:  # the contract's own refusals (401, 404, 405, 422) are the reference's replies
        checked = ctx.mode is Mode.MOCK and ctx.request_outcome is not RequestOutcome.UNCHECKED
        outcome = ResponseOutcome.VALID if checked else ResponseOutcome.UNCHECKED
    mock.journal.record(Entry(
        time.time(), req.method, target, response.status_code, round(elapsed, 1), str(ctx.mode), worker_pid(),
        ctx.org, ctx.scenario, str(ctx.request_outcome), str(outcome), tuple(problems), ctx.fault))


def redacted_target(req: Request) -> str:
    """The request's path and query for logs and the journal, credentials masked."""
    target = req.full_path if req.query_string else req.path
    authorization = req.headers.get("Authorization")
    if "=" not in target and "csk_" not in target and "eyJ" not in target:
        token = bearer_token(authorization)
        if not token or token not in target:
            return target  # nothing that could be a credential: skip the regex
    return mask_credentials(target, credential_of(authorization))

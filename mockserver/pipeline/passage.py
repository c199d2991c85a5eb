"""What every request does on its way in and out, whichever stage replied (and for the control API):
the contract watcher's poll and CORS preflights on the way in; the delay, the fault header, the
journal row, CORS headers and the access line on the way out.

Contract requests call :func:`arrive` and :func:`depart` directly (:mod:`mockserver.app` serves
them without Flask's request context); the control API reaches them through Flask's hooks.
"""

from __future__ import annotations

import logging
import time
from typing import NamedTuple

from flask import Request, Response, g, request

from mockserver.context import POLLED, Context, Mode, RequestOutcome, ResponseOutcome
from mockserver.model import faults
from mockserver.model.auth import bearer_token, credential_of, mask_credentials
from mockserver.produce.dispatch import give_way
from mockserver.state import MockState, state
from mockserver.store.access_log import access_line, log, worker_pid
from mockserver.store.journal import Entry

REPLAY_FACTS = "crosmos.reply_facts"  # environ key: a replayable reply's facts, for mockserver.serving.replay


def on_the_way_in() -> Response | None:
    """Flask's ``before_request`` hook (the control API)."""
    g.started = time.perf_counter()
    return arrive(state(), current_request())


def on_the_way_out(response: Response) -> Response:
    """Flask's ``after_request`` hook (the control API)."""
    return depart(state(), current_request(), None, response, g.get("started", time.perf_counter()))


def arrive(mock: MockState, req: Request) -> Response | None:
    if mock.watcher is not None and POLLED not in req.environ:  # every request, once: health and the
        mock.watcher.poll()  # dashboard see an edit too
    if req.method == "OPTIONS":
        return mock.cors.preflight(req)
    return None


def depart(mock: MockState, req: Request, ctx: Context | None, response: Response, started: float) -> Response:
    """The reply as it leaves: ``ctx`` is None for the control API and for preflights."""
    if ctx is not None:
        _delay(ctx)
        if ctx.fault is not None:  # every fault reply says which fault it is
            response.headers[faults.FAULT_HEADER] = ctx.fault
    mock.cors.decorate(req, response)
    recorded = mock.journal.enabled or mock.settings.access_log
    if ctx is None:
        if recorded:
            record(mock, req.remote_addr, req.method, response.status_code, ReplyFacts(redacted_target(req)), None,
                   None, started, started)
        return response
    replayable = ctx.replayable()
    if recorded or replayable:
        facts = reply_facts(ctx, req)
        if recorded:
            record(mock, req.remote_addr, req.method, response.status_code, facts, str(ctx.mode), ctx.fault,
                   ctx.started, started)
        if replayable:
            req.environ[REPLAY_FACTS] = facts
    return response


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
            worker_pid(), facts.org, facts.scenario, facts.request, facts.response, facts.problems, fault))
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
        token = credential_of(req.headers.get("Authorization"))
        problems = [mask_credentials(problem, token) for problem in problems]
    return problems


def redacted_target(req: Request) -> str:
    """The request's path and query for logs and the journal, credentials masked."""
    target = req.full_path if req.query_string else req.path
    authorization = req.headers.get("Authorization")
    if "=" not in target and "csk_" not in target and "eyJ" not in target:
        token = bearer_token(authorization)
        if not token or token not in target:
            return target  # nothing that could be a credential: skip the regex
    return mask_credentials(target, credential_of(authorization))

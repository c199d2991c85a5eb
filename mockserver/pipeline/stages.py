"""The mock's request pipeline: a list of named stages, run in order until one replies.

Each stage is a small function of the request's :class:`~mockserver.context.Context` that
returns a reply (the request ends there) or None (on to the next). The list *is* the order:

    latency → route → validate_request → authenticate_request → choose_scenario → refuse_invalid →
    read_preferences → inject_faults → produce → check_output → conclude

and :mod:`mockserver.pipeline.passage` runs them, and runs after every reply (the delay, the journal, CORS, the access
log). Proxy mode runs the same list: the stages that refuse a request only record in proxy mode
(the upstream's answer to it is what is judged), ``produce`` forwards instead of generating, and
``check_output`` judges the upstream's reply with the same judge the mock applies to its own.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response

from crosmos_contract import rules
from mockserver.context import Context, Mode, RequestOutcome, ResponseOutcome
from mockserver.contract import replies
from mockserver.model import faults
from mockserver.model.auth import AuthOutcome, authenticate
from mockserver.model.scenarios import rate_limit_rpm
from mockserver.pipeline.check import check_output
from mockserver.produce import prefer
from mockserver.produce.dispatch import produce
from mockserver.produce.negotiation import inverted_window_refusal, preference_problem, requested_error, servable_errors
from mockserver.produce.prefer import PreferenceError
from mockserver.settings import CONTROL_PREFIX
from mockserver.store.journal import summarize_errors

Stage = Callable[[Context], Response | None]


def latency(ctx: Context) -> Response | None:
    """The latency fault slows every reply, refusals included; ``Prefer: delay`` may override it."""
    settings = ctx.moment.faults
    if settings is not None:
        ctx.faults = settings
        ctx.delay = settings.latency
    return None


def route(ctx: Context) -> Response | None:
    """The operation the request names; a path or method outside the contract ends here (mock mode)."""
    match = ctx.moment.runtime.index.match(ctx.request.method, ctx.request.path)
    ctx.operation, ctx.allowed = match.operation, tuple(sorted(match.allowed))
    ctx.usage = match.operation is not None and match.operation.is_usage
    if match.operation is not None:
        return None
    ctx.request_outcome = RequestOutcome.NOT_IN_CONTRACT
    if ctx.mode is Mode.PROXY:
        return None  # forwarded unchecked
    if ctx.request.path == "/" and not match.allowed and ctx.mock.settings.control:
        return replies.redirect(f"{CONTROL_PREFIX}/")  # the first URL people open: the dashboard
    return replies.method_not_allowed(match.allowed) if match.allowed else replies.not_found()


def validate_request(ctx: Context) -> Response | None:
    """openapi-core's verdict on the request (cached), phrased as the reference phrases its 422s."""
    if ctx.operation is None:
        return None
    ctx.verdict = ctx.moment.runtime.validator.check_request(ctx.request, ctx.operation)
    if ctx.verdict.errors:
        ctx.request_outcome, ctx.problems = RequestOutcome.INVALID, summarize_errors(ctx.verdict.errors)
    else:
        ctx.request_outcome = RequestOutcome.VALID
    return None


def authenticate_request(ctx: Context) -> Response | None:
    """401 for missing or refused credentials (the reason is journaled and logged, never the token)."""
    operation, verdict = ctx.operation, ctx.verdict
    if operation is None:
        return None
    if not (verdict.security_failed or operation.bearer_auth):
        if ctx.mode is Mode.MOCK:
            ctx.org = ctx.credential.org_key  # anonymous: one org for everything without security
        return None
    tokens = ctx.mock.settings.tokens if ctx.mode is Mode.MOCK else frozenset()
    credential = authenticate(ctx.request.environ.get("HTTP_AUTHORIZATION"), tokens)
    if ctx.mode is Mode.PROXY:
        ctx.org = credential.org_key or None  # whose request it was, whatever the upstream decides
    if not verdict.security_failed and credential.outcome is AuthOutcome.OK:
        ctx.credential, ctx.org = credential, credential.org_key
        return None
    ctx.request_outcome = RequestOutcome.UNAUTHENTICATED
    ctx.problems = [credential.reason or "credentials refused by the contract's security scheme"]
    if ctx.mode is Mode.PROXY:
        return None
    if credential.outcome is AuthOutcome.INVALID_TOKEN:
        return replies.invalid_credentials()
    return replies.not_authenticated()


def choose_scenario(ctx: Context) -> Response | None:
    """The token's scenario, else the server's (a request's own ``Prefer`` overrides it later);
    known before any refusal, so the journal says which state a refused request met."""
    if ctx.mode is Mode.PROXY or ctx.operation is None:
        return None
    moment = ctx.moment
    token_scenarios = moment.snapshot.token_scenarios
    if token_scenarios and ctx.org is not None and ctx.org in token_scenarios:
        ctx.scenario = token_scenarios[ctx.org]
    else:
        ctx.scenario = moment.scenario
    return None


def refuse_invalid(ctx: Context) -> Response | None:
    """The one place a 422 is decided: parameters the contract refuses, or a usage window that ends
    before it starts once its defaults apply. Contract errors come before any preference or fault."""
    if ctx.mode is Mode.PROXY or ctx.operation is None:
        return None
    verdict = ctx.verdict
    if verdict.errors:
        return replies.validation_error(verdict.errors)
    if ctx.usage:
        values = verdict.values
        window = rules.effective_window(ctx.moment.today, values.get("start_date"), values.get("end_date"))
        if window is None:
            return inverted_window_refusal(ctx)
        ctx.window = window  # the producer serves this window: read once per request
    return None


def read_preferences(ctx: Context) -> Response | None:
    """``Prefer`` (and ``__`` query) choices: the request's scenario and delay over the others."""
    if ctx.mode is Mode.PROXY:
        return None
    try:
        preferences = prefer.read(ctx.request.environ, lambda: ctx.request.args)
    except PreferenceError as exc:
        return preference_problem(ctx, exc)
    ctx.preferences = preferences
    if preferences is not None and preferences.delay is not None:
        ctx.delay = preferences.delay
    if preferences is not None and preferences.scenario is not None:
        ctx.scenario = preferences.scenario
    return None


def inject_faults(ctx: Context) -> Response | None:
    """Production's errors on request (``Prefer: code=401|403|429|500|503``), the org's own rate
    limit, and errors by chance; in proxy mode only the error rate (the mock's own, not the upstream's)."""
    operation, preferences = ctx.operation, ctx.preferences
    if operation is not None and preferences is not None and preferences.code in servable_errors(operation) \
            and not operation.documents(preferences.code):
        return requested_error(ctx, preferences.code)
    settings = ctx.faults
    if settings is None:
        return None
    if settings.rate_limit and ctx.mode is Mode.MOCK and ctx.scenario is not None and ctx.org is not None:
        rpm = rate_limit_rpm(ctx.scenario, ctx.mock.ledger, ctx.org)
        wait = ctx.mock.limiter.admit(ctx.org, rpm)
        if wait is not None:
            ctx.fault, ctx.response_outcome = "rate-limit", ResponseOutcome.FAULT
            return faults.rate_limited(rpm, wait)
    if faults.roll_error(settings.error_rate):
        ctx.fault, ctx.response_outcome = "error-rate", ResponseOutcome.FAULT
        return faults.error_response(settings.error_status)
    return None


def conclude(ctx: Context) -> Response:
    """What a served reply says of the request's preferences, and the call live usage counts."""
    reply, preferences = ctx.reply, ctx.preferences
    assert reply is not None
    if ctx.mock.live is not None and 200 <= reply.status_code < 300 and ctx.org is not None:
        ctx.mock.live.count_call(ctx.org, ctx.moment.today)
    if preferences is not None:
        canned = reply.status_code != 200 or preferences.example is not None  # a documented reply as written
        if not ctx.usage:
            ignored = frozenset({"scenario"})  # scenarios shape usage bodies only
        elif canned:
            ignored = frozenset({"scenario", "dynamic"})
        else:
            ignored = frozenset()
        reply.headers["Preference-Applied"] = preferences.applied(ignored)
    return reply


STAGES: tuple[Stage, ...] = (latency, route, validate_request, authenticate_request, choose_scenario, refuse_invalid,
                             read_preferences, inject_faults, produce, check_output, conclude)
"""The whole pipeline, in both modes."""


def run(ctx: Context) -> Response:
    """Run :data:`STAGES` in order; the first reply ends the request (``conclude`` always replies)."""
    for stage in STAGES:
        reply = stage(ctx)
        if reply is not None:
            return reply
    raise RuntimeError("the pipeline ended without a reply")  # conclude always replies

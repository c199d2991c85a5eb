"""The mock's Flask app factory and its request pipeline.

route → validate request (openapi-core) → authenticate → choose scenario and preferences →
faults (only when asked for) → generate → self-check → reply. Every operation of the document is
served; ``GET /api/v1/usage`` goes through a scenario over the semantic ledger, the rest through
documented examples or schema-generated data. With an upstream, generation is replaced by
forwarding and the self-check by judging the upstream's reply (:mod:`mockserver.proxy`).

A request that names no preference, on a server without faults or live usage, pays for the
frontend features only a few dict lookups: a generation counter read for the control settings,
three header/query checks for preferences, and a journal row written after the reply is built.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, g, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from crosmos_contract import LoadedContract, load_contract, rules
from mockserver import examples, faults, generator, prefer, replies
from mockserver.auth import AuthOutcome, Credential, authenticate, bearer_token, redact
from mockserver.cors import CorsPolicy
from mockserver.faults import FaultSettings, RateLimiter
from mockserver.journal import Entry, Journal, summarize_errors
from mockserver.ledger import UsageLedger
from mockserver.liveusage import LiveUsage
from mockserver.operations import Operation, OperationIndex
from mockserver.prefer import PreferenceError, Preferences
from mockserver.proxy import VIOLATIONS_HEADER, Proxy, UpstreamError, judge, violation_reply
from mockserver.reload import ContractWatcher
from mockserver.scenarios import DEFAULT, SCENARIOS
from mockserver.server import GIVE_WAY
from mockserver.shared import ControlSnapshot, SharedStore
from mockserver.validation import LRU, ContractValidator, RequestVerdict

log = logging.getLogger("mockserver.access")
EXTENSION = "crosmos_mock"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
CONTROL_PREFIX = "/__mock"
SCENARIO_RESPONSE_HEADER = "X-Mock-Scenario"
_ANONYMOUS = Credential(AuthOutcome.OK, "anonymous")
_PID = os.getpid


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass
class MockSettings:
    spec: Path | None = None  # None: the embedded contract
    seed: int = 0
    clock: Callable[[], date] = utc_today  # "today" for default periods
    access_log: bool = True
    scenario: str = DEFAULT  # server-wide scenario until the control API changes it
    faults: FaultSettings = field(default_factory=FaultSettings)
    live_usage: tuple[str, int] | None = None  # (metric, amount per call); None: off
    cors_origins: tuple[str, ...] = ("*",)
    upstream: str | None = None  # proxy mode
    strict: bool = False  # proxy mode: 502 instead of a reply that breaks the contract
    reload: bool = True
    reload_interval: float = 0.5
    journal_size: int = 200
    control: bool = True  # serve the control API and dashboard under /__mock/
    tokens: frozenset[str] = frozenset()  # when set, only these credentials are valid (as on a real server)
    state_dir: Path | None = None  # shared state; None: a private temporary directory


@dataclass
class ContractRuntime:
    """One loaded contract and everything derived from it; swapped whole on reload."""

    contract: LoadedContract
    index: OperationIndex
    validator: ContractValidator
    broken_examples: dict[examples.ExampleKey, str] = field(default_factory=dict)
    responses: LRU[tuple[Any, ...], tuple[int, bytes, str]] = field(default_factory=lambda: LRU(8192))
    static_bodies: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)

    @classmethod
    def build(cls, contract: LoadedContract) -> ContractRuntime:
        index, validator = OperationIndex(contract.resolved), ContractValidator(contract.resolved)
        return cls(contract, index, validator, examples.find_broken(index, validator))

    def report_broken_examples(self) -> None:
        examples.report(self.broken_examples)


@dataclass
class MockState:
    """Everything the pipeline needs, built once per app (``app.extensions["crosmos_mock"]``)."""

    settings: MockSettings
    runtime: ContractRuntime
    ledger: UsageLedger
    store: SharedStore
    journal: Journal
    cors: CorsPolicy
    limiter: RateLimiter
    live: LiveUsage | None = None
    proxy: Proxy | None = None
    watcher: ContractWatcher | None = None

    @classmethod
    def build(cls, settings: MockSettings) -> MockState:
        if settings.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {settings.scenario!r}")
        contract = load_contract(settings.spec)
        store = SharedStore(settings.state_dir)
        mock = cls(settings, ContractRuntime.build(contract), UsageLedger(settings.seed), store,
                   Journal(store.directory, settings.journal_size, lambda: store.snapshot().journal_cleared_at),
                   CorsPolicy.from_options(settings.cors_origins),
                   RateLimiter(store))
        if settings.live_usage is not None:
            mock.live = LiveUsage(store, *settings.live_usage)
        if settings.upstream is not None:
            mock.proxy = Proxy(settings.upstream, strict=settings.strict)
        if settings.reload:
            mock.watcher = ContractWatcher(contract, mock.swap_contract, settings.reload_interval,
                                           store.claim_contract_event, store.contract_reloads)
        mock.runtime.report_broken_examples()  # once, before the workers are forked
        return mock

    def swap_contract(self, contract: LoadedContract, report: bool) -> None:
        """Serve ``contract`` from now on; ``report``: this worker is the one to log its problems."""
        self.runtime = ContractRuntime.build(contract)
        if report:
            self.runtime.report_broken_examples()

    # The contract as served now (the names the pipeline had before reload existed).
    @property
    def contract(self) -> LoadedContract:
        return self.runtime.contract

    @property
    def index(self) -> OperationIndex:
        return self.runtime.index

    @property
    def validator(self) -> ContractValidator:
        return self.runtime.validator

    def fault_settings(self, snapshot: ControlSnapshot) -> FaultSettings:
        if snapshot.faults is None:
            return self.settings.faults
        return _faults_from_json(snapshot.faults)

    def server_scenario(self, snapshot: ControlSnapshot) -> str:
        return snapshot.scenario or self.settings.scenario


@functools.lru_cache(maxsize=64)
def _faults_cached(items: tuple[tuple[str, Any], ...]) -> FaultSettings:
    return FaultSettings().updated(dict(items))


def _faults_from_json(data: Mapping[str, Any]) -> FaultSettings:
    return _faults_cached(tuple(sorted(data.items())))


class MockFlask(Flask):
    """Flask whose contract requests skip werkzeug's URL map and go straight to :func:`dispatch`.

    Every path outside the control API ends at the catch-all rule anyway, and the operation
    index matches it against the contract right after: matching it first in Flask's map too
    (adapter, host check, state machine) cost about 25 of 135 CPU µs per request
    (``python -m bench.profile``). Control API paths keep Flask's routing.
    """

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is not None and not request.path.startswith(CONTROL_PREFIX):
            return None  # no rule matched: dispatch_request below hands the request to dispatch()
        return super().create_url_adapter(request)

    def dispatch_request(self) -> ResponseReturnValue:
        if request.url_rule is None and request.routing_exception is None:
            return dispatch(request.path)
        return super().dispatch_request()


def create_app(settings: MockSettings | None = None, **overrides: Any) -> Flask:
    """Build a mock for ``settings`` (fields may also be passed as keyword overrides).

    Raises contract.ContractError (one readable line) when the document cannot be used.
    """
    settings = settings or MockSettings()
    for name, value in overrides.items():
        setattr(settings, name, value)
    app = MockFlask(__name__, static_folder=None)  # the dashboard's assets are the control blueprint's
    app.extensions[EXTENSION] = MockState.build(settings)
    if settings.control:
        from mockserver.control import blueprint

        app.register_blueprint(blueprint, url_prefix=CONTROL_PREFIX)
    app.add_url_rule("/", "dispatch", dispatch, defaults={"path": ""}, methods=ALL_METHODS,
                     provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "dispatch", dispatch, methods=ALL_METHODS, provide_automatic_options=False)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.before_request(_start)
    app.after_request(_finish)
    return app


class Trace:
    """What one API request went through, for latency and the journal.

    A plain object stored once in ``g``: every ``g.name`` costs a context-local lookup, and the
    pipeline records a dozen facts per request.
    """

    __slots__ = ("fault", "faults", "mode", "org", "preferences", "problems", "request_outcome", "response_outcome",
                 "scenario", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.mode = "mock"
        self.org: str | None = None
        self.scenario: str | None = None
        self.preferences: Preferences | None = None
        self.faults: FaultSettings | None = None
        self.request_outcome = "unchecked"  # valid | invalid | unauthenticated | not-in-contract | unchecked
        self.response_outcome: str | None = None  # valid | violations | fault | mock-error
        self.problems: list[str] = []
        self.fault: str | None = None


_NO_TRACE = Trace()  # written to, never read: for pipeline functions called outside dispatch


def current_trace() -> Trace:
    trace: Trace = g.get("trace", _NO_TRACE)
    return trace


def state() -> MockState:
    from flask import current_app

    mock_state: MockState = current_app.extensions[EXTENSION]
    return mock_state


def dispatch(path: str) -> Response:
    mock = state()
    req = _current_request()
    trace = g.trace = Trace()
    snapshot = mock.store.snapshot()
    fault_settings = mock.fault_settings(snapshot)
    if fault_settings.active:
        trace.faults = fault_settings
    runtime = mock.runtime
    match = runtime.index.match(req.method, req.path)
    if mock.proxy is not None:
        return serve_proxy(mock, runtime, match.operation, fault_settings)
    if match.operation is None:
        trace.request_outcome = "not-in-contract"
        if req.path == "/" and not match.allowed and mock.settings.control:
            return replies.redirect(f"{CONTROL_PREFIX}/")  # the first URL people open: the dashboard
        return replies.method_not_allowed(match.allowed) if match.allowed else replies.not_found()
    operation = match.operation
    verdict = runtime.validator.check_request(req, operation)
    credential = _ANONYMOUS
    if verdict.security_failed or operation.bearer_auth:
        credential = authenticate(req.environ.get("HTTP_AUTHORIZATION"), mock.settings.tokens)
        if verdict.security_failed or credential.outcome is not AuthOutcome.OK:
            trace.request_outcome = "unauthenticated"
            trace.problems = [credential.reason or "credentials refused by the contract's security scheme"]
            if credential.outcome is AuthOutcome.INVALID_TOKEN:
                return replies.invalid_credentials()
            return replies.not_authenticated()
    org = trace.org = credential.org_key
    if verdict.errors:
        trace.request_outcome = "invalid"
        trace.problems = summarize_errors(verdict.errors)
    else:
        trace.request_outcome = "valid"
    try:
        preferences = prefer.read(req.environ, lambda: req.args)
    except PreferenceError as exc:  # contract errors come first, whatever the request prefers
        if verdict.errors:
            return replies.validation_error(verdict.errors)
        inverted = _inverted_usage_window(verdict, *_usage_period(mock.settings.clock(), verdict)) \
            if operation.is_usage else None
        return inverted if inverted is not None else _preference_problem(exc)
    trace.preferences = preferences
    if preferences is not None and preferences.scenario is not None:
        scenario = preferences.scenario
    elif snapshot.token_scenarios and org in snapshot.token_scenarios:
        scenario = snapshot.token_scenarios[org]
    else:
        scenario = snapshot.scenario or mock.settings.scenario
    trace.scenario = scenario
    if preferences is not None and preferences.code in _servable_errors(operation) \
            and not operation.documents(preferences.code):
        return _requested_error(mock, operation, preferences.code, scenario, org)
    if fault_settings.active:
        refusal = _inject_faults(mock, fault_settings, scenario, org)
        if refusal is not None:
            return refusal
    if verdict.errors:
        return replies.validation_error(verdict.errors)
    try:
        if operation.is_usage:
            response = serve_usage(mock, operation, verdict, credential, scenario, preferences)
        else:
            response = serve_documented(mock, operation, preferences)
    except PreferenceError as exc:
        return _preference_problem(exc)
    if trace.response_outcome is None:
        trace.response_outcome = "valid"  # generated and self-checked (or the reference's own 422)
    if mock.live is not None and 200 <= response.status_code < 300:
        mock.live.count_call(org, mock.settings.clock())
    if preferences is not None:
        canned = response.status_code != 200 or preferences.example is not None  # a documented reply as written
        if not operation.is_usage:
            ignored = frozenset({"scenario"})  # scenarios shape usage bodies only
        elif canned:
            ignored = frozenset({"scenario", "dynamic"})
        else:
            ignored = frozenset()
        response.headers["Preference-Applied"] = preferences.applied(ignored)
    return response


REQUESTED_ERRORS = ("401", "403", "429", "500", "503")
"""Statuses production sends that the contract does not document, servable with ``Prefer: code=``."""


def _servable_errors(operation: Operation) -> tuple[str, ...]:
    """The production errors ``operation`` may be asked for: no 401/403 where there is no security."""
    return tuple(c for c in REQUESTED_ERRORS if c not in ("401", "403") or operation.requires_auth)


def _requested_error(mock: MockState, operation: Operation, code: str, scenario: str, org: str) -> Response:
    """What production answers for ``code``, marked as asked for: a UI's error states on demand.

    Not a contract break (the journal says ``fault``, as for the fault settings).
    """
    trace = current_trace()
    if code in ("401", "403"):
        response = replies.not_authenticated() if code == "401" else replies.forbidden()
    elif code == "429":
        rpm = SCENARIOS[scenario].plan_for(mock.ledger, org).rate_limit_rpm if operation.is_usage else -1
        response = faults.rate_limited(rpm if rpm > 0 else 60, faults.REQUESTED_RETRY_AFTER_S)
    else:
        response = faults.error_response(int(code))
    trace.fault, trace.response_outcome = faults.REQUESTED, "fault"
    response.headers["Preference-Applied"] = f"code={code}"
    return response


def _preference_problem(exc: PreferenceError) -> Response:
    trace = current_trace()
    trace.response_outcome = "mock-error"
    trace.problems = [*trace.problems, exc.detail]
    return replies.problem(exc.kind, exc.title, 400, exc.detail, valid=exc.valid)


def _inject_faults(mock: MockState, settings: FaultSettings, scenario: str, org: str) -> Response | None:
    """A 429 when the org is over its own rate limit, or an error by chance; None to carry on."""
    trace = current_trace()
    if settings.rate_limit:
        rpm = SCENARIOS[scenario].plan_for(mock.ledger, org).rate_limit_rpm
        wait = mock.limiter.admit(org, rpm)
        if wait is not None:
            trace.fault, trace.response_outcome = "rate-limit", "fault"
            return faults.rate_limited(rpm, wait)
    if faults.roll_error(settings.error_rate):
        trace.fault, trace.response_outcome = "error-rate", "fault"
        return faults.error_response(settings.error_status)
    return None


# --- the usage operation -----------------------------------------------------------------------

def serve_usage(mock: MockState, operation: Operation, verdict: RequestVerdict, credential: Credential,
                scenario: str = DEFAULT, preferences: Preferences | None = None) -> Response:
    today = mock.settings.clock()
    given_start, given_end = verdict.values.get("start_date"), verdict.values.get("end_date")
    start, end = _usage_period(today, verdict)
    inverted = _inverted_usage_window(verdict, start, end)
    if inverted is not None:
        return inverted
    org = credential.org_key
    if preferences is not None:
        chosen = _chosen_status(operation, preferences)
        if chosen != "200" or preferences.example is not None:
            return _serve_usage_status(mock, operation, chosen, preferences, today)
        if preferences.dynamic:
            org = f"dynamic:{random.getrandbits(48):012x}"
    extra = mock.live.extra(org, start, end) if mock.live is not None else None
    key = (scenario, org, start, end, today, tuple(sorted(extra.items())) if extra else None)
    runtime = mock.runtime
    cached = runtime.responses.get(key)
    if cached is None:
        body = SCENARIOS[scenario].report(mock.ledger, org, start, end, today, extra).as_body()
        response = replies.json_reply(body)
        _self_check(runtime, operation, response, body, today, given_start, given_end)
        cached = (response.status_code, response.get_data(), response.mimetype or "application/json")
        if not org.startswith("dynamic:"):
            runtime.responses.put(key, cached)
    reply = Response(cached[1], status=cached[0], mimetype=cached[2])
    if scenario != DEFAULT:
        reply.headers[SCENARIO_RESPONSE_HEADER] = scenario
    return reply


def _usage_period(today: date, verdict: RequestVerdict) -> tuple[date, date]:
    """The window a usage request asks for, its missing ends defaulted (PERIOD-001/002)."""
    return rules.default_period(today, verdict.values.get("start_date"), verdict.values.get("end_date"))


def _inverted_usage_window(verdict: RequestVerdict, start: date, end: date) -> Response | None:
    """The reference's 422 when the window, given or defaulted, ends before it starts; None when it does not."""
    if rules.window_is_valid(start, end):
        return None
    name = "start_date" if verdict.values.get("start_date") is not None else "end_date"
    raw = request.args.getlist(name)[-1]
    trace = current_trace()
    trace.request_outcome = "invalid"
    trace.problems = [f"query.{name}: start_date must be on or before end_date"]
    return replies.validation_error([_inverted_window(name, raw)])


def _serve_usage_status(mock: MockState, operation: Operation, status: str, preferences: Preferences,
                        today: date) -> Response:
    """``Prefer: code=…`` or ``example=…`` on the usage operation: a documented reply, self-checked."""
    trace = current_trace()
    if preferences.example is None and status == "422":
        body: Any = {"detail": _canonical_validation_error()}
        response = replies.json_reply(body, 422)
        _self_check(mock.runtime, operation, response, None, today, None, None)
        trace.response_outcome = "valid"
        return response
    if preferences.example is not None and status.startswith("2"):
        response_spec = operation.response(status)
        media = generator.media_type(response_spec) or "application/json"
        documented = generator.documented_examples(response_spec, media)
        if preferences.example not in documented:
            raise _unknown_example(operation, status, documented, hint=True)
        _refuse_broken_example(mock.runtime, operation, status, preferences.example, documented)
        body = documented[preferences.example]
        response = _render(body, int(status), media)
        period = (rules.parse_iso_date(body.get("period_start")), rules.parse_iso_date(body.get("period_end"))) \
            if isinstance(body, dict) else (None, None)
        _self_check(mock.runtime, operation, response, body if isinstance(body, dict) else None,
                    period[1] or today, period[0], period[1])
        trace.response_outcome = "valid"
        return response
    return serve_documented(mock, operation, preferences)


@functools.cache
def _canonical_validation_error() -> list[dict[str, Any]]:
    """What FastAPI answers for ``start_date=not-a-date``: the 422 a frontend most often meets."""
    from mockserver.params import parse_value

    return parse_value("date", "not-a-date", ("query", "start_date"))[1]


def _inverted_window(name: str, raw: str) -> dict[str, Any]:
    from mockserver.params import value_error

    return value_error(("query", name), raw, "start_date must be on or before end_date")


def _self_check(runtime: ContractRuntime, operation: Operation, response: Response, body: Mapping[str, Any] | None,
                today: date, start: date | None, end: date | None) -> None:
    """The mock never serves what breaks the contract: a failure here is a bug in the mock."""
    problems = list(runtime.validator.check_response(request, response, operation))
    if body is not None:
        problems += [str(v) for v in rules.check_usage_body(body, today_candidates=[today], start_param=start,
                                                            end_param=end)]
    if problems:
        raise SelfCheckError("; ".join(problems))


class SelfCheckError(RuntimeError):
    """A generated response broke the contract or a rule (a defect in the mock, never served)."""


# --- every other operation ---------------------------------------------------------------------

def serve_documented(mock: MockState, operation: Operation, preferences: Preferences | None = None) -> Response:
    runtime = mock.runtime
    trace = current_trace()
    status = _chosen_status(operation, preferences) if preferences is not None else operation.success_status()
    response_spec = operation.response(status)
    media = generator.media_type(response_spec)
    code = int(status) if status.isdigit() else 200
    trace.response_outcome = "valid"
    if media is None:
        return Response(status=code)
    if preferences is not None and preferences.example is not None:
        documented = generator.documented_examples(response_spec, media)
        if preferences.example not in documented:
            raise _unknown_example(operation, status, documented, hint=operation.is_usage)
        _refuse_broken_example(runtime, operation, status, preferences.example, documented)
        response = _render(documented[preferences.example], code, media)
        _self_check(runtime, operation, response, None, mock.settings.clock(), None, None)
        return response
    if preferences is not None and preferences.dynamic:
        dynamic = _dynamic_body(runtime, operation, response_spec, media, code)
        if dynamic is not None:
            return dynamic
    key = (operation.method, operation.path, status, media)
    if key not in runtime.static_bodies:
        runtime.static_bodies[key] = _first_valid_body(mock, operation, status, response_spec, media, code)
    return _render(runtime.static_bodies[key], code, media)


def _chosen_status(operation: Operation, preferences: Preferences) -> str:
    """The documented status ``Prefer: code=`` names (exactly, as ``4XX``, or via ``default``)."""
    documented = [str(s) for s in operation.spec.get("responses", {})]
    if preferences.code is None:
        return operation.success_status()
    code = preferences.code
    if operation.documents(code):
        return code
    servable = _servable_errors(operation)
    raise PreferenceError("undocumented-status", "Status not documented",
                          f"{operation.method} {operation.path} documents {', '.join(sorted(documented))}; "
                          f"not {code} (production's own errors can be asked for too: "
                          f"{', '.join(servable)})", sorted({*documented, *servable}))


def _refuse_broken_example(runtime: ContractRuntime, operation: Operation, status: str, name: str,
                           documented: Mapping[str, Any]) -> None:
    """A 400 naming why, for an example found broken when the contract loaded; the valid list
    holds the operation's other, servable examples."""
    reason = runtime.broken_examples.get((operation.method, operation.path, status, name))
    if reason is not None:
        raise PreferenceError("broken-example", "The example breaks the contract",
                              examples.describe((operation.method, operation.path, status, name), reason),
                              sorted(n for n in documented
                                     if (operation.method, operation.path, status, n) not in runtime.broken_examples))


def _unknown_example(operation: Operation, status: str, examples: Mapping[str, Any], hint: bool) -> PreferenceError:
    names = sorted(examples)
    where = f"{operation.method} {operation.path} ({status})"
    text = f"{where} documents the examples {', '.join(names)}" if names else f"{where} documents no examples"
    if hint:
        text += f"; for usage states use Prefer: scenario=… ({', '.join(SCENARIOS)})"
    return PreferenceError("unknown-example", "Unknown example", text, names)


def _dynamic_body(runtime: ContractRuntime, operation: Operation, response_spec: Mapping[str, Any], media: str,
                  code: int) -> Response | None:
    """A freshly generated body (Prism's ``dynamic=true``), or None when none validates."""
    schema = generator.schema_of(response_spec, media)
    if schema is None:
        return None
    for _ in range(5):
        body = generator.generate(schema, dynamic=True, seed=random.getrandbits(32))
        response = _render(body, code, media)
        if not runtime.validator.check_response(request, response, operation):
            return response
    return None


def _render(body: Any, code: int, media: str) -> Response:
    if "json" in media:
        response = replies.json_reply(body, code)
        response.mimetype = media
        return response
    return Response(str(body), code, mimetype=media)


def _first_valid_body(mock: MockState, operation: Operation, status: str, response_spec: Mapping[str, Any],
                      media: str, code: int) -> Any:
    """The first documented example that validates, else a body generated from the schema."""
    validator = mock.runtime.validator
    for name, example in generator.documented_examples(response_spec, media).items():
        if (operation.method, operation.path, status, name) in mock.runtime.broken_examples:
            continue  # reported once when the contract loaded (mockserver.examples)
        problems = validator.check_response(request, _render(example, code, media), operation)
        if not problems:
            return example
    schema = generator.schema_of(response_spec, media)
    body = generator.generate(schema, seed=mock.settings.seed) if schema is not None else {}
    problems = validator.check_response(request, _render(body, code, media), operation)
    if problems:
        raise SelfCheckError("; ".join(problems))
    return body


# --- proxy mode --------------------------------------------------------------------------------

def serve_proxy(mock: MockState, runtime: ContractRuntime, operation: Operation | None,
                fault_settings: FaultSettings) -> Response:
    """Forward to the upstream, judge its reply, and pass it on (or refuse it with ``--strict``)."""
    assert mock.proxy is not None
    trace = current_trace()
    trace.mode = "proxy"
    if faults.roll_error(fault_settings.error_rate):
        trace.fault, trace.response_outcome = "error-rate", "fault"
        return faults.error_response(fault_settings.error_status)
    verdict: RequestVerdict | None = None
    credential: Credential | None = None
    if operation is None:
        trace.request_outcome = "not-in-contract"
    else:
        verdict = runtime.validator.check_request(request, operation)
        if operation.bearer_auth:
            credential = authenticate(request.headers.get("Authorization"))
            trace.org = credential.org_key or None
        trace.request_outcome = ("unauthenticated" if verdict.security_failed or (credential and not credential.ok)
                             else "invalid" if verdict.errors else "valid")
        trace.problems = summarize_errors(verdict.errors)
    _give_way()
    try:
        reply = mock.proxy.forward(request)
    except UpstreamError as exc:
        trace.response_outcome = "violations"
        trace.problems = [*trace.problems, exc.detail]
        return exc.to_response()
    if operation is None or verdict is None:
        return reply.to_response()
    violations = judge(runtime.validator, request, operation, verdict, credential, reply, mock.settings.clock())
    trace.response_outcome = "violations" if violations else "valid"
    if not violations:
        return reply.to_response()
    trace.problems = [*trace.problems, *violations]
    token = (request.headers.get("Authorization") or "").partition(" ")[2].strip()
    log.warning("contract violation by the upstream on %s %s (%d): %s", request.method,
                redact(request.full_path if request.query_string else request.path, token), reply.status,
                redact(" | ".join(violations), token))
    if mock.proxy.strict:
        return violation_reply(violations, reply.status)
    response = reply.to_response()
    response.headers[VIOLATIONS_HEADER] = str(len(violations))
    return response


# --- errors, and what every request does on its way in and out ---------------------------------

def _http_error(error: HTTPException) -> Response:
    """Errors werkzeug raises before dispatch (an unknown method, a body it cannot read): JSON too."""
    if error.code == 405:
        return replies.method_not_allowed(state().index.match(request.method, request.path).allowed)
    return replies.json_reply({"detail": error.name}, error.code or 400)


def _internal_error(error: Exception) -> Response:
    """Never a traceback on the wire: a defect in the mock is logged and named as the mock's own."""
    logging.getLogger(__name__).exception("mock failure on %s %s", request.method, request.path)
    kind = "self-check-failed" if isinstance(error, SelfCheckError) else "mock-failure"
    current_trace().response_outcome = "mock-error"
    return replies.problem(kind, "The mock could not build a valid response", 500,
                           f"{type(error).__name__}: {error}"[:500])


def _start() -> Response | None:
    g.started = time.perf_counter()
    mock = state()
    if mock.watcher is not None:  # every request, so health and the dashboard see an edit too
        mock.watcher.poll()
    if request.method == "OPTIONS":
        return mock.cors.preflight(request)
    return None


def _finish(response: Response) -> Response:
    mock = state()
    req = _current_request()
    trace: Trace | None = g.get("trace")
    target = None
    if trace is not None:
        _delay(trace)
        if trace.fault is not None:  # every fault reply says which fault it is
            response.headers[faults.FAULT_HEADER] = trace.fault
        if mock.journal.enabled:
            target = _redacted_target(req)
            _journal(mock, trace, req, response, target)
    mock.cors.decorate(req, response)
    if mock.settings.access_log and log.isEnabledFor(logging.INFO):
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        why = ""
        if trace is not None and trace.request_outcome == "unauthenticated" and trace.problems:
            why = f" ({trace.problems[0]})"  # a refused credential says why; the reason never quotes it
        log.info("%s %s %s %d %.1fms%s", req.remote_addr, req.method, target or _redacted_target(req),
                 response.status_code, elapsed, why)
    return response


def _current_request() -> Request:
    """The request itself: each ``request.x`` through Flask's proxy is a context lookup of its own."""
    real: Request = request._get_current_object()  # type: ignore[attr-defined]
    return real


def _delay(trace: Trace) -> None:
    """Latency: ``Prefer: delay=`` on this request, else the server's latency fault."""
    delay = trace.preferences.delay if trace.preferences is not None else None
    if delay is None and trace.faults is not None and trace.faults.latency is not None:
        delay = trace.faults.latency
        trace.fault = trace.fault or "latency"
    if delay is not None:
        _give_way()
        time.sleep(faults.pick_delay(delay))


def _give_way() -> None:
    """Let the worker's other requests run while this one waits (``mockserver.server.in_turn``)."""
    give_way = request.environ.get(GIVE_WAY)
    if give_way is not None:
        give_way()


def _journal(mock: MockState, trace: Trace, req: Request, response: Response, target: str) -> None:
    elapsed = (time.perf_counter() - trace.started) * 1000
    problems = trace.problems
    if problems:
        token = (req.headers.get("Authorization") or "").partition(" ")[2].strip()
        problems = [redact(problem, token) for problem in problems]
    outcome = trace.response_outcome
    if outcome is None:  # the contract's own refusals (401, 404, 405, 422) are the reference's replies
        outcome = "valid" if trace.mode == "mock" and trace.request_outcome != "unchecked" else "unchecked"
    mock.journal.record(Entry(
        time.time(), req.method, target, response.status_code, round(elapsed, 1), trace.mode, _PID(),
        trace.org, trace.scenario, trace.request_outcome, outcome, tuple(problems), trace.fault))


def _redacted_target(req: Request) -> str:
    """The request's path and query for logs and the journal, credentials masked."""
    target = req.full_path if req.query_string else req.path
    authorization = req.headers.get("Authorization")
    if "=" not in target and "csk_" not in target and "eyJ" not in target:
        token = bearer_token(authorization)
        if not token or token not in target:
            return target  # nothing that could be a credential: skip the regex
    return redact(target, (authorization or "").partition(" ")[2].strip())

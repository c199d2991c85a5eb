"""Run the suite against one server: probes, then schemathesis-generated cases, into a SuiteResult.

Nothing here prints or exits. Progress goes to an optional callback; the caller (the CLI, the
pytest plugin, a test) decides what to show and which exit code a result means.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response
from schemathesis.engine import context as st_context
from schemathesis.engine import events, from_schema

from conformance.checks import (
    BUILTIN_CHECKS,
    OUR_CHECKS,
    ContractViolation,
    RunState,
    activated,
    all_checks,
    builtin_check_id,
    describe_builtin,
    state_for,
)
from conformance.client import (
    DEFAULT_MAX_BODY_BYTES,
    ConnectionProblem,
    HttpClient,
    TokenRejected,
    WrongTarget,
    cap_body_hook,
    check_base_url,
)
from conformance.probes import KEEP_TOKEN, PROBES, Params
from conformance.result import CertLevel, Finding, Note, ResultBuilder, SuiteResult
from crosmos_contract.catalogue import BY_ID
from crosmos_contract.clock import resolve_timezone, today_candidates
from crosmos_contract.exchange import (
    Exchange,
    ReceivedResponse,
    SentRequest,
    headers_from,
    printable,
    redact,
    utc_now,
)
from crosmos_contract.expectations import AuthReading, read_auth
from crosmos_contract.judge import USAGE_KEYS, JudgeSettings
from crosmos_contract.loader import LoadedContract, load_contract
from crosmos_contract.rules import Violation

log = logging.getLogger(__name__)
USAGE_PATH = "/api/v1/usage"


@dataclass(frozen=True)
class Profile:
    """How much generated data to send: a count, so that a seed fixes the run on any machine.

    Probes always run in full; generation is one schemathesis batch of ``max_examples`` (plus its
    coverage phase). ``budget`` is only a cap: a run that hits it stops early and says so
    (``stop_reason``), instead of a slower machine silently sending fewer cases.
    """

    name: str
    max_examples: int  # generated cases in the fuzzing batch
    max_time: int | None  # None: one batch (every profile; kept for callers that want a time-bound run)
    budget: float  # the cap, in seconds, on the whole run, probes included
    coverage: bool = True
    fuzzing: bool = True
    description: str = ""


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", max_examples=5, max_time=None, budget=30,
                     description="every probe, the coverage phase and a handful of fuzzed cases (tests)"),
    "quick": Profile("quick", max_examples=400, max_time=None, budget=30,
                     description="every probe, the coverage phase and 400 fuzzed cases (about 6 s locally)"),
    "standard": Profile("standard", max_examples=2500, max_time=None, budget=120,
                        description="every probe, the coverage phase and 2,500 fuzzed cases (about 30 s "
                                    "locally)"),
}


@dataclass(frozen=True)
class RunOptions:
    base_url: str
    token: str
    profile: str = "quick"
    level: CertLevel = CertLevel.CORE
    seed: int | None = None
    timezone: str | None = None
    timeout: float = 10.0  # per request
    max_response_time: float = 2.0  # STATUS-008
    budget: float | None = None  # overrides the profile's
    contract: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    target: str = "server"


@dataclass(frozen=True)
class Progress:
    stage: str  # "probes" or "generated"
    done: int
    total: int | None
    detail: str = ""


ProgressCallback = Callable[[Progress], None]


def kit_version() -> str:
    try:
        return version("crosmos-contract-kit")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def run_suite(options: RunOptions, progress: ProgressCallback | None = None) -> SuiteResult:
    """Certify the server at ``options.base_url``.

    Raises ContractError (bad contract), UnknownTimezone, KeyError (unknown profile) or
    ConnectionProblem (the server cannot be reached): usage errors, not findings.
    """
    profile = PROFILES[options.profile]
    try:
        check_base_url(options.base_url)
    except ValueError as exc:
        raise ConnectionProblem(str(exc)) from None
    budget = options.budget if options.budget is not None else profile.budget
    contract = load_contract(options.contract)
    zone = resolve_timezone(options.timezone)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**31)
    notify = progress or (lambda _: None)
    settings = JudgeSettings(options.token, zone, options.max_response_time, options.timeout, server_errors=False)
    state = RunState(settings, max_body_bytes=options.max_body_bytes)
    builder = ResultBuilder()
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    schema = _schema(contract, options, seed)
    errors: list[str] = []
    generated = 0
    stop_reason = "completed"
    with activated(schema, state), _capped_capability_probes(options.max_body_bytes, options.timeout), \
            HttpClient(options.base_url, timeout=options.timeout, max_body_bytes=options.max_body_bytes) as client:
        session = _Session(client, schema, state, builder, options.token)
        session.preflight()
        deadline = clock + budget
        try:
            for index, probe in enumerate(PROBES):
                if time.monotonic() >= deadline:
                    stop_reason = "budget spent on probes"
                    errors.append(f"The {budget:g} s budget was spent after {index} of {len(PROBES)} probes")
                    break
                notify(Progress("probes", index, len(PROBES), probe.name))
                probe.run(session)
            notify(Progress("probes", len(PROBES), len(PROBES), "done"))
        except _ServerStoppedAnswering as exc:
            errors.append(str(exc))
            stop_reason = "server stopped answering"
        remaining = deadline - time.monotonic()
        if stop_reason == "completed" and (profile.coverage or profile.fuzzing):
            if remaining >= 1:
                max_time = None if profile.max_time is None else max(1, int(min(profile.max_time, remaining - 1)))
                generated, stop_reason = _generate(schema, profile, max_time, deadline, builder, options.token,
                                                   errors, notify)
            else:
                stop_reason = "budget spent on probes"
                errors.append(f"No generated cases: the {budget:g} s budget was spent on the probes")
    builder.exercised_counts(state.evaluated)
    for violation, exchange in state.notes:
        builder.add_note(Note(violation.rule_id, printable(redact(violation.message, options.token)),
                              printable(exchange.request.curl(options.token)), exchange.origin))
    return SuiteResult(
        base_url=options.base_url,
        profile=profile.name,
        level=options.level,
        seed=seed,
        timezone=options.timezone or "UTC",
        contract_sha256=contract.sha256,
        kit_version=kit_version(),
        schemathesis_version=schemathesis.__version__,
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - clock, 3),
        requests=session.sent + generated,
        checks=builder.checks(),
        errors=tuple(printable(redact(error, options.token)) for error in errors),
        target=options.target,
        generated_cases=generated,
        stop_reason=stop_reason,
    )


# --- probes -------------------------------------------------------------------------------------------

class _ServerStoppedAnswering(Exception):
    """Several requests in a row got no HTTP response: probing on would only collect timeouts."""


MAX_CONSECUTIVE_TRANSPORT_ERRORS = 3


@dataclass
class _Session:
    """The ProbeSession the engine gives probes: send, judge through the checks, record."""

    client: HttpClient
    schema: Any
    state: RunState
    builder: ResultBuilder
    token: str
    sent: int = 0
    failures_in_a_row: int = 0
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    _bodies: list[tuple[Exchange, Mapping[str, Any]]] = field(default_factory=list)

    def preflight(self) -> None:
        """The first request: proves the server answers (else ConnectionProblem) and reads its today."""
        exchange = self.client.send(USAGE_PATH, headers=self._headers(KEEP_TOKEN), origin="probe:preflight",
                                    fatal=True)
        self.sent += 1
        status = exchange.response.status if exchange.response is not None else None
        if status in (401, 403):  # every later answer would be a refusal too: nothing could be certified
            raise TokenRejected(f"{self.client.base_url} answered {status} to GET {USAGE_PATH} with the token "
                                "given: check that it is a valid token for this server; nothing was certified")
        if status == 404:  # not the endpoint at all: a wrong --base-url is a usage error, not a verdict
            base = self.client.base_url
            hint = (f"; give the server's base URL ({base.removesuffix(USAGE_PATH) or base}), "
                    "not the endpoint's") if base.rstrip("/").endswith(USAGE_PATH) else ""
            raise WrongTarget(f"{base} answered 404 to GET {USAGE_PATH}: check --base-url{hint}; "
                              "nothing was certified")
        self.today = max(today_candidates(exchange, self.state.settings.zone))
        self._judge(exchange)

    def get(self, name: str, params: Params = (), *, authorization: Any = KEEP_TOKEN) -> Exchange:
        exchange = self.client.send(USAGE_PATH, params=params, headers=self._headers(authorization),
                                    origin=f"probe:{name}")
        self.sent += 1
        self._judge(exchange)
        self.failures_in_a_row = self.failures_in_a_row + 1 if exchange.response is None else 0
        if self.failures_in_a_row >= MAX_CONSECUTIVE_TRANSPORT_ERRORS:
            raise _ServerStoppedAnswering(
                f"The server stopped answering ({exchange.error}, {self.failures_in_a_row} requests in a row); "
                "the remaining probes and all generated cases were skipped")
        return exchange

    def usage_body(self, exchange: Exchange) -> Mapping[str, Any] | None:
        response = exchange.response
        if response is None or response.status != 200:
            return None
        if read_auth(exchange.request.header("Authorization"), self.token) is not AuthReading.OK:
            return None
        body = response.json()
        return body if isinstance(body, dict) and body.keys() >= USAGE_KEYS else None

    def todays(self, exchange: Exchange) -> tuple[date, ...]:
        return today_candidates(exchange, self.state.settings.zone)

    def conclude(self, check_id: str, violations: Sequence[Violation], *exchanges: Exchange) -> None:
        self.builder.exercised([check_id])
        for violation in violations:
            earlier = "; ".join(e.request.describe(self.token) for e in exchanges[:-1])
            detail = f"after {earlier}" if earlier else ""
            self.builder.add_finding(_finding(violation.rule_id, violation.received, violation.expected,
                                              exchanges[-1], self.token, detail))

    def all_usage_bodies(self) -> list[tuple[Exchange, Mapping[str, Any]]]:
        return list(self._bodies)

    def _headers(self, authorization: Any) -> dict[str, str]:
        if authorization is KEEP_TOKEN:
            return {"Authorization": f"Bearer {self.token}"}
        return {} if authorization is None else {"Authorization": str(authorization)}

    def _judge(self, exchange: Exchange) -> None:
        """Run the same checks generated cases get: schemathesis' kept built-ins, then ours."""
        body = self.usage_body(exchange)
        if body is not None:
            self._bodies.append((exchange, body))
        if exchange.response is None:
            verdict = _judge_without_response(exchange, self.state)
            for violation in verdict:
                self.builder.add_finding(_finding(violation.rule_id, violation.received, violation.expected,
                                                  exchange, self.token))
            return
        response = _as_schemathesis_response(exchange)
        operation = self.schema[USAGE_PATH]["GET"]
        query: dict[str, Any] = {}
        for key, value in exchange.request.query_pairs:
            query[key] = value
        case = operation.Case(query=query, headers=dict(exchange.request.headers))
        self.state.prime(response, exchange)
        try:
            case.validate_response(response, checks=all_checks())
        except FailureGroup as group:
            for failure in group.exceptions:
                self._record_failure(failure, exchange)
        except Failure as failure:
            self._record_failure(failure, exchange)

    def _record_failure(self, failure: Failure, exchange: Exchange) -> None:
        check_id = builtin_check_id(failure, exchange.status, exchange.request.method)
        if check_id is None:
            log.debug("ignoring schemathesis finding %s", failure.title)
            return
        if isinstance(failure, ContractViolation):
            received, expected, detail = failure.violation.received, failure.violation.expected, ""
        else:
            (received, expected), detail = describe_builtin(failure, check_id, exchange.response), failure.title
        self.builder.add_finding(_finding(check_id, received, expected, exchange, self.token, detail))


def _judge_without_response(exchange: Exchange, state: RunState) -> list[Violation]:
    from crosmos_contract.judge import judge

    verdict = judge(exchange, state.settings)
    state.evaluated.update(verdict.evaluated)
    return verdict.violations


def _as_schemathesis_response(exchange: Exchange) -> Response:
    """The probe's exchange in the shape schemathesis' checks read."""
    import requests

    assert exchange.response is not None
    headers: dict[str, list[str]] = {}
    for key, value in exchange.response.headers:
        headers.setdefault(key, []).append(value)
    request = requests.Request(exchange.request.method, exchange.request.url,
                               headers=dict(exchange.request.headers)).prepare()
    request.url = exchange.request.url  # exactly what was sent, not re-encoded
    return Response(status_code=exchange.response.status, headers=headers, content=exchange.response.body,
                    request=request, elapsed=exchange.response.elapsed, verify=True)


def _finding(check_id: str, received: str, expected: str, exchange: Exchange, token: str, detail: str = "",
             response_key: str | None = None) -> Finding:
    spec = BY_ID[check_id]
    return Finding(
        check_id=check_id,
        title=spec.title,
        level=spec.level.value,
        received=printable(redact(received, token)),
        expected=printable(redact(expected or spec.rule, token)),
        request=printable(exchange.request.describe(token)),
        curl=printable(exchange.request.curl(token)),
        status=exchange.status,
        origin=exchange.origin,
        detail=printable(redact(detail, token)),
        response_key=response_key or f"{exchange.origin}@{exchange.sent_at.isoformat()}#{id(exchange)}",
    )


# --- generated cases ---------------------------------------------------------------------------------

def _schema(contract: LoadedContract, options: RunOptions, seed: int) -> Any:
    profile = PROFILES[options.profile]
    checks: dict[str, Any] = {"enabled": False}
    for name in (*BUILTIN_CHECKS, *OUR_CHECKS):
        checks[name] = {"enabled": True}
    config: dict[str, Any] = {
        "seed": seed,
        "base-url": options.base_url.rstrip("/"),
        "headers": {"Authorization": f"Bearer {options.token}"},
        "request-timeout": options.timeout,
        "workers": 1,
        "continue-on-failure": True,  # record every finding; no stopping, no shrinking mid-budget
        "cache": {"enabled": False},  # nothing written to the user's working directory
        "suppress-health-check": ["all"],
        "max-redirects": 0,
        "generation": {"max-examples": profile.max_examples, "database": "none", "no-shrink": True,
                       "mode": "all"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "coverage": {"enabled": profile.coverage}, "fuzzing": {"enabled": profile.fuzzing}},
        "checks": checks,
    }
    schema = schemathesis.openapi.from_dict(contract.raw, config=schemathesis.Config.from_dict(config))
    return schema


def _generate(schema: Any, profile: Profile, max_time: int | None, deadline: float, builder: ResultBuilder,
              token: str, errors: list[str], notify: ProgressCallback) -> tuple[int, str]:
    """Run schemathesis's phases; the run's budget is checked after every scenario it finishes."""
    if max_time is not None:
        schema.config.max_time = max_time
    sent = 0
    stop_reason = "completed"
    over_budget = False
    notify(Progress("generated", 0, None, f"{profile.name}: coverage and fuzzing"))
    stream = from_schema(schema).execute()
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            sent += len(event.recorder.interactions)
            _collect(event.recorder, builder, token)
            notify(Progress("generated", sent, None, event.phase.name.lower()))
            if not over_budget and time.monotonic() >= deadline:
                over_budget = True
                stream.stop()
        elif isinstance(event, events.NonFatalError):
            errors.append(f"schemathesis: {event.info.title}: {' '.join(event.info.message.split())}"[:500])
        elif isinstance(event, events.FatalError):
            errors.append(f"schemathesis stopped: {event.exception}"[:500])
        elif isinstance(event, events.EngineFinished):
            stop_reason = str(event.stop_reason.value)
    if over_budget:
        stop_reason = "budget"
        errors.append("The run's budget was spent before every generated case was sent")
    return sent, stop_reason


def _collect(recorder: Any, builder: ResultBuilder, token: str) -> None:
    for case_id, nodes in recorder.checks.items():
        for node in nodes:
            info = node.failure_info
            if info is None:
                continue
            failure = info.failure
            if isinstance(failure, ContractViolation):
                builder.add_finding(_finding(failure.check_id, failure.violation.received, failure.violation.expected,
                                             failure.exchange, token,
                                             response_key=f"case:{case_id}"))
                continue
            exchange = _exchange_from_interaction(recorder, failure.case_id or case_id)
            if exchange is None:
                continue
            check_id = builtin_check_id(failure, exchange.status, exchange.request.method)
            if check_id is None:
                continue
            builder.add_finding(_finding(check_id, *describe_builtin(failure, check_id, exchange.response),
                                         exchange, token, failure.title, response_key=f"case:{case_id}"))


def _exchange_from_interaction(recorder: Any, case_id: str) -> Exchange | None:
    interaction = recorder.interactions.get(case_id)
    if interaction is None:
        return None
    request = interaction.request
    sent = SentRequest(request.method, request.uri, headers_from(request.headers))
    response = interaction.response
    received = None
    if response is not None:
        received = ReceivedResponse(response.status_code, headers_from(response.headers), response.content or b"",
                                    response.elapsed)
    now = utc_now()
    case = recorder.cases.get(case_id)
    phase = case.value.meta.phase.name.value if case is not None and case.value.meta is not None else "generated"
    return Exchange(sent, received, now, now, f"generated:{phase}")


@contextlib.contextmanager
def _capped_capability_probes(limit: int, seconds: float) -> Iterator[None]:
    """Give schemathesis's own capability probes (its "probing" phase) our body cap and deadline.

    Those two requests go through a session of their own, made by ``make_session``, and read
    the whole body with only a per-read timeout: a server streaming without end was read for
    tens of megabytes (about 14 s here) before the first generated case, whatever the cap.
    The phase cannot be switched off, so its sessions get the hook every other request has.
    """
    original = st_context.make_session

    def make_session(*args: Any, **kwargs: Any) -> Any:
        session = original(*args, **kwargs)
        session.hooks["response"].append(cap_body_hook(limit, seconds))
        return session

    st_context.make_session = make_session
    try:
        yield
    finally:
        st_context.make_session = original


@schemathesis.hook("before_call")
def _cap_response_bodies(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Bound every body schemathesis reads for our runs (a global hook; inert for other schemas)."""
    state = state_for(case)
    if state is None:
        return
    hooks = kwargs.setdefault("hooks", {})
    hooks.setdefault("response", []).append(cap_body_hook(state.max_body_bytes, state.settings.request_timeout))


__all__ = ["PROFILES", "ConnectionProblem", "Profile", "Progress", "RunOptions", "kit_version", "run_suite"]


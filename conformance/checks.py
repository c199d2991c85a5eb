"""Per-response checks: the judge, its schemathesis checks, and the map from built-in findings.

The judge is a pure function of one :class:`~conformance.exchange.Exchange`: it classifies the
request (what the contract expects for it) and calls the rules module for everything a body can
show. Generated cases reach it through schemathesis checks registered here; probes reach it by
running those same checks, so both paths judge identically.

Some ids are left to schemathesis' own checks, which do them well: ``not_a_server_error``
(STATUS-002), ``content_type_conformance`` (STATUS-006) and ``response_schema_conformance``
(SCHEMA-001/002). :func:`builtin_check_id` maps their failures onto our ids. The built-ins that
misfire on this contract (a 401 is "undocumented", an inverted default window is "positive data
rejected", ``start_date=0`` is "negative data accepted") stay off; the judge replaces them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, ClassVar

import schemathesis
from schemathesis.core.failures import Failure, FailureGroup, MalformedJson, ResponseTimeExceeded, ServerError, Severity
from schemathesis.openapi.checks import (
    ContentDeserializationError,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    UndefinedContentType,
)

from conformance.client import DEFAULT_MAX_BODY_BYTES
from conformance.clock import today_candidates
from conformance.exchange import NOT_JSON, Exchange, ReceivedResponse, SentRequest, backdate, headers_from, utc_now
from conformance.expectations import DATE_PARAMS, AuthReading, Expectation, Reading, Window, expect
from crosmos_contract.catalogue import BY_ID, Level
from crosmos_contract.rules import (
    METRIC_NAMES,
    RATE_LIMIT_FIELDS,
    Violation,
    check_usage_body,
    metric_rules_exercised,
    parse_iso_date,
)

if TYPE_CHECKING:
    from schemathesis import Case, CheckContext, Response

USAGE_KEYS = frozenset({"plan", "period_start", "period_end", *METRIC_NAMES, *RATE_LIMIT_FIELDS})
# Ids that schemathesis' own checks decide (see builtin_check_id); the judge only counts them.
BUILTIN_IDS = frozenset({"STATUS-002", "STATUS-006", "SCHEMA-001", "SCHEMA-002"})
BUILTIN_CHECKS = ("not_a_server_error", "content_type_conformance", "response_schema_conformance")


@dataclass(frozen=True)
class JudgeSettings:
    """What the judge must know beyond the exchange: whose token is valid, and the server's zone."""

    token: str
    zone: tzinfo
    max_response_time: float = 2.0
    request_timeout: float = 10.0


@dataclass
class Judgement:
    evaluated: set[str] = field(default_factory=set)
    violations: list[Violation] = field(default_factory=list)
    notes: list[Violation] = field(default_factory=list)

    def fail(self, check_id: str, message: str) -> None:
        self.evaluated.add(check_id)
        self.violations.append(Violation(check_id, message))

    def note(self, check_id: str, message: str) -> None:
        self.notes.append(Violation(check_id, message))


# --- the judge --------------------------------------------------------------------------------

def judge(exchange: Exchange, settings: JudgeSettings) -> Judgement:
    """Every per-response rule that applies to ``exchange``."""
    verdict = Judgement()
    response = exchange.response
    if response is None:
        _transport_error(verdict, exchange, settings)
        return verdict
    verdict.evaluated.update({"STATUS-002", "STATUS-008"})
    if response.elapsed > settings.max_response_time:
        verdict.fail("STATUS-008", (
            f"Received the reply after {response.elapsed:.2f} s / Expected a reply in under "
            f"{settings.max_response_time:g} s"))
    todays = today_candidates(exchange, settings.zone)
    request = exchange.request
    expectation = expect(request.method, request.query_pairs, request.header("Authorization"),
                         settings.token, len(request.url), todays)
    if request.method.upper() != "GET":
        _other_method(verdict, request, response)
    elif expectation.auth is not AuthReading.OK:
        _rejected_credentials(verdict, expectation, response)
    else:
        _status(verdict, expectation, response)
        if response.status == 200:
            _usage_body(verdict, expectation, response, todays)
    if response.status in (200, 422):
        verdict.evaluated.update({"STATUS-006", "SCHEMA-001" if response.status == 200 else "SCHEMA-002"})
    return verdict


def _transport_error(verdict: Judgement, exchange: Exchange, settings: JudgeSettings) -> None:
    error = exchange.error or "no response"
    if "timeout" in error:
        verdict.fail("STATUS-008", (
            f"Received no reply within {settings.request_timeout:g} s / Expected a reply in under "
            f"{settings.max_response_time:g} s"))
    else:
        verdict.fail("STATUS-002", f"Received no HTTP response ({error}) / Expected a response, never a dropped "
                                   "connection")


def _not_implemented(status: int | None, method: str) -> bool:
    """501 for a method the contract does not define: RFC 9110's answer to a method a server does not
    implement (Apache, http.server), so neither a server error nor an undocumented status."""
    return status == 501 and method.upper() != "GET"


def _other_method(verdict: Judgement, request: SentRequest, response: ReceivedResponse) -> None:
    status = response.status
    method = request.method.upper()
    if status >= 500 and not _not_implemented(status, method):
        return  # STATUS-002, from not_a_server_error
    verdict.evaluated.add("STATUS-003")
    if status in (401, 403, 405, 501) or (method in ("HEAD", "OPTIONS") and status < 300):
        return
    verdict.fail("STATUS-003", f"Received {status} for {method} / Expected 405 for a method the contract "
                               "does not define")


def _rejected_credentials(verdict: Judgement, expectation: Expectation, response: ReceivedResponse) -> None:
    check_id = expectation.auth.check_id
    verdict.evaluated.add(check_id)
    status = response.status
    body = response.json()
    leaked = isinstance(body, dict) and bool(USAGE_KEYS & body.keys())
    if status in (401, 403):
        if leaked:
            verdict.fail(check_id, f"Received usage data in the {status} body for {expectation.auth.described} / "
                                   "Expected no usage data without valid credentials")
        if status == 401:
            verdict.evaluated.add("AUTH-004")
            challenge = response.header("WWW-Authenticate")
            if not challenge or not challenge.strip().lower().startswith("bearer"):
                shown = f"WWW-Authenticate: {challenge}" if challenge else "no WWW-Authenticate header"
                verdict.fail("AUTH-004", f"Received 401 with {shown} / Expected WWW-Authenticate: Bearer (RFC 6750)")
        return
    if status >= 500:
        return  # STATUS-002
    if status == 429:
        verdict.note("STATUS-003", "Received 429 (rate limited): the response says nothing about the contract")
        return
    if status == 422 and (expectation.invalid or expectation.doubtful):
        return  # validated the parameters before the credentials; nothing leaked
    extra = " and no usage data" if leaked else ""
    verdict.fail(check_id, f"Received {status} for {expectation.auth.described} / Expected 401 or 403{extra}")


def _status(verdict: Judgement, expectation: Expectation, response: ReceivedResponse) -> None:
    status = response.status
    asked = _asked(expectation)
    if status in (401, 403):
        verdict.fail("STATUS-001", f"Received {status} for valid credentials ({asked}) / Expected 200 "
                                   "(or 422 for invalid parameters)")
        return
    if status == 429:
        verdict.note("STATUS-003", "Received 429 (rate limited): the response says nothing about the contract")
        return
    if status >= 500:
        if expectation.extreme:
            verdict.fail("PERIOD-006", f"Received {status} for {asked} / Expected 200 or 422 for extreme but "
                                       "valid dates")
        return  # STATUS-002 itself comes from not_a_server_error
    verdict.evaluated.add("STATUS-003")
    transport = {414, 431} if expectation.oversized else set()
    if status not in {200, 422} | transport:
        also = ", 414/431 for this oversized request" if expectation.oversized else ""
        verdict.fail("STATUS-003", f"Received {status} for {asked} / Expected a documented status (200, 422; "
                                   f"401/403 for rejected credentials{also})")
    if status in transport:
        return
    if expectation.invalid:
        verdict.evaluated.add("STATUS-004")
        if status != 422:
            verdict.fail("STATUS-004", f"Received {status} for {asked} / Expected 422 (not a date)")
        else:
            # A lax or unclear neighbour may be what the server names first; either is a right answer.
            _names_parameter(verdict, response, tuple(p.name for p in expectation.invalid + expectation.doubtful))
        return
    inverted = expectation.window is Window.INVERTED
    may_reject = (bool(expectation.doubtful) or expectation.extreme
                  or expectation.window in (Window.INVERTED, Window.EITHER))
    if expectation.window in (Window.INVERTED, Window.EITHER):
        verdict.evaluated.add("PERIOD-005")
    if expectation.extreme:
        verdict.evaluated.add("PERIOD-006")
    if expectation.unknown_params:
        verdict.evaluated.add("STATUS-007")
    if status == 200:
        if inverted:
            verdict.fail("PERIOD-005", f"Received 200 for {asked}, an inverted window / Expected 422")
        else:
            verdict.evaluated.add("STATUS-001")
        for param in expectation.doubtful:
            if param.value is not None:
                verdict.note("STATUS-004", f"Accepted {param.shown} (lax date parsing, as pydantic does); "
                                           f"judged as {param.value.isoformat()}")
            else:
                verdict.note("STATUS-004", f"Accepted {param.shown} (a value servers may read differently, "
                                           "e.g. as absent; not judged)")
    elif status == 422:
        if may_reject:
            _names_parameter(verdict, response, DATE_PARAMS + expectation.unknown_params)
        else:
            blame = "STATUS-007" if _names_any(response, expectation.unknown_params) else "STATUS-001"
            verdict.fail(blame, f"Received 422 for {asked} / Expected 200" + (
                " (unknown query parameters are ignored)" if blame == "STATUS-007" else ""))
    elif inverted:
        verdict.fail("PERIOD-005", f"Received {status} for {asked}, an inverted window / Expected 422")
    elif not may_reject:
        blame = "STATUS-007" if expectation.unknown_params else "STATUS-001"
        verdict.fail(blame, f"Received {status} for {asked} / Expected 200")


def _locs(response: ReceivedResponse) -> list[object] | None:
    """The ``detail[].loc`` values of a 422 body, or None when it has no detail list."""
    body = response.json()
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, list):
        return None
    return [item.get("loc") for item in detail if isinstance(item, dict)]


def _names_any(response: ReceivedResponse, names: tuple[str, ...]) -> bool:
    """Whether some ``detail[].loc`` is ``["query", <one of names>, …]``."""
    return any(isinstance(loc, list) and len(loc) >= 2 and loc[0] == "query" and any(n in loc[1:] for n in names)
               for loc in _locs(response) or [])


def _names_parameter(verdict: Judgement, response: ReceivedResponse, names: tuple[str, ...]) -> None:
    """STATUS-005: some ``detail[].loc`` is ``["query", <one of names>]``."""
    verdict.evaluated.add("STATUS-005")
    if _names_any(response, names):
        return
    locs = _locs(response)
    if response.json() is NOT_JSON:
        received = "a 422 body that is not JSON"
    elif locs is None:
        received = f"a 422 body without a detail list ({response.excerpt(120)})"
    else:
        received = f"detail[].loc = {locs}" if locs else "a detail list with no loc"
    wanted = " or ".join(f'["query", "{n}"]' for n in names)
    verdict.fail("STATUS-005", f"Received {received} / Expected a detail[].loc naming the parameter ({wanted})")


def _usage_body(verdict: Judgement, expectation: Expectation, response: ReceivedResponse,
                todays: tuple[Any, ...]) -> None:
    if response.truncated:
        verdict.fail("SCHEMA-001", "Received a 200 body larger than the size cap (cut short) / Expected a "
                                   "UsageResponse")
        return
    body = response.json()
    if not isinstance(body, dict):
        return  # response_schema_conformance reports it
    start = _param_for_rules(expectation.start, body.get("period_start"))
    end = _param_for_rules(expectation.end, body.get("period_end"))
    verdict.evaluated.update({"PERIOD-004", *metric_rules_exercised(body)})
    if expectation.start.reading is Reading.ABSENT:
        verdict.evaluated.add("PERIOD-001")
    if expectation.end.reading is Reading.ABSENT:
        verdict.evaluated.add("PERIOD-002")
    if start is not None or end is not None:
        verdict.evaluated.add("PERIOD-003")
    for violation in check_usage_body(body, today_candidates=todays, start_param=start, end_param=end):
        verdict.fail(violation.rule_id, violation.message)
    for path, value in _integer_fields(body):
        if isinstance(value, float):
            verdict.fail("SCHEMA-001", f"Received {path} = {value!r}, a float / Expected an integer")


def _param_for_rules(param: Any, echoed: object) -> Any:
    """The date a parameter named; for one we cannot read, whatever the server echoed (no verdict)."""
    if param.reading in (Reading.VALID, Reading.LAX):
        return param.value
    if param.reading is Reading.UNCLEAR:
        return parse_iso_date(echoed)
    return None


def _integer_fields(body: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    for name in METRIC_NAMES:
        metric = body.get(name)
        if isinstance(metric, Mapping):
            for key in ("used", "limit", "remaining"):
                yield f"{name}.{key}", metric.get(key)
    for key in RATE_LIMIT_FIELDS:
        yield key, body.get(key)


def _asked(expectation: Expectation) -> str:
    parts = [p.shown for p in expectation.params if p.raw]
    parts += [f"{name}=…" for name in expectation.unknown_params]
    return "&".join(parts) if parts else "no parameters"


# --- schemathesis: the run registry and the checks ------------------------------------------------

@dataclass
class RunState:
    """What the checks of one suite run share: settings in, evaluated ids and notes out."""

    settings: JudgeSettings
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    evaluated: Counter[str] = field(default_factory=Counter)
    notes: list[tuple[Violation, Exchange]] = field(default_factory=list)
    responses: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: threading.local = field(default_factory=threading.local)

    def prime(self, response: Response, exchange: Exchange) -> None:
        """Judge ``response`` as ``exchange`` (a probe's own record, with its name and clock)."""
        self._last.primed = (response, exchange)

    def judgement(self, response: Response, case: Case[Any], origin: str) -> tuple[Judgement, Exchange]:
        """Judge each response once, however many of our checks ask about it."""
        last = getattr(self._last, "value", None)
        if last is not None and last[0] is response:
            return last[1], last[2]
        primed = getattr(self._last, "primed", None)
        if primed is not None and primed[0] is response:
            exchange = primed[1]
        else:
            exchange = exchange_from_schemathesis(response, origin)
        verdict = judge(exchange, self.settings)
        with self._lock:
            self.responses += 1
            self.evaluated.update(verdict.evaluated)
            self.notes.extend((note, exchange) for note in verdict.notes)
        self._last.value = (response, verdict, exchange)
        return verdict, exchange


_ACTIVE: dict[int, RunState] = {}


@contextmanager
def activated(schema: object, state: RunState) -> Iterator[RunState]:
    """Make our checks judge cases of ``schema``; they stay silent for every other schema in the process."""
    _ACTIVE[id(schema)] = state
    try:
        yield state
    finally:
        _ACTIVE.pop(id(schema), None)


def state_for(case: Case[Any]) -> RunState | None:
    return _ACTIVE.get(id(case.operation.schema))


class ContractViolation(Failure):
    """A rule of the contract's meaning, broken; ``check_id`` names it."""

    code: ClassVar[str] = "CCK01"
    kind_title: ClassVar[str] = "Crosmos contract violation"

    def __init__(self, *, operation: str, violation: Violation, exchange: Exchange) -> None:
        spec = BY_ID[violation.rule_id]
        super().__init__(operation=operation, title=f"{spec.id} {spec.title}", message=violation.message,
                         severity=Severity.HIGH if spec.level is Level.MUST else Severity.MEDIUM)
        self.check_id = violation.rule_id
        self.exchange = exchange

    @property
    def _unique_key(self) -> str:
        return f"{self.check_id}:{self.message}"


def exchange_from_schemathesis(response: Response, origin: str) -> Exchange:
    request = response.request
    received_at = utc_now()
    sent = SentRequest(str(request.method or "GET"), str(request.url or ""), headers_from(request.headers))
    received = ReceivedResponse(
        status=response.status_code,
        headers=headers_from(response.headers),
        body=response.content or b"",
        elapsed=response.elapsed,
    )
    return Exchange(sent, received, backdate(received_at, response.elapsed), received_at, origin)


def _origin(case: Case[Any]) -> str:
    meta = case.meta
    if meta is None:
        return "probe"
    return f"generated:{meta.phase.name.value}"


def _check_category(category: str) -> Callable[[CheckContext, Response, Case[Any]], bool | None]:
    def run(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
        state = state_for(case)
        if state is None:
            return True  # not our run: skip
        verdict, exchange = state.judgement(response, case, _origin(case))
        found = [v for v in verdict.violations if v.rule_id.startswith(category + "-")]
        if not found:
            return None
        failures = [ContractViolation(operation=case.operation.label, violation=v, exchange=exchange) for v in found]
        if len(failures) == 1:
            raise failures[0]
        raise FailureGroup(failures, f"{len(failures)} {category} violations")
    return run


def _register(name: str, category: str, doc: str) -> Callable[[CheckContext, Response, Case[Any]], bool | None]:
    function = _check_category(category)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return schemathesis.check(function)


crosmos_status = _register("crosmos_status", "STATUS", "STATUS-001..008 except what built-ins decide.")
crosmos_auth = _register("crosmos_auth", "AUTH", "AUTH-001..004: rejected credentials are refused properly.")
crosmos_schema = _register("crosmos_schema", "SCHEMA", "SCHEMA-001 beyond JSON Schema: no floats for integers.")
crosmos_period = _register("crosmos_period", "PERIOD", "PERIOD-001..006 via the rules module.")
crosmos_metric = _register("crosmos_metric", "METRIC", "METRIC-001..008 via the rules module.")
OUR_CHECKS = ("crosmos_status", "crosmos_auth", "crosmos_schema", "crosmos_period", "crosmos_metric")


def all_checks() -> list[Callable[[CheckContext, Response, Case[Any]], bool | None]]:
    """The checks a probe's response goes through: the kept built-ins, then ours."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    return [not_a_server_error, content_type_conformance, response_schema_conformance,
            crosmos_status, crosmos_auth, crosmos_schema, crosmos_period, crosmos_metric]


# --- built-in findings, in our ids -------------------------------------------------------------------

_SCHEMA_FAILURES = (JsonSchemaError, MalformedJson, ContentDeserializationError)
_CONTENT_TYPE_FAILURES = (MissingContentType, UndefinedContentType, MalformedMediaType)


def builtin_check_id(failure: Failure, status: int | None, method: str = "GET") -> str | None:
    """Our id for a schemathesis built-in finding, or None for one we do not use."""
    if isinstance(failure, ContractViolation):
        return failure.check_id
    if isinstance(failure, ServerError):
        return None if _not_implemented(status, method) else "STATUS-002"
    if isinstance(failure, _SCHEMA_FAILURES):
        return "SCHEMA-001" if status is not None and status < 300 else "SCHEMA-002"
    if isinstance(failure, _CONTENT_TYPE_FAILURES):
        return "STATUS-006"
    if isinstance(failure, ResponseTimeExceeded):
        return "STATUS-008"
    return None


def describe_builtin(failure: Failure, check_id: str, response: ReceivedResponse | None) -> str:
    """A "Received … / Expected …" line for a built-in finding, in the words of our catalogue."""
    status = response.status if response is not None else None
    if check_id == "STATUS-002":
        return f"Received HTTP {status} / Expected no 5xx response, whatever the input"
    if check_id == "STATUS-006":
        received = response.header("Content-Type") if response is not None else None
        return f"Received Content-Type {received or '(none)'} / Expected application/json (charset allowed)"
    if check_id in ("SCHEMA-001", "SCHEMA-002"):
        model = "UsageResponse" if check_id == "SCHEMA-001" else "HTTPValidationError"
        if isinstance(failure, JsonSchemaError):
            where = "/".join(str(part) for part in failure.instance_path) or "(root)"
            what = f"{where}: {failure.validation_message}"
        else:
            what = failure.title
        return f"Received a {status} body where {what} / Expected a body valid against {model}"
    return f"Received {failure.title} / Expected {BY_ID[check_id].rule}"

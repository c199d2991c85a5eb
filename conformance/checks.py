"""The judge's schemathesis adapters: our checks, the run registry, and the map from built-in findings.

The judge itself is :func:`crosmos_contract.judge.judge`, shared with the mock and its proxy.
Generated cases reach it through the schemathesis checks registered here; probes reach it by
running those same checks, so both paths judge identically.

Some ids are left to schemathesis' own checks, which do them well: ``not_a_server_error``
(STATUS-002), ``content_type_conformance`` (STATUS-006) and ``response_schema_conformance``
(SCHEMA-001/002). :func:`builtin_check_id` maps their failures onto our ids; the judge runs with
``server_errors=False`` so a 5xx is one finding, not two. The built-ins that misfire on
this contract (a 401 is "undocumented", an inverted default window is "positive data rejected",
``start_date=0`` is "negative data accepted") stay off; the judge replaces them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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

from conformance.pacing import is_refusal
from crosmos_contract.catalogue import BY_ID, Level
from crosmos_contract.exchange import (
    REDACTED,
    Exchange,
    ReceivedResponse,
    SentRequest,
    backdate,
    headers_from,
    utc_now,
)
from crosmos_contract.judge import Judgement, JudgeSettings, Remark, judge, not_implemented
from crosmos_contract.rules import Violation

if TYPE_CHECKING:
    from schemathesis import Case, CheckContext, Response

BUILTIN_CHECKS = ("not_a_server_error", "content_type_conformance", "response_schema_conformance")


# --- schemathesis: the run registry and the checks ------------------------------------------------

@dataclass
class RunState:
    """What the checks of one suite run share: settings in, evaluated ids and notes out."""

    settings: JudgeSettings
    hidden_headers: frozenset[str] = frozenset()  # the user's extra headers (lower case): values never recorded
    evaluated: Counter[str] = field(default_factory=Counter)
    notes: list[tuple[Remark, Exchange]] = field(default_factory=list)
    responses: int = 0
    refusals: int = 0  # generated cases whose final answer was a refusal (429): judged by no rule
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: threading.local = field(default_factory=threading.local)

    def prime(self, response: Response, exchange: Exchange) -> None:
        """Judge ``response`` as ``exchange`` (a probe's own record, with its name and clock)."""
        self._last.primed = (response, exchange)

    def count(self, evaluated: set[str]) -> None:
        with self._lock:
            self.evaluated.update(evaluated)

    def judgement(self, response: Response, case: Case[Any], origin: str) -> tuple[Judgement, Exchange]:
        """Judge each response once, however many of our checks ask about it.

        A refusal (429, or 503 with Retry-After) the transport could not wait out is not the
        server's answer to the request: no rule judges it, and it counts as unanswered.
        """
        last = getattr(self._last, "value", None)
        if last is not None and last[0] is response:
            return last[1], last[2]
        primed = getattr(self._last, "primed", None)
        if primed is not None and primed[0] is response:
            exchange = primed[1]
        else:
            exchange = exchange_from_schemathesis(response, origin, self.hidden_headers)
        if exchange.response is not None and is_refusal(exchange.response.status,
                                                        exchange.response.header("Retry-After")):
            with self._lock:
                self.refusals += 1
            verdict = Judgement()
            self._last.value = (response, verdict, exchange)
            return verdict, exchange
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
        self.violation = violation
        self.exchange = exchange

    @property
    def _unique_key(self) -> str:
        return f"{self.check_id}:{self.message}"


def exchange_from_schemathesis(response: Response, origin: str, hidden: frozenset[str] = frozenset()) -> Exchange:
    request = response.request
    received_at = utc_now()
    sent = SentRequest(str(request.method or "GET"), str(request.url or ""),
                       conceal(headers_from(request.headers), hidden))
    received = ReceivedResponse(
        status=response.status_code,
        headers=headers_from(response.headers),
        body=response.content or b"",
        elapsed=response.elapsed,
    )
    return Exchange(sent, received, backdate(received_at, response.elapsed), received_at, origin)


def conceal(headers: tuple[tuple[str, str], ...], hidden: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The user's extra headers with their values replaced: a reproducer shows the name, never the secret."""
    if not hidden:
        return headers
    return tuple((name, REDACTED if name.lower() in hidden else value) for name, value in headers)


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


def all_checks(method: str = "GET") -> list[Callable[[CheckContext, Response, Case[Any]], bool | None]]:
    """The checks a probe's response goes through: the kept built-ins, then ours. Another method's
    reply (HEAD, OPTIONS) is no GET reply: the GET operation's content type and schema do not
    apply to it, so only the server-error built-in and the judge decide it."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    ours = [crosmos_status, crosmos_auth, crosmos_schema, crosmos_period, crosmos_metric]
    if method.upper() != "GET":
        return [not_a_server_error, *ours]
    return [not_a_server_error, content_type_conformance, response_schema_conformance, *ours]


# --- built-in findings, in our ids -------------------------------------------------------------------

_SCHEMA_FAILURES = (JsonSchemaError, MalformedJson, ContentDeserializationError)
_CONTENT_TYPE_FAILURES = (MissingContentType, UndefinedContentType, MalformedMediaType)


def builtin_check_id(failure: Failure, status: int | None, method: str = "GET") -> str | None:
    """Our id for a schemathesis built-in finding, or None for one we do not use."""
    if isinstance(failure, ContractViolation):
        return failure.check_id
    if isinstance(failure, ServerError):
        return None if not_implemented(status, method) else "STATUS-002"
    if isinstance(failure, _SCHEMA_FAILURES):
        return "SCHEMA-001" if status is not None and status < 300 else "SCHEMA-002"
    if isinstance(failure, _CONTENT_TYPE_FAILURES):
        return "STATUS-006"
    if isinstance(failure, ResponseTimeExceeded):
        return "STATUS-008"
    return None


def describe_builtin(failure: Failure, check_id: str, response: ReceivedResponse | None) -> tuple[str, str]:
    """What was received and what was expected, for a built-in finding, in the words of our catalogue."""
    status = response.status if response is not None else None
    if check_id == "STATUS-002":
        return f"HTTP {status}", "no 5xx response, whatever the input"
    if check_id == "STATUS-006":
        received = response.header("Content-Type") if response is not None else None
        return f"Content-Type {received or '(none)'}", "application/json (charset allowed)"
    if check_id in ("SCHEMA-001", "SCHEMA-002"):
        model = "UsageResponse" if check_id == "SCHEMA-001" else "HTTPValidationError"
        if isinstance(failure, JsonSchemaError):
            where = "/".join(str(part) for part in failure.instance_path) or "(root)"
            what = f"{where}: {failure.validation_message}"
        else:
            what = failure.title
        return f"a {status} body where {what}", f"a body valid against {model}"
    return failure.title, BY_ID[check_id].rule

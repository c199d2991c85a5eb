"""The one judge: what a single exchange shows about the contract, for the suite, the proxy and the mock.

Given the request as sent and the response received, :func:`judge` classifies the request (what
the contract expects for it, :mod:`crosmos_contract.expectations`) and applies the catalogue's
per-response rules (STATUS, AUTH, SCHEMA, PERIOD, METRIC) through :mod:`crosmos_contract.rules`.
It is a pure function of the exchange and its settings: the conformance suite calls it from
schemathesis checks, proxy mode on every upstream reply, and the mock on its own replies before
it serves them, so the three can never disagree on what a reply means.

JSON Schema validation is the caller's tool (schemathesis' checks in the suite, openapi-core in
the mock): pass it as ``schema``. What the judge adds beyond JSON Schema (a float where an
integer belongs, a body cut at the size cap) it always reports. The suite lets schemathesis'
``not_a_server_error`` report 5xx replies (``JudgeSettings.server_errors=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo
from typing import Any

from crosmos_contract.clock import today_candidates
from crosmos_contract.exchange import NOT_JSON, Exchange, ReceivedResponse, SentRequest
from crosmos_contract.expectations import DATE_PARAMS, AuthReading, Expectation, Reading, Window, expect
from crosmos_contract.rules import (
    METRIC_NAMES,
    RATE_LIMIT_FIELDS,
    Violation,
    check_usage_values,
    parse_iso_date,
    usage_body_findings,
)

USAGE_KEYS = frozenset({"plan", "period_start", "period_end", *METRIC_NAMES, *RATE_LIMIT_FIELDS})
SchemaCheck = Callable[[Exchange], Sequence[Violation]]
"""A JSON Schema validation of the response (status documented, media type, body), as violations."""


@dataclass(frozen=True)
class JudgeSettings:
    """What the judge must know beyond the exchange.

    ``token``: the credential that is valid; None when the judge cannot know (proxy mode, the
    mock's self-check), so any well-formed Bearer credential may be valid or refused.
    ``max_response_time``: None where latency is no verdict (the mock judging its own reply).
    ``server_errors``: False where another tool reports 5xx replies as STATUS-002.
    """

    token: str | None
    zone: tzinfo = UTC
    max_response_time: float | None = 2.0
    request_timeout: float = 10.0
    server_errors: bool = True
    also_valid: tuple[str, ...] = ()  # more credentials the server issued (other orgs, a JWT beside a key)


@dataclass(frozen=True)
class Remark:
    """An observation that is not a violation (a lax date accepted, a 429), said as it is."""

    rule_id: str
    message: str


@dataclass
class Judgement:
    evaluated: set[str] = field(default_factory=set)
    violations: list[Violation] = field(default_factory=list)
    notes: list[Remark] = field(default_factory=list)

    def fail(self, check_id: str, received: str, expected: str) -> None:
        self.evaluated.add(check_id)
        self.violations.append(Violation(check_id, received, expected))

    def note(self, check_id: str, text: str) -> None:
        self.notes.append(Remark(check_id, text))

    def extend(self, violations: Sequence[Violation]) -> None:
        """Findings of the rules module, each rule exercised."""
        for violation in violations:
            self.evaluated.add(violation.rule_id)
            self.violations.append(violation)



def judge(exchange: Exchange, settings: JudgeSettings, *, schema: SchemaCheck | None = None,
          todays: Sequence[date] | None = None) -> Judgement:
    """Every per-response rule that applies to ``exchange``, a request to the usage endpoint.

    ``todays``: the days the server may have called today (default: from the exchange's
    ``Date`` header and times, :func:`~crosmos_contract.clock.today_candidates`).
    """
    verdict = Judgement()
    response = exchange.response
    if response is None:
        _transport_error(verdict, exchange, settings)
        return verdict
    verdict.evaluated.update({"STATUS-002", "STATUS-008"})
    request = exchange.request
    if settings.server_errors:
        _server_error(verdict, request, response)
    if settings.max_response_time is not None and response.elapsed > settings.max_response_time:
        verdict.fail("STATUS-008", f"the reply after {response.elapsed:.2f} s",
                     f"a reply in under {settings.max_response_time:g} s")
    days = tuple(todays) if todays is not None else today_candidates(exchange, settings.zone)
    expectation = expect(request.method, request.query_pairs, request.authorization,
                         settings.token, len(request.url), days, settings.also_valid)
    if request.method.upper() != "GET":
        _other_method(verdict, request, response)
    elif expectation.auth not in (AuthReading.OK, AuthReading.UNCHECKED):
        _rejected_credentials(verdict, expectation, response)
        if response.status == 200:
            _values_of(verdict, response)  # a success it should not have had: its body is judged too
    elif expectation.auth is AuthReading.UNCHECKED and response.status in (401, 403):
        verdict.evaluated.add("AUTH-004")
        _challenge(verdict, response)  # a credential the judge cannot check may be refused
    else:
        _status(verdict, expectation, response)
        if response.status == 200:
            _usage_body(verdict, expectation, response, days)
    if response.status in (200, 422):
        verdict.evaluated.update({"STATUS-006", "SCHEMA-001" if response.status == 200 else "SCHEMA-002"})
        if response.undecodable:
            verdict.fail("SCHEMA-001" if response.status == 200 else "SCHEMA-002",
                         f"{response.status} with {response.undecodable}",
                         "a body the client can read (an encoding it asked for, or none)")
        if schema is not None:  # the statuses the contract documents a body for; the judge decides the rest
            verdict.violations.extend(schema(exchange))
    return verdict


def judge_as_written(exchange: Exchange, *, schema: SchemaCheck | None = None) -> Judgement:
    """A reply served as the contract documents it, whatever was asked (``Prefer: example=``, a
    documented 422 on request): only what a body means by itself, never what the request implied."""
    verdict = Judgement()
    response = exchange.response
    if response is None:
        return verdict
    if schema is not None:
        verdict.violations.extend(schema(exchange))
    body = response.json()
    if response.status == 200 and isinstance(body, dict):
        verdict.violations.extend(check_usage_values(body))
    return verdict


def judge_operation(exchange: Exchange, *, requires_auth: bool, schema: SchemaCheck | None = None,
                    server_errors: bool = True) -> Judgement:
    """A reply to another operation of the document (a user's contract may hold more than usage):
    no server errors (``server_errors=False`` for a documented 5xx served on request), no refusal
    where there is no security, and the schema."""
    verdict = Judgement()
    response = exchange.response
    if response is None:
        return verdict
    if server_errors:
        _server_error(verdict, exchange.request, response)
    if response.status in (401, 403) and not requires_auth:
        verdict.fail("STATUS-003", f"{response.status} for an operation without security", "a documented status")
    if schema is not None and response.status not in (401, 403):
        verdict.violations.extend(schema(exchange))
    return verdict


def _server_error(verdict: Judgement, request: SentRequest, response: ReceivedResponse) -> None:
    if response.status >= 500 and not not_implemented(response.status, request.method):
        verdict.fail("STATUS-002", f"HTTP {response.status}", "no 5xx response, whatever the input")


def _transport_error(verdict: Judgement, exchange: Exchange, settings: JudgeSettings) -> None:
    error = exchange.error or "no response"
    if "timeout" in error:
        limit = settings.max_response_time if settings.max_response_time is not None else settings.request_timeout
        verdict.fail("STATUS-008", f"no reply within {settings.request_timeout:g} s", f"a reply in under {limit:g} s")
    else:
        verdict.fail("STATUS-002", f"no HTTP response ({error})", "a response, never a dropped connection")


def not_implemented(status: int | None, method: str) -> bool:
    """501 for a method the contract does not define: RFC 9110's answer to a method a server does not
    implement (Apache, http.server), so neither a server error nor an undocumented status."""
    return status == 501 and method.upper() != "GET"


def _other_method(verdict: Judgement, request: SentRequest, response: ReceivedResponse) -> None:
    status = response.status
    method = request.method.upper()
    if status >= 500 and not not_implemented(status, method):
        return  # STATUS-002, from not_a_server_error
    verdict.evaluated.add("STATUS-003")
    if status in (401, 403, 405, 501) or (method in ("HEAD", "OPTIONS") and status < 300):
        return
    verdict.fail("STATUS-003", f"{status} for {method}", "405 for a method the contract "
                               "does not define")


def _rejected_credentials(verdict: Judgement, expectation: Expectation, response: ReceivedResponse) -> None:
    check_id = expectation.auth.check_id
    verdict.evaluated.add(check_id)
    status = response.status
    body = response.json()
    leaked = isinstance(body, dict) and bool(USAGE_KEYS & body.keys())
    if status in (401, 403):
        if leaked:
            verdict.fail(check_id, f"usage data in the {status} body for {expectation.auth.described}",
                         "no usage data without valid credentials")
        if status == 401:
            verdict.evaluated.add("AUTH-004")
            _challenge(verdict, response)
        return
    if status >= 500:
        return  # STATUS-002
    if status == 429:
        verdict.note("STATUS-003", "Received 429 (rate limited): the response says nothing about the contract")
        return
    if status == 422 and (expectation.invalid or expectation.doubtful):
        return  # validated the parameters before the credentials; nothing leaked
    extra = " and no usage data" if leaked else ""
    verdict.fail(check_id, f"{status} for {expectation.auth.described}", f"401 or 403{extra}")


def _challenge(verdict: Judgement, response: ReceivedResponse) -> None:
    """AUTH-004: a 401 names the Bearer scheme (RFC 6750)."""
    if response.status != 401:
        return
    challenge = response.header("WWW-Authenticate")
    if not challenge or not challenge.strip().lower().startswith("bearer"):
        shown = f"WWW-Authenticate: {challenge}" if challenge else "no WWW-Authenticate header"
        verdict.fail("AUTH-004", f"401 with {shown}", "WWW-Authenticate: Bearer (RFC 6750)")


def _status(verdict: Judgement, expectation: Expectation, response: ReceivedResponse) -> None:
    status = response.status
    if status in (401, 403):
        verdict.fail("STATUS-001", f"{status} for valid credentials ({_asked(expectation)})", "200 "
                                   "(or 422 for invalid parameters)")
        return
    if status == 429:
        verdict.note("STATUS-003", "Received 429 (rate limited): the response says nothing about the contract")
        return
    if status >= 500:
        if expectation.extreme:
            verdict.fail("PERIOD-006", f"{status} for {_asked(expectation)}", "200 or 422 for extreme but "
                                       "valid dates")
        return  # STATUS-002 itself comes from not_a_server_error
    verdict.evaluated.add("STATUS-003")
    transport = {414, 431} if expectation.oversized else set()
    if status not in {200, 422} | transport:
        also = ", 414/431 for this oversized request" if expectation.oversized else ""
        verdict.fail("STATUS-003", f"{status} for {_asked(expectation)}", f"a documented status (200, 422; "
                                   f"401/403 for rejected credentials{also})")
    if status in transport:
        return
    if expectation.invalid:
        verdict.evaluated.add("STATUS-004")
        if status != 422:
            verdict.fail("STATUS-004", f"{status} for {_asked(expectation)}", "422 (not a date)")
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
            verdict.fail("PERIOD-005", f"200 for {_asked(expectation)}, an inverted window", "422")
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
            verdict.fail(blame, f"422 for {_asked(expectation)}", "200" + (
                " (unknown query parameters are ignored)" if blame == "STATUS-007" else ""))
    elif inverted:
        verdict.fail("PERIOD-005", f"{status} for {_asked(expectation)}, an inverted window", "422")
    elif not may_reject:
        blame = "STATUS-007" if expectation.unknown_params else "STATUS-001"
        verdict.fail(blame, f"{status} for {_asked(expectation)}", "200")


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
    verdict.fail("STATUS-005", f"{received}", f"a detail[].loc naming the parameter ({wanted})")


def _usage_body(verdict: Judgement, expectation: Expectation, response: ReceivedResponse,
                todays: tuple[Any, ...]) -> None:
    if response.undecodable:
        return  # judged as a schema finding by the caller
    if response.truncated:
        verdict.fail("SCHEMA-001", "a 200 body larger than the size cap (cut short)", "a "
                                   "UsageResponse")
        return
    body = response.json()
    if not isinstance(body, dict):
        return  # response_schema_conformance reports it
    start = _param_for_rules(expectation.start, body.get("period_start"))
    end = _param_for_rules(expectation.end, body.get("period_end"))
    exercised, violations = usage_body_findings(body, today_candidates=todays, start_param=start, end_param=end)
    verdict.evaluated.update({"PERIOD-004", *exercised})
    if expectation.start.reading is Reading.ABSENT:
        verdict.evaluated.add("PERIOD-001")
    if expectation.end.reading is Reading.ABSENT:
        verdict.evaluated.add("PERIOD-002")
    if start is not None or end is not None:
        verdict.evaluated.add("PERIOD-003")
    verdict.extend(violations)
    for path, value in _float_fields(body):
        verdict.fail("SCHEMA-001", f"{path} = {value!r}, a float", "an integer")


def _values_of(verdict: Judgement, response: ReceivedResponse) -> None:
    """What a usage body means by itself (no window was rightly asked for)."""
    body = response.json()
    if isinstance(body, dict) and not response.truncated:
        verdict.extend(check_usage_values(body))


def _param_for_rules(param: Any, echoed: object) -> Any:
    """The date a parameter named; for one we cannot read, whatever the server echoed (no verdict)."""
    if param.reading in (Reading.VALID, Reading.LAX):
        return param.value
    if param.reading in (Reading.UNCLEAR, Reading.INVALID):
        # An invalid value answered 200 is STATUS-004's finding; the period rules must not read the
        # parameter as absent (and claim a default was due), so they take what the server echoed.
        return parse_iso_date(echoed)
    return None


def _float_fields(body: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The integer fields holding a float, by path (a path is built only for a finding)."""
    found = []
    for name in METRIC_NAMES:
        metric = body.get(name)
        if isinstance(metric, Mapping):
            for key in ("used", "limit", "remaining"):
                value = metric.get(key)
                if isinstance(value, float):
                    found.append((f"{name}.{key}", value))
    for key in RATE_LIMIT_FIELDS:
        value = body.get(key)
        if isinstance(value, float):
            found.append((key, value))
    return found


def _asked(expectation: Expectation) -> str:
    parts = [p.shown for p in expectation.params if p.raw]
    parts += [f"{name}=…" for name in expectation.unknown_params]
    return "&".join(parts) if parts else "no parameters"

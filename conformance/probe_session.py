"""The ProbeSession the engine gives probes: send through the transport, judge, record.

Probes are independent of one another except ``limits-across-windows``, which reads every body
the others collected; each probe keeps its own requests in order (nested windows narrow first,
repeats one after the other). So the probes may run side by side on a few workers, the last one
after them all, and a seed still names the same requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

from conformance.budget import RunBudget
from conformance.checks import ContractViolation, RunState, all_checks, builtin_check_id, describe_builtin
from conformance.client import HttpClient
from conformance.findings import finding
from conformance.pacing import is_refusal
from conformance.probes import KEEP_TOKEN, Params, Probe
from conformance.result import ResultBuilder
from conformance.transport import TokenRejected, WrongTarget
from crosmos_contract.clock import today_candidates
from crosmos_contract.exchange import Exchange
from crosmos_contract.expectations import AuthReading, read_auth
from crosmos_contract.judge import USAGE_KEYS, judge
from crosmos_contract.rules import Violation

log = logging.getLogger(__name__)
USAGE_PATH = "/api/v1/usage"
MAX_CONSECUTIVE_TRANSPORT_ERRORS = 3


class ServerStoppedAnswering(Exception):
    """Several requests in a row got no HTTP response: probing on would only collect timeouts."""


class BudgetSpent(Exception):
    """The run's deadline passed: no further request is sent."""


@dataclass
class ProbeRunner:
    """Implements :class:`conformance.probes.ProbeSession` for one run; safe to share between workers."""

    client: HttpClient
    schema: Any
    state: RunState
    builder: ResultBuilder
    token: str
    secrets: Sequence[str] = ()
    budget: RunBudget | None = None
    sent: int = 0
    unanswered: int = 0  # requests still refused (429) after every retry: nothing judged
    failures_in_a_row: int = 0
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    preflight_seconds: float = 0.0
    label: str = ""  # "credential-2:" for a run's further credentials: findings say which one showed them
    seed: int = 0  # the run's seed: probes that sample (the org's history) draw with it
    grow: Callable[[], None] = lambda: None  # lets a derived budget make room for a pace learned meanwhile
    _bodies: list[tuple[Exchange, Mapping[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def preflight(self) -> None:
        """The first request: proves the server answers (else ConnectionProblem) and reads its today."""
        exchange = self.client.send(USAGE_PATH, headers=self._headers(KEEP_TOKEN), origin="probe:preflight",
                                    fatal=True)
        self.sent += 1
        assert exchange.response is not None
        self.preflight_seconds = exchange.response.elapsed
        status = exchange.response.status
        base = self.client.base_url
        if is_refusal(status, exchange.response.header("Retry-After")):
            raise TokenRejected(f"{base} refused every attempt of the first request ({status}, rate limited); "
                                "nothing was certified: try later or lower --rate-limit")
        if status in (401, 403):  # every later answer would be a refusal too: nothing could be certified
            extra = (", and that the --header values given are what its gateway wants"
                     if self.client.transport.settings.headers else
                     ", or whether a gateway in front of it wants a key of its own (give it with "
                     "--header 'Name: value')")
            raise TokenRejected(f"{base} answered {status} to GET {USAGE_PATH} with the token given: check that "
                                f"it is a valid token for this server{extra}; nothing was certified")
        if status == 404:  # not the endpoint at all: a wrong --base-url is a usage error, not a verdict
            hint = (f"; give the server's base URL ({base.removesuffix(USAGE_PATH) or base}), "
                    "not the endpoint's") if base.rstrip("/").endswith(USAGE_PATH) else ""
            raise WrongTarget(f"{base} answered 404 to GET {USAGE_PATH}: check --base-url{hint}; "
                              "nothing was certified")
        self.today = max(today_candidates(exchange, self.state.settings.zone))
        self._judge(exchange)
        # The first request pays for the connection (and a TLS handshake): the latency the run
        # plans with is the faster of it and a second one on the warm connection.
        warm = self.client.send(USAGE_PATH, headers=self._headers(KEEP_TOKEN), origin="probe:preflight:warm")
        self.sent += 1
        self._judge(warm)
        if warm.response is not None:
            self.preflight_seconds = min(self.preflight_seconds, warm.response.elapsed)

    def get(self, name: str, params: Params = (), *, authorization: Any = KEEP_TOKEN,
            method: str = "GET") -> Exchange:
        self.grow()
        if (self.budget is not None and self.budget.spent()) or self.client.transport.stopped:
            raise BudgetSpent
        exchange = self.client.send(USAGE_PATH, params=params, headers=self._headers(authorization),
                                    method=method, origin=f"probe:{self.label}{name}")
        with self._lock:
            self.sent += 1
            self.failures_in_a_row = self.failures_in_a_row + 1 if exchange.response is None else 0
            failures = self.failures_in_a_row
        self._judge(exchange)
        if failures >= MAX_CONSECUTIVE_TRANSPORT_ERRORS:
            raise ServerStoppedAnswering(
                f"The server stopped answering ({exchange.error}, {failures} requests in a row); "
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
            self.builder.add_finding(finding(violation.rule_id, violation.received, violation.expected,
                                             exchanges[-1], self.token, self.secrets, detail))

    def all_usage_bodies(self) -> list[tuple[Exchange, Mapping[str, Any]]]:
        with self._lock:
            return list(self._bodies)

    def evidence(self, check_id: str, text: str) -> None:
        """What a cross-request check compared (windows, never credentials): the report lists it."""
        self.builder.add_evidence(check_id, text)

    def _headers(self, authorization: Any) -> dict[str, str]:
        if authorization is KEEP_TOKEN:
            return {"Authorization": f"Bearer {self.token}"}
        return {} if authorization is None else {"Authorization": str(authorization)}

    def _judge(self, exchange: Exchange) -> None:
        """Run the same checks generated cases get: schemathesis' kept built-ins, then ours."""
        response = exchange.response
        if response is not None and is_refusal(response.status, response.header("Retry-After")):
            with self._lock:  # the server protected itself and never answered this request
                self.unanswered += 1
            return
        body = self.usage_body(exchange)
        if body is not None:
            with self._lock:
                self._bodies.append((exchange, body))
        if response is None:
            verdict = judge(exchange, self.state.settings)
            self.state.count(verdict.evaluated)
            for violation in verdict.violations:
                self.builder.add_finding(finding(violation.rule_id, violation.received, violation.expected,
                                                 exchange, self.token, self.secrets))
            return
        operation = self.schema[USAGE_PATH]["GET"]
        query: dict[str, Any] = {}
        for key, value in exchange.request.query_pairs:
            query[key] = value
        case = operation.Case(query=query, headers=dict(exchange.request.headers))
        as_schemathesis = _as_schemathesis_response(exchange)
        self.state.prime(as_schemathesis, exchange)
        try:
            case.validate_response(as_schemathesis, checks=all_checks(exchange.request.method))
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
        self.builder.add_finding(finding(check_id, received, expected, exchange, self.token, self.secrets, detail))


def for_credential(runner: ProbeRunner, position: int, token: str) -> ProbeRunner:
    """A runner speaking as the run's ``position``-th credential (1-based), sharing everything
    else; its cross-request rules compare its own replies only (another org has other limits)."""
    return ProbeRunner(runner.client, runner.schema, runner.state, runner.builder, token, runner.secrets,
                       runner.budget, today=runner.today, preflight_seconds=runner.preflight_seconds,
                       label=f"credential-{position}:", seed=runner.seed, grow=runner.grow)


def _as_schemathesis_response(exchange: Exchange) -> Response:
    """The probe's exchange in the shape schemathesis' checks read."""
    assert exchange.response is not None
    headers: dict[str, list[str]] = {}
    for key, value in exchange.response.headers:
        headers.setdefault(key, []).append(value)
    request = requests.Request(exchange.request.method, exchange.request.url,
                               headers=dict(exchange.request.headers)).prepare()
    request.url = exchange.request.url  # exactly what was sent, not re-encoded
    return Response(status_code=exchange.response.status, headers=headers, content=exchange.response.body,
                    request=request, elapsed=exchange.response.elapsed, verify=True)


Notify = Callable[[int, str], None]


def run_probes(runner: ProbeRunner, probes: Sequence[Probe], workers: int, notify: Notify) -> tuple[int, str, str]:
    """Run every probe; the last one (which reads what the others collected) after them all.

    Returns (probes finished, stop reason, error or ""). Probes run on ``workers`` threads; with
    one, in catalogue order, exactly as before.
    """
    independent, last = list(probes[:-1]), probes[-1]
    done = 0
    lock = threading.Lock()
    stop: list[tuple[str, str]] = []

    def run_one(probe: Probe) -> None:
        nonlocal done
        if stop:
            return
        try:
            probe.run(runner)
        except BudgetSpent:
            stop.append(("budget spent on probes", ""))
            return
        except ServerStoppedAnswering as exc:
            stop.append(("server stopped answering", str(exc)))
            return
        with lock:
            done += 1
            notify(done, probe.name)

    if workers <= 1:
        for probe in independent:
            run_one(probe)
            if stop:
                break
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
            for future in [pool.submit(run_one, probe) for probe in independent]:
                future.result()
    if not stop:
        run_one(last)
    if stop:
        reason, error = stop[0]
        if reason == "budget spent on probes":
            assert runner.budget is not None
            error = (f"The {runner.budget.seconds:g} s budget was spent after {done} of {len(probes)} probes; "
                     f"rerun with a larger --budget")
        return done, reason, error
    return done, "completed", ""

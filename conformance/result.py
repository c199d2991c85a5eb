"""The outcome of a suite run: plain data that every reporter renders and nothing else computes.

A check is *fail* when some response broke it, *note* when it held but something is worth a look
(lax date parsing, a rate limit), *pass* when responses exercised it and all held, and *not
applicable* when no response exercised it (a server that always answers 403 never shows AUTH-004).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from conformance.pacing import RateLimitReport
from crosmos_contract.catalogue import CATALOGUE, CheckSpec, Level


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOTE = "note"
    NOT_APPLICABLE = "not-applicable"


class CertLevel(StrEnum):
    """Which checks decide the verdict: ``core`` the MUST rules, ``full`` MUST and SHOULD."""

    CORE = "core"
    FULL = "full"

    def decides(self, spec: CheckSpec) -> bool:
        return spec.level is Level.MUST or self is CertLevel.FULL


@dataclass(frozen=True)
class Finding:
    """One broken rule, reproducible in one paste."""

    check_id: str
    title: str
    level: str
    received: str
    expected: str
    request: str  # "GET /api/v1/usage?… (Authorization: Bearer [REDACTED])"
    curl: str  # token redacted
    status: int | None
    origin: str  # "probe:<name>", "generated:<phase>"
    detail: str = ""
    response_key: str = ""  # which response showed it: "Responses" counts responses, not findings

    @property
    def message(self) -> str:
        return f"Received {self.received} / Expected {self.expected}"


@dataclass(frozen=True)
class Note:
    check_id: str
    message: str
    curl: str
    origin: str


@dataclass(frozen=True)
class CheckResult:
    spec: CheckSpec
    outcome: Outcome
    findings: tuple[Finding, ...] = ()  # examples, at most a few per check
    occurrences: int = 0  # every failing response, not just the examples kept
    notes: tuple[Note, ...] = ()
    exercised: int = 0  # responses that exercised the check
    evidence: tuple[str, ...] = ()  # what a cross-request check compared (e.g. the window triples)

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class SuiteResult:
    base_url: str
    profile: str
    level: CertLevel
    seed: int
    timezone: str
    contract_sha256: str
    kit_version: str
    schemathesis_version: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    requests: int
    checks: tuple[CheckResult, ...]
    errors: tuple[str, ...] = ()  # engine trouble worth reporting (not findings)
    target: str = "server"  # "server" or "embedded mock"
    generated_cases: int = 0
    stop_reason: str = "completed"  # "completed" only when every probe and generated case was sent and answered
    probes_run: int = 0
    probes_planned: int = 0
    budget_s: float = 0.0  # the cap the run had (derived or given)
    workers: int = 1
    rate_limits: RateLimitReport = field(default_factory=RateLimitReport)
    notes: tuple[str, ...] = ()  # about the options (a token's whitespace stripped), not the server
    problem: str | None = None  # the suite could not certify at all (unreachable, token refused, ...)

    @property
    def complete(self) -> bool:
        """Everything planned was sent and answered: only then can a run pass."""
        return self.problem is None and self.stop_reason == "completed"

    @property
    def conformant(self) -> bool:
        """Conformant at the level asked: nothing deciding failed, and the run was complete.

        A run cut short (the budget, a server that stopped answering, a rate limit never lifted)
        never passes: what was not sent was not checked.
        """
        return self.complete and not self.failed_ids_at(self.level)

    @property
    def exit_code(self) -> int:
        """0 conformant, 1 a failure that decides the level asked (found even in a run cut short),
        2 nothing decided: the suite could not certify, or the run is incomplete."""
        if self.failed_ids_at(self.level):
            return 1
        return 0 if self.complete else 2

    def failed_ids_at(self, level: CertLevel) -> frozenset[str]:
        return frozenset(c.id for c in self.checks if c.outcome is Outcome.FAIL and level.decides(c.spec))

    @property
    def failed_ids(self) -> frozenset[str]:
        """Every failing check, whatever the level asked for."""
        return frozenset(c.id for c in self.checks if c.outcome is Outcome.FAIL)

    @property
    def verdict(self) -> str:
        if self.failed_ids_at(self.level):
            return "not conformant"
        if self.problem is not None:
            return "cannot certify"
        return "conformant" if self.complete else "incomplete"

    def by_id(self, check_id: str) -> CheckResult:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def counts(self) -> dict[str, int]:
        tally = {outcome.value: 0 for outcome in Outcome}
        for check in self.checks:
            tally[check.outcome.value] += 1
        return tally

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for c in self.checks for f in c.findings)


@dataclass
class ResultBuilder:
    """Collects findings and notes during a run and folds them into per-check results (thread-safe:
    probes and generated cases may be judged on several workers)."""

    examples_per_check: int = 3
    curl_flags: str = ""  # what reproducers need to reach the server as the suite did (--cacert, -k, -x)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _findings: dict[str, list[Finding]] = field(default_factory=dict)
    _occurrences: dict[str, int] = field(default_factory=dict)
    _seen_responses: set[tuple[str, str]] = field(default_factory=set)
    _notes: dict[str, list[Note]] = field(default_factory=dict)
    _exercised: dict[str, int] = field(default_factory=dict)
    _evidence: dict[str, list[str]] = field(default_factory=dict)

    def add_finding(self, finding: Finding) -> None:
        """Keep a few distinct findings per check; count each failing response once per check
        (a body with three float fields is one failing response, not three)."""
        if self.curl_flags:
            finding = replace(finding, curl=_with_flags(finding.curl, self.curl_flags))
        with self._lock:
            self._add_finding(finding)

    def _add_finding(self, finding: Finding) -> None:
        key = (finding.check_id, finding.response_key)
        if not finding.response_key or key not in self._seen_responses:
            self._seen_responses.add(key)
            self._occurrences[finding.check_id] = self._occurrences.get(finding.check_id, 0) + 1
        kept = self._findings.setdefault(finding.check_id, [])
        if len(kept) < self.examples_per_check and all(f.message != finding.message for f in kept):
            kept.append(finding)

    def add_note(self, note: Note) -> None:
        if self.curl_flags:
            note = replace(note, curl=_with_flags(note.curl, self.curl_flags))
        with self._lock:
            self._add_note(note)

    def _add_note(self, note: Note) -> None:
        kept = self._notes.setdefault(note.check_id, [])
        if len(kept) < self.examples_per_check and all(n.message != note.message for n in kept):
            kept.append(note)

    def exercised(self, check_ids: Iterable[str], times: int = 1) -> None:
        with self._lock:
            for check_id in check_ids:
                self._exercised[check_id] = self._exercised.get(check_id, 0) + times

    def add_evidence(self, check_id: str, text: str) -> None:
        with self._lock:
            kept = self._evidence.setdefault(check_id, [])
            if text not in kept:
                kept.append(text)

    def exercised_counts(self, counts: Mapping[str, int]) -> None:
        for check_id, times in counts.items():
            self.exercised([check_id], times)

    def checks(self) -> tuple[CheckResult, ...]:
        results = []
        for spec in CATALOGUE:
            findings = tuple(self._findings.get(spec.id, ()))
            notes = tuple(self._notes.get(spec.id, ()))
            exercised = max(self._exercised.get(spec.id, 0), self._occurrences.get(spec.id, 0))
            if findings:
                outcome = Outcome.FAIL
            elif notes:
                outcome = Outcome.NOTE
            elif exercised:
                outcome = Outcome.PASS
            else:
                outcome = Outcome.NOT_APPLICABLE
            results.append(CheckResult(spec, outcome, findings, self._occurrences.get(spec.id, 0), notes, exercised,
                                       tuple(self._evidence.get(spec.id, ()))))
        return tuple(results)


def _with_flags(curl: str, flags: str) -> str:
    return curl.replace("curl -sS -i ", f"curl -sS -i {flags} ", 1)

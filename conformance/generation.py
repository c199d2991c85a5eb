"""Generated cases: schemathesis's coverage and fuzzing phases, sent through the suite's transport.

The fuzzed cases are drawn in :data:`~conformance.profiles.FUZZ_SHARDS` batches, each a
schemathesis run of its own with a seed derived from the run's, so that a few workers can send
them side by side (schemathesis runs one operation on one worker) while a seed still names the
same cases. The coverage phase is a batch of its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import context as st_context
from schemathesis.engine import events, from_schema

from conformance.budget import RunBudget
from conformance.checks import (
    BUILTIN_CHECKS,
    OUR_CHECKS,
    ContractViolation,
    RunState,
    activated,
    builtin_check_id,
    conceal,
    describe_builtin,
)
from conformance.findings import finding
from conformance.pacing import is_refusal
from conformance.profiles import COVERAGE_CASES, FUZZ_SHARDS, Profile, shard_size
from conformance.result import ResultBuilder
from conformance.transport import Transport
from crosmos_contract.exchange import Exchange, ReceivedResponse, SentRequest, headers_from, utc_now
from crosmos_contract.loader import LoadedContract


def _one_ast_at_a_time() -> None:
    """Serialize hypothesis's parsing of local modules for constants (CPython gh-106905).

    Each hypothesis provider, once per input, parses the source of every newly imported local module
    (``hypothesis.internal.constants_ast``). In CPython 3.11 two threads building ASTs at once can
    corrupt the converter's shared recursion counter: ``SystemError: AST constructor recursion depth
    mismatch``, which schemathesis reports as a Runtime Error of the run (seen once in this suite's
    tests, with the suite's server threads beside). One lock around that parse removes the race;
    hypothesis's internals may move, so a missing name leaves things as they are.
    """
    try:
        from hypothesis.internal import constants_ast
    except ImportError:  # pragma: no cover - hypothesis reorganised
        return
    parse = getattr(constants_ast, "_constants_from_source", None)
    if parse is None or getattr(parse, "serialized", False):
        return
    lock = threading.Lock()

    def serialized(source: Any, *, limit: bool) -> Any:
        with lock:
            return parse(source, limit=limit)

    serialized.serialized = True  # type: ignore[attr-defined]
    constants_ast._constants_from_source = serialized


_one_ast_at_a_time()

@dataclass(frozen=True)
class Shard:
    index: int
    seed: int
    max_examples: int
    coverage: bool
    fuzzing: bool


def plan(profile: Profile, seed: int) -> list[Shard]:
    """The batches a profile's generated cases are drawn in: the coverage phase alone (about as many
    cases as a fuzzing batch of the quick profile), then the fuzzed cases; empty batches left out."""
    size = shard_size(profile.max_examples)
    # Every batch has the same max-examples, the coverage batch too (it does not fuzz): hypothesis
    # runs started side by side can read each other's settings, which must then not matter.
    shards = [Shard(0, seed, size, coverage=True, fuzzing=False)] if profile.coverage else []
    if profile.fuzzing:
        shards += [Shard(index, seed + index, size, coverage=False, fuzzing=True)
                   for index in range(1, FUZZ_SHARDS + 1)]
    return shards


def build_schema(contract: LoadedContract, base_url: str, token: str, timeout: float, shard: Shard) -> Any:
    checks: dict[str, Any] = {"enabled": False}
    for name in (*BUILTIN_CHECKS, *OUR_CHECKS):
        checks[name] = {"enabled": True}
    config: dict[str, Any] = {
        "seed": shard.seed,
        "base-url": base_url.rstrip("/"),
        "headers": {"Authorization": f"Bearer {token}"},
        "request-timeout": timeout,
        "workers": 1,
        "continue-on-failure": True,  # record every finding; no stopping, no shrinking mid-budget
        "cache": {"enabled": False},  # nothing written to the user's working directory
        "suppress-health-check": ["all"],
        "max-redirects": 0,
        "generation": {"max-examples": shard.max_examples, "database": "none", "no-shrink": True,
                       "mode": "all"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "coverage": {"enabled": shard.coverage}, "fuzzing": {"enabled": shard.fuzzing}},
        "checks": checks,
    }
    return schemathesis.openapi.from_dict(contract.raw, config=schemathesis.Config.from_dict(config))


@dataclass
class GenerationRun:
    """One run's generated cases: what every batch shares, and what they found."""

    contract: LoadedContract
    base_url: str
    token: str
    timeout: float
    state: RunState
    builder: ResultBuilder
    budget: RunBudget
    secrets: Sequence[str] = ()
    notify: Callable[[int, str], None] = lambda done, detail: None
    grow: Callable[[], None] = lambda: None  # lets a derived budget make room for a pace learned meanwhile
    transport_stopped: Callable[[], bool] = lambda: False  # a Retry-After beyond the budget: stop sending
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    cut_short: bool = False
    rerun: list[int] = field(default_factory=list)  # fuzz batches sent again (see run)
    _per_shard: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, shards: Sequence[Shard], workers: int) -> None:
        """Every batch; with several workers, the first fuzz batch alone, then the others side by side.

        schemathesis 4.32's fuzzing sets something up lazily on its first run in a process; runs
        started side by side before that race on it, and one of them stops after a single case
        (seen here in 1 of 2 first parallel starts, never after one run completed). So one fuzz
        batch runs alone first, and a batch that still comes back with fewer than half its cases
        is sent again, alone, so that a seed names the same cases whatever the workers.
        """
        if workers <= 1 or len(shards) <= 1:
            for shard in shards:
                self._run_shard(shard)
            return
        first = next((shard for shard in shards if shard.fuzzing), shards[0])
        self._run_shard(first)
        rest = [shard for shard in shards if shard is not first]
        with ThreadPoolExecutor(max_workers=min(workers, len(rest)), thread_name_prefix="generate") as pool:
            for future in [pool.submit(self._run_shard, shard) for shard in rest]:
                future.result()
        for shard in rest:
            if shard.fuzzing and not self.cut_short and self._per_shard.get(shard.index, 0) * 2 < shard.max_examples:
                self.rerun.append(shard.index)
                self._per_shard[shard.index] = 0
                self._run_shard(shard)

    @staticmethod
    def planned(shards: Sequence[Shard]) -> int:
        """About how many cases the batches send (the coverage phase's count is the contract's)."""
        return sum(shard.max_examples for shard in shards if shard.fuzzing) + COVERAGE_CASES * any(
            shard.coverage for shard in shards)

    def _run_shard(self, shard: Shard) -> None:
        if self.budget.spent() or self.transport_stopped():
            with self._lock:
                self.cut_short = True
            return
        schema = build_schema(self.contract, self.base_url, self.token, self.timeout, shard)
        with activated(schema, self.state):
            stream = from_schema(schema).execute()
            stopped = False
            reason = "no end"
            for event in stream:
                if isinstance(event, events.ScenarioFinished):
                    with self._lock:
                        self.sent += len(event.recorder.interactions)
                        sent = self.sent
                        self._per_shard[shard.index] = self._per_shard.get(shard.index, 0) + len(
                            event.recorder.interactions)
                    self._collect(event.recorder)
                    self.notify(sent, event.phase.name.lower())
                    self.grow()
                    if not stopped and (self.budget.spent() or self.transport_stopped()):
                        stopped = True
                        stream.stop()
                elif isinstance(event, events.NonFatalError):
                    self._error(f"schemathesis: {event.info.title}: {' '.join(event.info.message.split())}")
                elif isinstance(event, events.FatalError):
                    self._error(f"schemathesis stopped: {event.exception}")
                elif isinstance(event, events.EngineFinished):
                    reason = str(event.stop_reason.value)
                    if reason != "completed" and not stopped:
                        self._error(f"schemathesis stopped batch {shard.index + 1}: {reason}")
        # Stopped at the budget after its last case, a batch is still complete: only one that
        # did not send what it planned leaves the run incomplete.
        full = shard.fuzzing and self._per_shard.get(shard.index, 0) >= shard.max_examples
        if (stopped and not full and reason != "completed") or (not stopped and reason != "completed"):
            with self._lock:
                self.cut_short = True

    def _error(self, text: str) -> None:
        with self._lock:
            if text[:500] not in self.errors:
                self.errors.append(text[:500])

    def _collect(self, recorder: Any) -> None:
        hidden = self.state.hidden_headers
        for case_id, nodes in recorder.checks.items():
            for node in nodes:
                info = node.failure_info
                if info is None:
                    continue
                failure = info.failure
                if isinstance(failure, ContractViolation):
                    self.builder.add_finding(finding(failure.check_id, failure.violation.received,
                                                     failure.violation.expected, failure.exchange, self.token,
                                                     self.secrets, response_key=f"case:{case_id}"))
                    continue
                exchange = _exchange_from_interaction(recorder, failure.case_id or case_id, hidden)
                if exchange is None or exchange.response is None:
                    continue
                if is_refusal(exchange.response.status, exchange.response.header("Retry-After")):
                    continue  # the server protecting itself: not its answer, not a finding
                check_id = builtin_check_id(failure, exchange.status, exchange.request.method)
                if check_id is None:
                    continue
                self.builder.add_finding(finding(check_id, *describe_builtin(failure, check_id, exchange.response),
                                                 exchange, self.token, self.secrets, failure.title,
                                                 response_key=f"case:{case_id}"))


def _exchange_from_interaction(recorder: Any, case_id: str, hidden: frozenset[str]) -> Exchange | None:
    interaction = recorder.interactions.get(case_id)
    if interaction is None:
        return None
    request = interaction.request
    sent = SentRequest(request.method, request.uri, conceal(headers_from(request.headers), hidden))
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
def sessions_from(transport: Transport) -> Iterator[None]:
    """Every session schemathesis makes (its cases' and its capability probes') is one of the transport's.

    schemathesis builds sessions with ``make_session`` from its own config; replacing that one
    factory routes its requests through the same adapter, TLS, proxy, pace and body cap as the probes.
    """
    original = st_context.make_session

    def make_session(*args: Any, **kwargs: Any) -> Any:
        return transport.session()

    st_context.make_session = make_session
    try:
        yield
    finally:
        st_context.make_session = original



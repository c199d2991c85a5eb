"""What a running mock holds: the contract as served now, and the state its requests share.

Built once per app, before workers fork (``app.extensions["crosmos_mock"]``); the pipeline's
stages, the control API and the CLI all reach it through :func:`state`, never through the app
factory, so none of them imports another.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app

from crosmos_contract import LoadedContract, load_contract
from mockserver.contract import examples
from mockserver.contract.operations import OperationIndex
from mockserver.contract.reload import ContractWatcher
from mockserver.contract.validation import ContractValidator
from mockserver.model.faults import FaultSettings, RateLimiter
from mockserver.model.ledger import UsageLedger
from mockserver.model.live_usage import LiveUsage
from mockserver.model.scenarios import SCENARIOS
from mockserver.pipeline.cors import CorsPolicy
from mockserver.produce.proxy import Proxy
from mockserver.settings import MockSettings
from mockserver.store.caches import BoundedCache
from mockserver.store.journal import Journal
from mockserver.store.shared import ControlSnapshot, SharedStore

EXTENSION = "crosmos_mock"
UsageKey = tuple[Any, ...]
"""scenario, org, start, end, today, live additions: everything a usage body depends on."""


@dataclass
class ContractRuntime:
    """One loaded contract and everything derived from it; swapped whole on reload, caches with it."""

    contract: LoadedContract
    index: OperationIndex
    validator: ContractValidator
    broken_examples: dict[examples.ExampleKey, str] = field(default_factory=dict)
    # Usage bodies built and self-checked: (status, bytes, media type) by UsageKey.
    responses: BoundedCache[UsageKey, tuple[int, bytes, str]] = field(default_factory=lambda: BoundedCache(8192))
    # The first valid body of every other operation, by (method, path, status, media type).
    static_bodies: BoundedCache[tuple[str, str, str, str], Any] = field(default_factory=lambda: BoundedCache(1024))

    @classmethod
    def build(cls, contract: LoadedContract) -> ContractRuntime:
        # load_contract validated this very document (or knew it valid): openapi-core need not again
        index, validator = OperationIndex(contract.resolved), ContractValidator(contract.resolved, spec_checked=True)
        return cls(contract, index, validator, examples.find_broken(index, validator))

    def report_broken_examples(self) -> None:
        examples.report(self.broken_examples)


@dataclass(frozen=True, slots=True)
class Moment:
    """What one request reads of the shared state as it arrives, read once for the whole request:
    the control settings, the contract, the day, and what follows from them (the fault settings,
    the server's scenario). The replay key and the pipeline read the same moment, so a reply is
    never kept under a generation or a day it was not built with; the parts that follow are
    worked out once per change, not once per request."""

    snapshot: ControlSnapshot
    runtime: ContractRuntime
    contract_generation: int
    today: date
    faults: FaultSettings | None  # None: no fault is on
    scenario: str  # the server's scenario (a token's own, or a request's, may override it)


@dataclass
class MockState:
    """Everything the pipeline needs, built once per app."""

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
    contract_generation: int = 0  # one more on every reload: a key part for replayed replies
    _moment: Moment | None = field(default=None, repr=False)  # the last moment read, while nothing changes

    @classmethod
    def build(cls, settings: MockSettings) -> MockState:
        if settings.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {settings.scenario!r}")
        load = functools.partial(load_contract, verdicts=settings.verdict_cache())
        contract = load(settings.spec)
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
                                           store.claim_contract_event, store.contract_reloads, load=load)
        mock.runtime.report_broken_examples()  # once, before the workers are forked
        return mock

    def swap_contract(self, contract: LoadedContract, report: bool) -> None:
        """Serve ``contract`` from now on; ``report``: this worker is the one to log its problems."""
        self.runtime = ContractRuntime.build(contract)
        self.contract_generation += 1
        if report:
            self.runtime.report_broken_examples()

    @property
    def index(self) -> OperationIndex:
        return self.runtime.index

    def moment(self) -> Moment:
        """The shared state as a request arriving now reads it: the contract watcher polled, the
        control settings' generation and the day read; the rest reused while none of them changed."""
        if self.watcher is not None:
            self.watcher.poll()  # a reload swaps the runtime and bumps the contract's generation
        snapshot, today, last = self.store.snapshot(), self.settings.clock(), self._moment
        if (last is not None and last.snapshot is snapshot and last.today == today and last.runtime is self.runtime
                and last.contract_generation == self.contract_generation):
            return last
        faults = self.fault_settings(snapshot)
        moment = self._moment = Moment(snapshot, self.runtime, self.contract_generation, today,
                                       faults if faults.active else None, self.server_scenario(snapshot))
        return moment

    def server_scenario(self, snapshot: ControlSnapshot) -> str:
        return snapshot.scenario or self.settings.scenario

    def fault_settings(self, snapshot: ControlSnapshot) -> FaultSettings:
        if snapshot.faults is None:
            return self.settings.faults
        return _faults_from_json(snapshot.faults)


@functools.lru_cache(maxsize=64)  # thread-safe; a handful of distinct fault settings per run
def _faults_cached(items: tuple[tuple[str, Any], ...]) -> FaultSettings:
    return FaultSettings().updated(dict(items))


def _faults_from_json(data: Mapping[str, Any]) -> FaultSettings:
    return _faults_cached(tuple(sorted(data.items())))


def state() -> MockState:
    """The mock of the app serving the current request."""
    mock_state: MockState = current_app.extensions[EXTENSION]
    return mock_state

"""What a user chooses when starting the mock (the CLI's options, as one value)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from crosmos_contract.verdicts import VerdictCache
from mockserver.model.faults import FaultSettings
from mockserver.model.scenarios import DEFAULT

CONTROL_PREFIX = "/__mock"


def utc_today() -> date:
    """Today in UTC, computed once a day: POSIX time has 86,400 s a day, so the day number is exact.

    The replay key reads the day on every request (a microsecond saved per request)."""
    day = int(time.time()) // 86_400
    if day != _today[0]:
        _today[:] = [day, EPOCH + timedelta(days=day)]
    return _today[1]  # type: ignore[return-value]


EPOCH = date(1970, 1, 1)
_today: list[object] = [-1, EPOCH]


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
    replay: bool = True  # answer a request identical to an earlier one from memory (mockserver.serving.replay)
    # where valid verdicts on the contract are kept between starts (crosmos_contract.verdicts); None:
    # validate at every load. The CLI passes the user cache directory unless --no-contract-cache.
    contract_cache: Path | None = None

    def verdict_cache(self) -> VerdictCache | None:
        return VerdictCache(self.contract_cache) if self.contract_cache is not None else None

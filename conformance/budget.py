"""The run's time budget: a hard cap when the user gives one, else derived from what the server allows.

A profile is a count of requests. How long they take depends on where the server lives: 150 ms
away, or paced to 10 req/s, the default caps of a local run would cut every run short. So when
no ``--budget`` is given, the cap is the profile's, or three times what the planned requests need
at the latency measured by the preflight over the workers that send them (they seldom all
overlap), or three times what they need at the pace the server allows, whichever is largest; it
grows when the server's refusals slow the pace. A given ``--budget`` never grows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

LATENCY_FACTOR = 3.0  # the workers overlap about two requests in four at best (one fuzz batch runs alone first)
PACE_FACTOR = 3.0  # a loaded machine sends slower than the pace allows
SLACK_S = 10.0


@dataclass
class RunBudget:
    seconds: float
    fixed: bool  # given by the user: never extended
    started: float = field(default_factory=time.monotonic)
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def spent(self) -> bool:
        return self.clock() >= self.deadline

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def fit(self, planned_requests: int, latency: float, workers: int, pace: float | None) -> None:
        """Grow a derived budget to what ``planned_requests`` need at this latency and pace."""
        if self.fixed:
            return
        need = LATENCY_FACTOR * planned_requests * latency / max(1, workers) + SLACK_S
        if pace:
            need = max(need, PACE_FACTOR * planned_requests / pace + SLACK_S)
        with self._lock:
            self.seconds = max(self.seconds, round(need, 1))

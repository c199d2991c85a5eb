"""Pacing and waiting out rate limits: a server protecting itself is never a finding.

A 429, or a 503 with ``Retry-After``, is the server saying "not now", not its answer to the
request. The transport waits (``Retry-After``, capped; else a back-off) and asks again, a bounded
number of times, and the :class:`Pacer` learns from each refusal how fast to go, so that a server
limited to 10 req/s refuses only a few of the suite's requests. With ``--rate-limit`` the pace is
fixed instead. Everything here is shared by every thread that sends, under one lock.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRIES = 5  # attempts after the first refusal, per request
MAX_WAIT_S = 60.0  # one Retry-After is honoured up to this long
FIRST_BACKOFF_S = 1.0  # a 429 without Retry-After: 1, 2, 4, 8… seconds
SPEED_UP_AFTER = 20  # answers in a row before the pace is raised again
SPEED_UP = 1.1
MIN_RATE = 0.2  # requests per second: the pace never drops below one request in five seconds

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*$", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """``10/s`` or ``600/m`` as requests per second; ValueError naming the accepted forms."""
    match = _RATE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a rate: give N/s or N/m with N > 0 (e.g. 10/s, 600/m)")
    per = 1.0 if match.group(2).lower().startswith("s") else 60.0
    return float(match.group(1)) / per


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now()).total_seconds())


def is_refusal(status: int, retry_after: str | None) -> bool:
    """A server protecting itself: 429, or 503 that says when to come back."""
    return status == 429 or (status == 503 and parse_retry_after(retry_after) is not None)


@dataclass(frozen=True)
class RateLimitReport:
    """What the run met: for the report, so a user sees how much a rate limit cost."""

    refusals: int = 0  # 429s (and 503s with Retry-After) received
    retries: int = 0  # requests sent again after a refusal
    waited_s: float = 0.0  # seconds spent waiting out refusals (pacing not included)
    unanswered: int = 0  # requests still refused after every retry: their rules were not exercised
    paced_at: float | None = None  # the pace learned or given, requests per second (None: never paced)
    fixed_rate: float | None = None  # --rate-limit, when given
    beyond_budget: float | None = None  # a Retry-After (s) that did not fit in what was left of the budget


class Pacer:
    """Spaces requests out; in automatic mode, learns the pace from the server's refusals.

    A refusal halves the rate requests were actually sent at over the last second and holds
    every sender back for the ``Retry-After``; a run of answers raises the pace by a tenth again.
    """

    def __init__(self, rate: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fixed = rate
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._answers_in_a_row = 0
        self.refusals = self.retries = self.unanswered = 0
        self.waited_s = 0.0
        self.beyond_budget: float | None = None

    def reserve(self) -> float:
        """Take the next slot: the seconds to wait before sending (0 when unpaced)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
            self._sent.append(start)
            while self._sent and self._sent[0] < start - 1.0:
                self._sent.popleft()
            return start - now

    def answered(self) -> None:
        with self._lock:
            self._answers_in_a_row += 1
            if self._fixed is None and self._interval and self._answers_in_a_row >= SPEED_UP_AFTER:
                self._answers_in_a_row = 0
                self._interval /= SPEED_UP

    def refused(self, wait: float) -> None:
        """The server refused; every sender waits ``wait`` seconds, and the pace slows down."""
        with self._lock:
            self.refusals += 1
            self._answers_in_a_row = 0
            now = self._clock()
            self._next = max(self._next, now + wait)
            if self._fixed is None:
                recent = sum(1 for moment in self._sent if moment >= now - 1.0)
                rate = max(MIN_RATE, min(recent, 1.0 / self._interval if self._interval else recent) / 2)
                self._interval = max(self._interval, 1.0 / rate)

    def record_wait(self, seconds: float, *, retried: bool) -> None:
        with self._lock:
            self.waited_s += seconds
            self.retries += int(retried)

    def gave_up(self, beyond_budget: float | None = None) -> None:
        with self._lock:
            self.unanswered += 1
            if beyond_budget is not None:
                self.beyond_budget = max(self.beyond_budget or 0.0, beyond_budget)

    @property
    def pace(self) -> float | None:
        """Requests per second the pace allows now (None: unpaced)."""
        interval = self._interval
        return (1.0 / interval) if interval else None

    def report(self) -> RateLimitReport:
        with self._lock:
            pace = self.pace
            return RateLimitReport(self.refusals, self.retries, round(self.waited_s, 3), self.unanswered,
                                   None if pace is None else round(pace, 2), self._fixed, self.beyond_budget)

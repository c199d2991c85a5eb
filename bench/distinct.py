"""Distinct windows for wrk: ``bench/distinct.lua`` and the blocks of window numbers each run gets.

The mock replays a request identical to an earlier one from memory, so a benchmark that repeats
one URL measures that cache, not the pipeline. Under the *distinct* workload every request asks
for a ``start_date``/``end_date`` pair that no earlier request of this process asked for: within
a run (each wrk thread takes its own numbers) and across runs (:class:`Blocks` hands every wrk
run a fresh block, larger than any run can use: ``MAX_RATE`` req/s for its whole duration; the
script stops with an error rather than leave it). Every server a bench process measures was
started by that process, so no server has seen another process's windows either.

Window number ``k`` is ``start = 1900-01-01 + (k mod 73000) days``, ``end = start + k // 73000
days``: injective, ``start <= end``, valid dates up to 9999-12-31 for ``k < CAPACITY`` (about
2.1 × 10^11: 21,000 runs of 10^7 requests). :func:`window` is the mapping in Python, for the
tests (which run the Lua under wrk and compare) and for readers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SCRIPT = Path(__file__).resolve().with_name("distinct.lua")
STARTS = 73_000  # start dates: 1900-01-01 .. 2099-11-13 (distinct.lua's STARTS)
FIRST_DAY = date(1900, 1, 1)
EPOCH = (FIRST_DAY - date(1970, 1, 1)).days  # -25567 (distinct.lua's EPOCH)
LAST_DAY = date(9999, 12, 31)
CAPACITY = STARTS * ((LAST_DAY - FIRST_DAY).days - (STARTS - 1) + 1)
"""Window numbers below this map to valid dates: the latest start plus the longest length is 9999-12-31."""
BLOCK = 10**7  # the least block a run gets: 20k req/s for 500 s
MAX_RATE = 100_000.0  # req/s no loopback server here comes near (2 cores): a run's block covers this rate


def window(k: int) -> tuple[date, date]:
    """Window number ``k`` as (start, end): what ``distinct.lua`` requests for it."""
    if not 0 <= k < CAPACITY:
        raise ValueError(f"window number {k} outside 0..{CAPACITY - 1}")
    start = FIRST_DAY + timedelta(days=k % STARTS)
    return start, start + timedelta(days=k // STARTS)


def number(start: date, end: date) -> int:
    """The window number of (start, end): the inverse of :func:`window`."""
    offset, length = (start - FIRST_DAY).days, (end - start).days
    if not 0 <= offset < STARTS or length < 0:
        raise ValueError(f"{start}..{end} is not a window of distinct.lua")
    return length * STARTS + offset


def query(k: int) -> str:
    start, end = window(k)
    return f"start_date={start.isoformat()}&end_date={end.isoformat()}"


@dataclass(frozen=True)
class Block:
    """One wrk run's window numbers: ``[base, base + span)``, shared by ``threads`` wrk threads."""

    base: int
    span: int
    threads: int

    def script_args(self) -> list[str]:
        """What follows ``--`` on wrk's command line."""
        return [str(self.base), str(self.span), str(self.threads)]

    def numbers(self, thread: int, requests: int) -> list[int]:
        """The first ``requests`` numbers wrk thread ``thread`` asks for (as distinct.lua does)."""
        return [self.base + thread + i * self.threads for i in range(requests)]


def span_for(duration_s: float) -> int:
    """A block no run of ``duration_s`` can use up: ``MAX_RATE`` for the whole run, whole ``BLOCK``\\s, one at least."""
    return BLOCK * max(1, math.ceil(max(duration_s, 1.0) * MAX_RATE / BLOCK))


class Blocks:
    """Hands out disjoint blocks, in increasing order, for the life of the process (thread-safe)."""

    def __init__(self, first: int = 0) -> None:
        self._next = first
        self._lock = threading.Lock()

    def take(self, duration_s: float, threads: int) -> Block:
        span = span_for(duration_s)
        with self._lock:
            base = self._next
            if base + span > CAPACITY:
                raise RuntimeError(f"distinct windows used up: {base} + {span} > {CAPACITY}")
            self._next = base + span
        return Block(base, span, threads)


BLOCKS = Blocks()
"""The process's blocks: every wrk run of bench.run, bench.proxy_cpu... takes from this one."""


def wrk_script(block: Block) -> tuple[Path, Sequence[str]]:
    """The ``-s`` script and its arguments for one run."""
    return SCRIPT, block.script_args()

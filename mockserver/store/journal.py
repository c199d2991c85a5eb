"""The journal of recent API requests: what was asked, what was answered, and what the contract said.

Every worker process writes its own fixed-size ring of entries, a file in the shared state
directory mapped into memory; whichever worker answers ``GET /__mock/journal`` reads every ring
there and merges them by time. So the journal sees every worker's requests, and writing costs a
request a few microseconds with no lock shared between processes (a SQLite table, tried first,
cost a fifth of the mock's throughput under load: writers queue on one lock). An entry is
written before its response leaves, so a client that reads the journal right after a reply finds
that reply in it.

Credentials never enter it: paths are redacted as the access log redacts them, and a caller is
named by its org key (a digest of an API key, or a JWT's org claim), never by its token.
Control-API requests are not journaled: a polling dashboard would push out what it shows.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import mmap
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger("mockserver.journal")  # the name its log lines have always carried
SLOT_BYTES = 2048
_MAGIC = b"CKJRNL01"
_HEADER = struct.Struct("<8sII")  # magic, slot count, slot size
_HEADER_BYTES = 64
_SEQ = struct.Struct("<Q")
_LEN = struct.Struct("<I")
_DATA_AT = _SEQ.size + _LEN.size
_MAX_DATA = SLOT_BYTES - _DATA_AT - _SEQ.size


class Entry(NamedTuple):
    """One journal entry; stored with :mod:`marshal` (a quarter of what JSON costs on the hot path).

    The rings are written and read by the same interpreter, in a directory only this server uses.
    """

    at: float  # Unix time; ISO 8601 UTC when read
    method: str
    path: str  # with the query string, credentials redacted
    status: int
    ms: float
    mode: str  # "mock" or "proxy"
    worker: int  # the process that answered
    org: str | None = None  # org key (never a token)
    scenario: str | None = None
    request: str = "unchecked"  # valid | invalid | unauthenticated | not-in-contract | unchecked
    response: str = "unchecked"  # valid | violations | fault | mock-error | unchecked
    problems: tuple[str, ...] = ()  # request errors and response violations
    fault: str | None = None  # latency | error-rate | rate-limit, when one was injected


class _Ring:
    """This process's ring: slot = [seq][length][entry …][seq]; seq 0 marks a slot being written."""

    def __init__(self, path: Path, slots: int) -> None:
        self.slots = slots
        with open(path, "w+b") as handle:
            handle.truncate(_HEADER_BYTES + slots * SLOT_BYTES)
            self.memory = mmap.mmap(handle.fileno(), 0)
        _HEADER.pack_into(self.memory, 0, _MAGIC, slots, SLOT_BYTES)
        self.next = 0

    def write(self, data: bytes) -> None:
        memory, offset = self.memory, _HEADER_BYTES + (self.next % self.slots) * SLOT_BYTES
        tail = offset + SLOT_BYTES - _SEQ.size
        _SEQ.pack_into(memory, offset, 0)
        _SEQ.pack_into(memory, tail, 0)
        _LEN.pack_into(memory, offset + _SEQ.size, len(data))
        memory[offset + _DATA_AT:offset + _DATA_AT + len(data)] = data
        self.next += 1
        _SEQ.pack_into(memory, tail, self.next)
        _SEQ.pack_into(memory, offset, self.next)


class Journal:
    def __init__(self, directory: Path, size: int = 200, cleared_at: Callable[[], float] = lambda: 0.0) -> None:
        self.directory = directory
        self.size = size
        self.enabled = size > 0  # read by every request: a plain value
        self._cleared_at = cleared_at
        self._lock = threading.Lock()
        self._ring: _Ring | None = None
        self._ring_pid = 0

    def record(self, entry: Entry) -> None:
        if self.size <= 0:
            return
        data = marshal.dumps(tuple(entry))
        if len(data) > _MAX_DATA:
            data = _shrunk(entry)
        with self._lock:
            ring = self._ring
            if ring is None or self._ring_pid != entry.worker:  # first entry, or a forked worker's first
                ring = self._ring = _Ring(self.directory / f"journal-{entry.worker}.ring", self.size)
                self._ring_pid = entry.worker
            ring.write(data)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of every worker (never more than ``size``), newest first."""
        limit = max(0, min(limit, self.size))
        cleared = self._cleared_at()
        found: list[tuple[float, int, int, list[Any]]] = []
        for path in self.directory.glob("journal-*.ring"):
            found.extend(entry for entry in _read_ring(path) if entry[0] > cleared)
        found.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
        return [_as_json(pid, seq, row) for _, pid, seq, row in found[:limit]]


def _shrunk(entry: Entry) -> bytes:
    """An entry too long for a slot: fewer and shorter problems, then a shorter path."""
    problems = tuple(problem[:300] for problem in entry.problems[:3])
    smaller = entry._replace(problems=(*problems, f"… {len(entry.problems)} in all"), path=entry.path[:512])
    data = marshal.dumps(tuple(smaller))
    if len(data) > _MAX_DATA:
        data = marshal.dumps(tuple(smaller._replace(problems=(f"{len(entry.problems)} problems",))))
    return data


def _read_ring(path: Path) -> list[tuple[float, int, int, list[Any]]]:
    """Every complete entry of one ring file (a slot caught mid-write is skipped)."""
    try:
        pid = int(path.stem.partition("-")[2])
        blob = path.read_bytes()
    except (OSError, ValueError):
        return []
    if len(blob) < _HEADER_BYTES or blob[:8] != _MAGIC:
        return []
    _, slots, slot_bytes = _HEADER.unpack_from(blob, 0)
    entries = []
    for index in range(slots):
        offset = _HEADER_BYTES + index * slot_bytes
        if offset + slot_bytes > len(blob):
            break
        (head,) = _SEQ.unpack_from(blob, offset)
        (tail,) = _SEQ.unpack_from(blob, offset + slot_bytes - _SEQ.size)
        if head == 0 or head != tail:
            continue
        (length,) = _LEN.unpack_from(blob, offset + _SEQ.size)
        with contextlib.suppress(ValueError, EOFError, TypeError):
            row = marshal.loads(blob[offset + _DATA_AT:offset + _DATA_AT + length])
            if isinstance(row, tuple) and len(row) == len(Entry._fields) and isinstance(row[0], (int, float)):
                entries.append((float(row[0]), pid, head, list(row)))
    return entries


def _as_json(pid: int, seq: int, row: list[Any]) -> dict[str, Any]:
    entry = dict(zip(Entry._fields, row, strict=False))
    entry["problems"] = list(entry["problems"])
    entry["at"] = datetime.fromtimestamp(entry["at"], UTC).isoformat(timespec="milliseconds")
    return {"id": f"{pid}-{seq}", **entry}


def summarize_errors(details: Sequence[Mapping[str, Any]]) -> list[str]:
    """FastAPI-shaped 422 details as one line each: ``query.start_date: Input should be …``."""
    return [f"{'.'.join(str(part) for part in detail.get('loc', []))}: {detail.get('msg', '')}" for detail in details]

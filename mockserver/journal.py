"""The journal of recent API requests: what was asked, what was answered, and what the contract said.

Bounded (the newest ``size`` entries), shared by every worker (it lives in the
:class:`~mockserver.shared.SharedStore`), and written after each API request but before its
response leaves, so a client that reads the journal right after a reply finds that reply in it.
Credentials never enter it: paths are redacted as the access log redacts them, and a caller is
named by its org key (a digest of an API key, or a JWT's org claim), never by its token.
Control-API requests are not journaled: a polling dashboard would push out what it shows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mockserver.shared import SharedStore

log = logging.getLogger(__name__)
_TRIM_EVERY = 32


@dataclass(frozen=True)
class Entry:
    at: str  # ISO 8601 UTC, milliseconds
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
    problems: Sequence[str] = field(default_factory=tuple)  # request errors and response violations
    fault: str | None = None  # latency | error-rate | rate-limit, when one was injected


class Journal:
    def __init__(self, store: SharedStore, size: int = 200) -> None:
        self._store = store
        self.size = size

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def record(self, entry: Entry) -> None:
        if self.size <= 0:
            return
        data = asdict(entry)
        data["problems"] = list(entry.problems)[:20]
        try:
            cursor = self._store.connection().execute("INSERT INTO journal (entry) VALUES (?)",
                                                      (json.dumps(data, separators=(",", ":")),))
            row = cursor.lastrowid or 0
            if row % _TRIM_EVERY == 0:
                self._store.connection().execute("DELETE FROM journal WHERE id <= ?", (row - self.size,))
        except sqlite3.Error as exc:  # the journal must never cost a client its reply
            log.warning("journal entry dropped: %s", exc)

    def recent(self, limit: int = 50, after: int = 0) -> list[dict[str, Any]]:
        """Newest first, at most ``limit`` (and never more than the journal keeps), ids above ``after``."""
        limit = max(0, min(limit, self.size))
        rows = self._store.connection().execute(
            "SELECT id, entry FROM journal WHERE id > ? ORDER BY id DESC LIMIT ?", (after, limit))
        return [{"id": row_id, **json.loads(text)} for row_id, text in rows]

    def clear(self) -> None:
        self._store.connection().execute("DELETE FROM journal")


def summarize_errors(details: Sequence[Mapping[str, Any]]) -> list[str]:
    """FastAPI-shaped 422 details as one line each: ``query.start_date: Input should be …``."""
    return [f"{'.'.join(str(part) for part in detail.get('loc', []))}: {detail.get('msg', '')}" for detail in details]

"""State every worker process sees the same: one small SQLite file and a shared generation counter.

The production server runs several worker processes. Anything a client can change (a token's
scenario, fault settings, live usage, rate-limit windows) or read back (the request journal)
would diverge between workers if it lived in one process's memory, and a test that sets a
scenario and then reads it back would pass or fail depending on which worker answered. So that
state lives in a SQLite database (WAL mode, one connection per thread and process) in a private
directory the CLI creates before any worker starts.

The hot path must stay cheap: control settings are read through :class:`ControlSnapshot`, cached
in each process and re-read only when an 8-byte generation counter (a shared ``mmap`` of a file
in the same directory) changes: a read is a memory load, not a query. Writers bump the counter under an
``flock`` after committing, so a reader never caches a snapshot older than the counter it saw.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import mmap
import os
import shutil
import sqlite3
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("mockserver.shared")  # the name its log lines have always carried
_COUNTER = struct.Struct("<Q")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS token_scenarios (org TEXT PRIMARY KEY, hint TEXT NOT NULL, scenario TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_usage (org TEXT NOT NULL, day INTEGER NOT NULL, metric TEXT NOT NULL,
                                       amount INTEGER NOT NULL, PRIMARY KEY (org, day, metric));
CREATE TABLE IF NOT EXISTS rate_hits (org TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS rate_hits_by_org ON rate_hits (org, at);
CREATE TABLE IF NOT EXISTS contract_events (event TEXT PRIMARY KEY, reload INTEGER NOT NULL);
"""
MAX_TOKEN_SCENARIOS = 1000  # tokens are user input: bound what they can make us store


@dataclass(frozen=True)
class ControlSnapshot:
    """The control settings at one generation; immutable, so threads share it without locks."""

    generation: int = -1
    scenario: str | None = None  # server-wide override set through the control API
    faults: Mapping[str, Any] | None = None  # fault settings set through the control API
    token_scenarios: Mapping[str, str] = field(default_factory=dict)  # org key -> scenario
    journal_cleared_at: float = 0.0  # journal entries up to this Unix time are no longer shown


class SharedStore:
    """The directory, database and counter shared by every worker of one server."""

    def __init__(self, directory: Path | None = None) -> None:
        owned = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="crosmos-mock-")) if directory is None else directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.database = self.directory / "state.sqlite3"
        self._local = threading.local()
        self._lock_path = self.directory / "control.lock"
        counter_path = self.directory / "generation"
        with open(counter_path, "ab") as handle:
            if handle.tell() < _COUNTER.size:
                handle.write(b"\0" * (_COUNTER.size - handle.tell()))
        with open(counter_path, "r+b") as handle:
            self._counter = mmap.mmap(handle.fileno(), _COUNTER.size)
        self._snapshot = ControlSnapshot()
        self._snapshot_lock = threading.Lock()
        self.connection().executescript(_SCHEMA)
        self._forget_connection()  # a forked worker must open its own
        self._finalizer = weakref.finalize(self, _remove, self.directory if owned else None, self._counter,
                                           os.getpid())

    # --- connections ---------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (connections never cross a fork or a thread)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.database, timeout=5.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # scratch state of a mock: speed over durability
            local.db, local.pid = db, os.getpid()
        connection: sqlite3.Connection = local.db
        return connection

    def _forget_connection(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
        self._local.__dict__.clear()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: one writer at a time across every process."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- control settings ----------------------------------------------------------------

    def generation(self) -> int:
        value: int = _COUNTER.unpack_from(self._counter, 0)[0]
        return value

    def snapshot(self) -> ControlSnapshot:
        """The current control settings; re-read from the database only after a change."""
        current = self._snapshot
        generation = _COUNTER.unpack_from(self._counter, 0)[0]
        if generation == current.generation:
            return current
        with self._snapshot_lock:
            if self._snapshot.generation != generation:
                self._snapshot = self._read_snapshot(generation)
            return self._snapshot

    def _read_snapshot(self, generation: int) -> ControlSnapshot:
        db = self.connection()
        settings = {name: json.loads(value) for name, value in db.execute("SELECT name, value FROM settings")}
        tokens = {org: scenario for org, scenario in db.execute("SELECT org, scenario FROM token_scenarios")}
        return ControlSnapshot(generation, settings.get("scenario"), settings.get("faults"), tokens,
                               float(settings.get("journal_cleared_at", 0.0)))

    @contextlib.contextmanager
    def changing_control(self) -> Iterator[sqlite3.Connection]:
        """A transaction on the control settings, then a new generation every worker notices."""
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with self.transaction() as db:
                    yield db
                _COUNTER.pack_into(self._counter, 0, self.generation() + 1)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def set_setting(self, name: str, value: Any) -> None:
        with self.changing_control() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE name = ?", (name,))
            else:
                db.execute("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                           "SET value = excluded.value", (name, json.dumps(value)))

    def set_token_scenario(self, org: str, hint: str, scenario: str | None) -> bool:
        """Set (or clear, with None) an org's scenario; False when the table is full."""
        with self.changing_control() as db:
            if scenario is None:
                db.execute("DELETE FROM token_scenarios WHERE org = ?", (org,))
                return True
            (count,) = db.execute("SELECT COUNT(*) FROM token_scenarios WHERE org != ?", (org,)).fetchone()
            if count >= MAX_TOKEN_SCENARIOS:
                return False
            db.execute("INSERT INTO token_scenarios (org, hint, scenario) VALUES (?, ?, ?) ON CONFLICT (org) "
                       "DO UPDATE SET hint = excluded.hint, scenario = excluded.scenario", (org, hint, scenario))
            return True

    def claim_contract_event(self, event: str, reload: bool) -> bool:
        """True for the one worker that first notices ``event`` (a change or a failure of the
        contract file): it logs it, and a reload is counted once for the whole server."""
        with self.transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO contract_events (event, reload) VALUES (?, ?)",
                                (event, int(reload)))
            return cursor.rowcount == 1

    def contract_reloads(self) -> int:
        (count,) = self.connection().execute("SELECT COUNT(*) FROM contract_events WHERE reload = 1").fetchone()
        return int(count)

    def token_scenarios(self) -> list[dict[str, str]]:
        rows = self.connection().execute("SELECT org, hint, scenario FROM token_scenarios ORDER BY hint")
        return [{"org": org, "token": hint, "scenario": scenario} for org, hint, scenario in rows]

    def reset(self) -> None:
        """Forget everything clients changed: back to the state the server started with, journal emptied."""
        with self.changing_control() as db:
            for table in ("settings", "token_scenarios", "live_usage", "rate_hits"):
                db.execute(f"DELETE FROM {table}")
            db.execute("INSERT INTO settings (name, value) VALUES ('journal_cleared_at', ?)",
                       (json.dumps(time.time()),))

    def close(self) -> None:
        self._forget_connection()
        self._finalizer()


def _remove(directory: Path | None, counter: mmap.mmap, creator: int) -> None:
    """Only the process that made the directory removes it: a worker exiting must not."""
    with contextlib.suppress(BufferError, ValueError):
        counter.close()
    if directory is not None and os.getpid() == creator and directory.exists():
        shutil.rmtree(directory, ignore_errors=True)

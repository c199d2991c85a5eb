"""Pick up edits of the contract file without a restart.

Each worker process watches the file itself: a timer thread (started in the worker, after the
fork) and any request that arrives ``stat`` it at most every ``interval`` seconds; when its size
or mtime changed and its content differs, it is loaded again and handed to ``on_change``, which
swaps the app's whole contract runtime in one assignment (requests in flight finish on the old
one). A document that no longer loads leaves the previous one in service, shown by
``/__mock/health`` until the file is fixed. Every worker notices an edit, but the shared store
lets only the first log it and count it: one line per change, one reload counter per server.
Between checks a request pays one ``time.monotonic()`` call.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crosmos_contract import ContractError, LoadedContract, load_contract

log = logging.getLogger("mockserver.reload")  # the name its log lines have always carried


def _every_event_is_new(event: str, reload: bool) -> bool:
    return True


class ContractWatcher:
    def __init__(self, contract: LoadedContract, on_change: Callable[[LoadedContract, bool], None],
                 interval: float = 0.5, claim: Callable[[str, bool], bool] = _every_event_is_new,
                 count_reloads: Callable[[], int] | None = None,
                 load: Callable[[Path], LoadedContract] = load_contract) -> None:
        self.path = contract.path
        self._load = load  # load_contract, with the mock's verdict cache
        self.sha256 = contract.sha256
        self.interval = interval
        self.error: str | None = None
        self._own_reloads = 0
        self._count_reloads = count_reloads
        self.loaded_at = _now()
        self._on_change = on_change
        self._claim = claim
        self._timer: threading.Thread | None = None
        self._signature = _signature(self.path)
        self._next_check = time.monotonic() + interval
        self._lock = threading.Lock()

    def poll(self) -> None:
        """Reload when the file changed (checked at most once per interval)."""
        if time.monotonic() < self._next_check:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread of this worker is checking; serve with the current contract
        try:
            self._next_check = time.monotonic() + self.interval
            self._check(force=False)
        finally:
            self._lock.release()

    @property
    def reloads(self) -> int:
        """Reloads of the server (every worker's, counted once each), or of this watcher alone."""
        return self._count_reloads() if self._count_reloads is not None else self._own_reloads

    def start_timer(self) -> None:
        """Poll on a timer too, so an edit is noticed without a request (call it in each worker)."""
        if self._timer is not None and self._timer.is_alive():
            return

        def tick() -> None:
            while True:
                time.sleep(self.interval)
                try:
                    self.poll()
                except Exception:  # never let the timer die: the next tick tries again
                    log.exception("contract check failed")

        self._timer = threading.Thread(target=tick, name="contract-watcher", daemon=True)
        self._timer.start()

    def force(self) -> None:
        """Check now, whatever the interval (``POST /__mock/reload``)."""
        with self._lock:
            self._check(force=True)

    def _check(self, force: bool) -> None:
        signature = _signature(self.path)
        if signature is None:
            self._fail(f"{self.path}: no such file (still serving the last good version)")
            return
        if signature == self._signature and not force:
            return
        self._signature = signature
        event = f"{signature[0]}:{signature[1]}"
        try:
            contract = self._load(self.path)
            if contract.sha256 == self.sha256 and self.error is None:
                return
            first = self._claim(f"{event}:{contract.sha256}", True)
            self._on_change(contract, first)
        except ContractError as exc:
            self._fail(f"{exc} (still serving the last good version)")
            return
        except Exception as exc:  # a document prance accepts but the mock cannot index or validate with
            self._fail(f"{self.path}: cannot serve this document: {exc} (still serving the last good version)")
            return
        self.sha256 = contract.sha256
        self.error = None
        self._own_reloads += 1
        self.loaded_at = _now()
        if first:
            log.info("contract reloaded from %s (sha256 %s)", self.path, contract.sha256[:12])

    def _fail(self, message: str) -> None:
        if message != self.error and self._claim(f"{_signature(self.path)}:failed:{message}", False):
            log.error("contract reload failed: %s", message)
        self.error = message

    def status(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "loaded_at": self.loaded_at,
                "reloads": self.reloads, "reload_error": self.error, "watching": True}


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

"""Pick up edits of the contract file without a restart.

Each worker process watches the file itself (nothing to coordinate): at most every ``interval``
seconds, the request that happens to arrive ``stat``s it, and when its size or mtime changed and
its content differs, loads it again and hands the new contract to ``on_change``, which swaps the
app's whole contract runtime in one assignment (requests in flight finish on the old one). A
document that no longer loads leaves the previous one in service; the error is logged once and
shown by ``/__mock/health`` until the file is fixed. Between checks a request pays one
``time.monotonic()`` call.
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

from contract import ContractError, LoadedContract, load_contract

log = logging.getLogger(__name__)


class ContractWatcher:
    def __init__(self, contract: LoadedContract, on_change: Callable[[LoadedContract], None],
                 interval: float = 0.5) -> None:
        self.path = contract.path
        self.sha256 = contract.sha256
        self.interval = interval
        self.error: str | None = None
        self.reloads = 0
        self.loaded_at = _now()
        self._on_change = on_change
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
        try:
            contract = load_contract(self.path)
            if contract.sha256 == self.sha256 and self.error is None:
                return
            self._on_change(contract)
        except ContractError as exc:
            self._fail(f"{exc} (still serving the last good version)")
            return
        except Exception as exc:  # a document prance accepts but the mock cannot index or validate with
            self._fail(f"{self.path}: cannot serve this document: {exc} (still serving the last good version)")
            return
        self.sha256 = contract.sha256
        self.error = None
        self.reloads += 1
        self.loaded_at = _now()
        log.info("contract reloaded from %s (sha256 %s)", self.path, contract.sha256[:12])

    def _fail(self, message: str) -> None:
        if message != self.error:
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

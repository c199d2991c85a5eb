"""The access log's line, written the same way by the full pipeline and by a replayed reply."""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("mockserver.access")
worker_pid = os.getpid


def access_line(remote_addr: str | None, method: str, target: str, status: int, started: float, why: str = "") -> None:
    """One line per request (``started``: ``perf_counter()`` at arrival; ``why``: a refusal's reason)."""
    if log.isEnabledFor(logging.INFO):
        log.info("%s %s %s %d %.1fms%s", remote_addr, method, target, status,
                 (time.perf_counter() - started) * 1000, why)

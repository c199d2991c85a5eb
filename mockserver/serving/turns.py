"""A worker's requests take turns on the CPU; one that must wait gives its turn away.

Kept apart from the server that installs it (:mod:`mockserver.serving.server`) so the request pipeline
can give way without importing the server.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from mockserver.context import GIVE_WAY

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]




class Turns:
    """A lock that a thread may take out of turn only while nobody has waited ``patience`` seconds.

    Strict arrival order costs a thread wake-up per request (a context switch; docs/performance.md
    has the figures); no order at all lets one request wait behind many. So the thread that just
    finished a request may take the next turn at once (it is running already), but a waiter
    older than ``patience`` is handed the turn on release, and a waiter that times out takes a
    free turn itself: nobody waits much longer than ``patience``.
    """

    def __init__(self, patience: float = 0.002) -> None:
        self.patience = patience
        self._mutex = threading.Lock()
        self._busy = False
        self._waiting: collections.deque[tuple[threading.Lock, float]] = collections.deque()

    @property
    def waiting(self) -> int:
        """How many threads are queued for a turn (for health figures and tests)."""
        with self._mutex:
            return len(self._waiting)

    def acquire(self) -> None:
        with self._mutex:
            if not self._busy:
                self._busy = True
                return
            gate = threading.Lock()
            gate.acquire()
            entry = (gate, time.monotonic())
            self._waiting.append(entry)
        while not gate.acquire(timeout=self.patience):
            with self._mutex:
                if not self._busy:  # released to nobody while we slept: take it
                    self._busy = True
                    self._waiting.remove(entry)
                    return
        # handed over: the holder removed us from the queue and left the turn busy

    def release(self) -> None:
        with self._mutex:
            if self._waiting and time.monotonic() - self._waiting[0][1] >= self.patience:
                self._waiting.popleft()[0].release()  # still busy: the turn is the waiter's now
            else:
                self._busy = False


def in_turn(app: WSGIApp) -> WSGIApp:
    """A worker's requests take turns on the CPU, none waiting long; one that must wait gives way.

    The worker's threads exist so that a request that sleeps (``Prefer: delay``, the latency
    fault) or waits on an upstream (proxy mode) does not hold up the others. Running Python, they
    can only take turns anyway (the GIL); left to fight for it, the GIL's hand-over is unfair and
    a request can wait behind many others (p99 figures with and without turns: docs/performance.md,
    "Turns"). A request calls ``environ[GIVE_WAY]()`` before it sleeps or waits.
    """
    turn = Turns()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        held = True

        def give_way() -> None:
            nonlocal held
            if held:
                held = False
                turn.release()

        turn.acquire()
        environ[GIVE_WAY] = give_way
        try:
            return app(environ, start_response)
        finally:
            give_way()

    return wsgi

"""Every cache the mock keeps, declared in one place: bounded, and safe under threads.

Requests in one worker usually take turns (:mod:`mockserver.serving.turns`), but a request that waits
(a ``Prefer: delay``, a latency fault, a proxied call to the upstream) gives its turn away and
other threads run meanwhile, so storing takes a lock (adding and evicting are two steps); a
lookup is one atomic dict read. What each cache holds and why its
key is complete is said where it is created:

- ``ContractValidator`` request verdicts and openapi-core's findings on bodies
  (``mockserver.contract.validation``), and ``CompiledContract``'s validators, compiled once per operation
  and media type on first use (``mockserver.contract.compiled``: a dict under a lock, bounded by the
  document's size, not by traffic); all three are rebuilt with the contract on reload;
- ``ContractRuntime.responses``: usage bodies already built and self-checked, and
  ``ContractRuntime.static_bodies``: the first valid body of every other operation
  (``mockserver.state``), both dropped whole with the contract on reload;
- ``UsageLedger`` org profiles (``mockserver.model.ledger``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A mapping of at most ``size`` entries; the oldest entry goes first when a new one needs room.

    A lookup is the dict's own ``get``: one C call, atomic under the GIL, no lock and no Python
    frame, which matters on a path that looks up three caches a request. So a hit does not refresh
    an entry's age (a least-recently-used order would take a lock and a ``move_to_end`` on every
    hit); every cache here holds a pure function of its key, so an entry evicted while still in use
    is built once more, never wrong. Storing takes the lock: adding and evicting are two steps.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self._size = size
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()
        self.get: Callable[[K], V | None] = self._data.get

    def put(self, key: K, value: V) -> None:
        with self._lock:
            data = self._data
            data[key] = value
            while len(data) > self._size:
                del data[next(iter(data))]  # the oldest: dicts keep insertion order

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        """The cached value, else ``build()``'s, stored. ``build`` runs outside the lock (it may be
        slow, and two threads building the same value at once is harmless: both are valid)."""
        value = self._data.get(key)
        if value is None:
            value = build()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

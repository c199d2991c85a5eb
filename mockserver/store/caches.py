"""Every cache the mock keeps, declared in one place: bounded, and safe under threads.

Requests in one worker usually take turns (:mod:`mockserver.serving.turns`), but a request that waits
(a ``Prefer: delay``, a latency fault, a proxied call to the upstream) gives its turn away and
other threads run meanwhile, so every cache here takes a lock: an ``OrderedDict``'s
``get`` + ``move_to_end`` from two threads can raise KeyError. What each cache holds and why its
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
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used mapping of at most ``size`` entries, one lock around each call."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self._size:
                self._data.popitem(last=False)

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        """The cached value, else ``build()``'s, stored. ``build`` runs outside the lock (it may be
        slow, and two threads building the same value at once is harmless: both are valid)."""
        value = self.get(key)
        if value is None:
            value = build()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

"""What a probe is, and what it may ask of the session it runs in.

A probe is a named function over a :class:`ProbeSession`; the session sends, judges each response
and records what the probe concludes across responses. Probes see only this protocol, so the
engine's session (:mod:`conformance.probe_session`) and the dry run (:mod:`.dry_session`) can run
the same probes, and a probe never reaches the network or the result itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from crosmos_contract.exchange import Exchange
from crosmos_contract.rules import Violation

Params = Sequence[tuple[str, str]]
KEEP_TOKEN: Any = object()  # the default credential: the user's token


class ProbeSession(Protocol):
    """What a probe may do: send a GET, read a usage body, and report cross-response findings."""

    @property
    def today(self) -> date: ...

    @property
    def token(self) -> str: ...

    @property
    def seed(self) -> int: ...

    def get(self, name: str, params: Params = (), *, authorization: Any = KEEP_TOKEN,
            method: str = "GET") -> Exchange: ...

    def usage_body(self, exchange: Exchange) -> Mapping[str, Any] | None: ...

    def todays(self, exchange: Exchange) -> tuple[date, ...]: ...

    def conclude(self, check_id: str, violations: Sequence[Violation], *exchanges: Exchange) -> None: ...

    def all_usage_bodies(self) -> list[tuple[Exchange, Mapping[str, Any]]]: ...

    def evidence(self, check_id: str, text: str) -> None: ...


@dataclass(frozen=True)
class Probe:
    name: str
    covers: tuple[str, ...]
    run: Callable[[ProbeSession], None]
    why: str

"""The dry run: the probes against a session that sends nothing.

The engine counts from it the requests the probes will send (for the budget) and the input-space
test reads what they ask, both without a server; every request gets one plausible 200 usage body,
so each probe runs its whole course.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from conformance.probes.protocol import KEEP_TOKEN, Params
from conformance.probes.registry import PROBES
from crosmos_contract.exchange import Exchange, ReceivedResponse, SentRequest
from crosmos_contract.rules import Violation

_DRY_BODY = (b'{"plan":"pro","period_start":"2000-01-01","period_end":"2000-01-01","tokens":{"used":1,"limit":9,'
             b'"remaining":8},"queries":{"used":1,"limit":9,"remaining":8},"spaces":{"used":1,"limit":-1,'
             b'"remaining":-1},"rate_limit_rpm":60,"rate_limit_per_day":600}')


@dataclass
class DryRun:
    """A ProbeSession that sends nothing: every request is recorded and gets a plausible 200 usage
    body. It tells how many requests the probes will send (for the budget) and what they ask
    (for the input-space test), without a server."""

    today: date
    token: str
    seed: int = 0
    asked: list[tuple[str, str, tuple[tuple[str, str], ...], str | None]] = field(default_factory=list)

    def get(self, name: str, params: Params = (), *, authorization: Any = KEEP_TOKEN, method: str = "GET") -> Exchange:
        header = f"Bearer {self.token}" if authorization is KEEP_TOKEN else authorization
        self.asked.append((name, method, tuple(params), header))
        now = datetime.combine(self.today, time(12), tzinfo=UTC)
        reply = ReceivedResponse(200, (("Content-Type", "application/json"),), _DRY_BODY, 0.0)
        return Exchange(SentRequest(method, "http://dry.run/api/v1/usage"), reply, now, now, f"probe:{name}")

    def usage_body(self, exchange: Exchange) -> Mapping[str, Any] | None:
        assert exchange.response is not None
        body: Mapping[str, Any] = exchange.response.json()
        return body

    def todays(self, exchange: Exchange) -> tuple[date, ...]:
        return (self.today,)

    def conclude(self, check_id: str, violations: Sequence[Violation], *exchanges: Exchange) -> None:
        pass

    def all_usage_bodies(self) -> list[tuple[Exchange, Mapping[str, Any]]]:
        return []

    def evidence(self, check_id: str, text: str) -> None:
        pass


def dry_run(today: date, token: str, names: Sequence[str] | None = None, seed: int = 0) -> DryRun:
    """What the probes (those named, else all) ask, without a server."""
    session = DryRun(today, token, seed)
    for probe in PROBES:
        if names is None or probe.name in names:
            probe.run(session)
    return session

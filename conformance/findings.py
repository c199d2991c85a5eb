"""A Finding from a broken rule and the exchange that showed it, with every secret hidden."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.credentials import redact_all
from conformance.result import Finding
from crosmos_contract.catalogue import BY_ID
from crosmos_contract.exchange import Exchange, printable


def hide(text: str, token: str, secrets: Sequence[str] = ()) -> str:
    """The last line of defence before a report: the token and every other secret, redacted
    (values of a few characters are no secret, and would blank out ordinary words)."""
    return printable(redact_all(text, [token, *secrets]))


def finding(check_id: str, received: str, expected: str, exchange: Exchange, token: str,
            secrets: Sequence[str] = (), detail: str = "", response_key: str | None = None) -> Finding:
    spec = BY_ID[check_id]
    return Finding(
        check_id=check_id,
        title=spec.title,
        level=spec.level.value,
        received=hide(received, token, secrets),
        expected=hide(expected or spec.rule, token, secrets),
        request=hide(exchange.request.describe(token), token, secrets),
        curl=hide(exchange.request.curl(token), token, secrets),
        status=exchange.status,
        origin=exchange.origin,
        detail=hide(detail, token, secrets),
        response_key=response_key or f"{exchange.origin}@{exchange.sent_at.isoformat()}#{id(exchange)}",
    )

"""The additive-windows probe: adjacent settled windows add up to the window over both (CONSIST-006).

An off-by-one at a boundary shows only where the boundary days carry usage, so each boundary day
is asked alone first and a pair is compared only when all of them do; the report gets, as
evidence, the pairs compared and those skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from conformance.probes.dates import _DAY, SETTLED, Calendar, Span, _iso, asked_window
from conformance.probes.protocol import ProbeSession
from crosmos_contract.consistency import check_window_additive


def additive_triples(cal: Calendar) -> tuple[tuple[Span, Span], ...]:
    """Adjacent settled windows (left, right) of several sizes at several offsets: 1+1, 2+3, 7+7,
    10+21 days, their shared boundary 3, 17, 30 and 45 days before the settled edge."""
    edge = cal.today - SETTLED
    triples = []
    for (left_days, right_days), back in zip(((1, 1), (2, 3), (7, 7), (10, 21)), (3, 17, 30, 45), strict=True):
        boundary = edge - timedelta(days=back)  # the left window's last day
        left = (boundary - timedelta(days=left_days - 1), boundary)
        right = (boundary + _DAY, boundary + timedelta(days=right_days))
        triples.append((left, right))
    return tuple(triples)


def _used_any(body: Mapping[str, Any] | None) -> bool:
    if body is None:
        return False
    return any(isinstance(body.get(name), dict) and isinstance(body[name].get("used"), int) and body[name]["used"] > 0
               for name in ("tokens", "queries"))


def additive_windows(session: ProbeSession) -> None:
    """CONSIST-006 where an off-by-one cannot hide: each boundary day of each triple (the first and
    last days of both windows) is asked alone first, and a triple is compared only when every one
    of those days carries usage. The report lists the triples compared and those skipped."""
    cal = Calendar(session.today)
    triples = additive_triples(cal)
    days = sorted({d for left, right in triples for d in (left[0], left[1], right[0], right[1])})
    single = {d: session.get(f"additive:day:{d}", [("start_date", _iso(d)), ("end_date", _iso(d))]) for d in days}
    for left, right in triples:
        boundary = (left[0], left[1], right[0], right[1])
        window = f"{left[0]}..{left[1]} + {right[0]}..{right[1]}"
        if not all(_used_any(session.usage_body(single[d])) for d in boundary):
            session.evidence("CONSIST-006", f"skipped {window}: a boundary day carries no usage")
            continue
        whole = (left[0], right[1])
        exchanges = [session.get(f"additive:{a}..{b}", [("start_date", _iso(a)), ("end_date", _iso(b))])
                     for a, b in (left, right, whole)]
        bodies = [session.usage_body(exchange) for exchange in exchanges]
        if any(body is None for body in bodies) or not all(
                right[1] < min(session.todays(exchange)) for exchange in exchanges):
            continue
        session.evidence("CONSIST-006", f"compared {window} = {whole[0]}..{whole[1]}")
        left_body, right_body, whole_body = bodies
        assert left_body is not None and right_body is not None and whole_body is not None
        session.conclude("CONSIST-006", check_window_additive(
            left_body, right_body, whole_body, *(asked_window(exchange) for exchange in exchanges)), *exchanges)

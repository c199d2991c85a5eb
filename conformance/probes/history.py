"""The org-history probe: the window rules across the org's whole history, not only around today.

Bugs live where an org's data begins and at month and year ends, so the probe finds the org's first
day with usage (bisection from the epoch), then asks those days, and days sampled with the run's
seed, alone, beside the next day and as the window over both (CONSIST-003, CONSIST-006).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from conformance.probes.additive import _used_any
from conformance.probes.dates import _DAY, EPOCH, SETTLED, Calendar, _iso, asked_window
from conformance.probes.protocol import ProbeSession
from crosmos_contract.consistency import check_window_additive, check_window_monotonic

HISTORY_SAMPLES = 6  # seeded days across the org's history, each asked alone and beside the next day
HISTORY_STEPS = 24  # bisection steps at most: 2**24 days is longer than the calendar


def _used_in(session: ProbeSession, name: str, start: date, end: date) -> bool | None:
    """Whether the org used anything (tokens or queries) in the window; None when it would not say."""
    body = session.usage_body(session.get(name, [("start_date", _iso(start)), ("end_date", _iso(end))]))
    if body is None:
        return None
    return _used_any(body)


def first_usage_day(session: ProbeSession, edge: date) -> date | None:
    """The org's first day with usage, by bisection over windows from the epoch (no org is older;
    an earlier start is an extreme date a server may refuse): used over ``1970-01-01..x`` is
    non-zero exactly when the first day is ``x`` or before."""
    if not _used_in(session, "history:any-usage", EPOCH, edge):
        return None
    low, high = EPOCH, edge  # usage by high; none before low
    for step in range(HISTORY_STEPS):
        if low >= high:
            break
        middle = low + (high - low) // 2
        seen = _used_in(session, f"history:bisect-{step}", EPOCH, middle)
        if seen is None:
            return None
        low, high = (low, middle) if seen else (middle + _DAY, high)
    return high


def history_days(first: date, edge: date, seed: int, samples: int = HISTORY_SAMPLES) -> tuple[date, ...]:
    """The days of an org's history where bugs live: its first day, the month and year ends after
    it, and days sampled with the run's seed (the same seed, the same days)."""
    days = {first}
    month_end = _next_month_start(first) - _DAY
    if month_end < edge:
        days.add(month_end)
    year_end = date(first.year, 12, 31)
    if year_end < edge:
        days.add(year_end)
    span = (edge - first).days
    if span > 1:
        rng = random.Random(seed)
        days.update(first + timedelta(days=rng.randrange(span)) for _ in range(samples))
    return tuple(sorted(d for d in days if d + _DAY < edge))


def _next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def org_history(session: ProbeSession) -> None:
    """Evidence across the org's history, not only around today: find its first day with usage, then
    ask each day where bugs live alone, beside the next day, and as the window over both — every
    reply meets the per-reply rules (no negative ``used`` on any of them), and each pair CONSIST-003
    (the two-day window holds both) and CONSIST-006 (it is their sum)."""
    edge = Calendar(session.today).today - SETTLED
    first = first_usage_day(session, edge)
    if first is None:
        session.evidence("CONSIST-006", "org history: no usage found before the settled edge")
        return
    session.evidence("CONSIST-006", f"org history: first day with usage {first}")
    for day in history_days(first, edge, session.seed):
        after = day + _DAY
        exchanges = [session.get(f"history:{a}..{b}", [("start_date", _iso(a)), ("end_date", _iso(b))])
                     for a, b in ((day, day), (after, after), (day, after))]
        bodies = [session.usage_body(exchange) for exchange in exchanges]
        left, right, whole = bodies
        if left is None or right is None or whole is None:
            continue
        windows = [asked_window(exchange) for exchange in exchanges]
        for inner, name in ((left, windows[0]), (right, windows[1])):
            session.conclude("CONSIST-003", check_window_monotonic(inner, whole, name, windows[2]),
                             exchanges[0 if inner is left else 1], exchanges[2])
        session.evidence("CONSIST-006", f"compared {windows[0]} + {windows[1]} = {windows[2]} (org history)")
        session.conclude("CONSIST-006", check_window_additive(left, right, whole, *windows), *exchanges)

"""Probes of the windows around today: the default period, inverted, repeated, nested and future windows.

These are the windows a client asks for (this month, last month, windows reaching past today),
and the rules that need several of them: repeats agree (CONSIST-001/002), a window holds no less
than the windows inside it (CONSIST-003), plan and limits do not depend on the window (CONSIST-004),
the default window equals itself named (CONSIST-005), nothing is used yet after today (CONSIST-007).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from conformance.probes.dates import LAST_DAY, Calendar, Span, _iso, asked_window
from conformance.probes.protocol import ProbeSession
from crosmos_contract.consistency import (
    check_explicit_default,
    check_future_window_unused,
    check_stable_between,
    check_window_independent,
    check_window_monotonic,
)
from crosmos_contract.exchange import Exchange


def defaults(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    session.get("defaults:none")
    session.get("defaults:start-only", [("start_date", _iso(cal.previous_start))])
    session.get("defaults:end-only", [("end_date", _iso(cal.today))])
    session.get("defaults:both", [("start_date", _iso(cal.previous_start)), ("end_date", _iso(cal.previous_end))])


def inverted_windows(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    session.get("inverted:given", [("start_date", _iso(cal.previous_end)), ("end_date", _iso(cal.previous_start))])
    # Only end_date, before the 1st of this month: the defaulted start lies after it.
    session.get("inverted:defaulted-start", [("end_date", _iso(cal.previous_end))])
    # Only start_date, after today: the defaulted end lies before it.
    session.get("inverted:defaulted-end", [("start_date", _iso(cal.today + timedelta(days=2)))])


def repeated_requests(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    window = [("start_date", _iso(cal.previous_start)), ("end_date", _iso(cal.previous_end))]
    answers = [session.get(f"repeat:{n}", window) for n in (1, 2, 3)]
    for first, second in itertools.pairwise(answers):
        before, after = session.usage_body(first), session.usage_body(second)
        if before is None or after is None:
            continue
        found = check_stable_between(before, after)
        session.conclude("CONSIST-001", [v for v in found if v.rule_id == "CONSIST-001"], first, second)
        session.conclude("CONSIST-002", [v for v in found if v.rule_id == "CONSIST-002"], first, second)


def nested_windows(session: ProbeSession) -> None:
    """Narrow first, so usage growing between requests cannot hide a shrinking wide window.

    The wide windows reach past any quota (over a year back) and into the future, where a
    server that averages or pro-rates usage instead of summing it reports less than inside.
    """
    cal = Calendar(session.today)
    windows = [
        (cal.previous_start + timedelta(days=7), cal.previous_start + timedelta(days=13)),
        (cal.previous_start, cal.previous_end),
        (cal.previous_start, cal.today + timedelta(days=90)),
        (cal.previous_start - timedelta(days=400), cal.today),
    ]
    answers = [session.get(f"nested:{start}..{end}", [("start_date", _iso(start)), ("end_date", _iso(end))])
               for start, end in windows]
    _nested_pairs_monotonic(session, list(zip(windows, answers, strict=True)))


def _nested_pairs_monotonic(session: ProbeSession, answered: list[tuple[Span, Exchange]]) -> None:
    """CONSIST-003 on every pair where a later window holds an earlier one (``answered`` in the order
    the windows should be compared: an inner window before the windows that may hold it)."""
    for i, (inner_span, inner) in enumerate(answered):
        for outer_span, outer in answered[i + 1:]:
            if not (outer_span[0] <= inner_span[0] and inner_span[1] <= outer_span[1]):
                continue
            inner_body, outer_body = session.usage_body(inner), session.usage_body(outer)
            if inner_body is not None and outer_body is not None:
                session.conclude("CONSIST-003", check_window_monotonic(
                    inner_body, outer_body, asked_window(inner), asked_window(outer)), inner, outer)


def explicit_default_window(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    implicit = session.get("default-window:implicit")
    explicit = session.get("default-window:explicit",
                           [("start_date", _iso(cal.month_start)), ("end_date", _iso(cal.today))])
    if session.todays(implicit) != (cal.today,) or session.todays(explicit) != (cal.today,):
        return  # midnight passed in between: the default window moved, nothing to compare
    implicit_body, explicit_body = session.usage_body(implicit), session.usage_body(explicit)
    if implicit_body is not None and explicit_body is not None:
        session.conclude("CONSIST-005", check_explicit_default(implicit_body, explicit_body), implicit, explicit)


def future_window_spans(cal: Calendar) -> tuple[Span, ...]:
    """Windows that start after today: one day, next month, the next leap day, the rest of time."""
    return ((cal.future, cal.future), cal.next_month, (cal.next_leap_day, cal.next_leap_day),
            (cal.future, LAST_DAY))


def future_windows(session: ProbeSession) -> None:
    """CONSIST-007: nothing has been used yet in a window that starts after today."""
    for start, end in future_window_spans(Calendar(session.today)):
        exchange = session.get(f"future-window:{start}..{end}",
                               [("start_date", _iso(start)), ("end_date", _iso(end))])
        body = session.usage_body(exchange)
        if body is not None and start > max(session.todays(exchange)):
            session.conclude("CONSIST-007", check_future_window_unused(body, asked_window(exchange)), exchange)


def limits_across_windows(session: ProbeSession) -> None:
    """CONSIST-004 over every usage body the probes collected, each against the first."""
    bodies = session.all_usage_bodies()
    if len(bodies) < 2:
        return
    first_exchange, first = bodies[0]
    for exchange, body in bodies[1:]:
        session.conclude("CONSIST-004", check_window_independent(
            first, body, asked_window(first_exchange), asked_window(exchange)), first_exchange, exchange)

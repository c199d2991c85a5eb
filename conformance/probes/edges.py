"""Probes at the calendar's edges: the epoch, leap days, year ends, the first and last days of time.

Each edge date is sent alone as either parameter and judged per response; settled windows around
the edges are nested (CONSIST-003) and split in two (CONSIST-006). Every window ends before today,
so usage cannot grow between the requests and the order they are fetched in is free.
"""

from __future__ import annotations

from datetime import date

from conformance.probes.dates import _DAY, EPOCH, FIRST_DAY, LAST_DAY, Calendar, Span, _iso, asked_window
from conformance.probes.protocol import ProbeSession
from conformance.probes.windows import _nested_pairs_monotonic
from crosmos_contract.consistency import check_window_additive
from crosmos_contract.exchange import Exchange


def edge_date_values(cal: Calendar) -> tuple[tuple[str, date], ...]:
    """The edge dates sent alone as ``start_date`` and as ``end_date`` (0001-01-01 is ``extreme-dates``')."""
    year_end, leap = cal.settled_year_end, cal.settled_leap_day
    return (
        ("far-past-year-end", date(1, 12, 31)),
        ("epoch-eve", EPOCH - _DAY),
        ("epoch", EPOCH),
        ("leap-day", leap),
        ("year-end", year_end),
        ("new-year", year_end + _DAY),
        ("next-leap-day", cal.next_leap_day),
        ("far-future-last", LAST_DAY),
    )


def edge_dates(session: ProbeSession) -> None:
    """Each edge date as the only ``start_date`` (a window to today, or inverted for a future one) and
    as the only ``end_date`` (a window from the 1st, or inverted for a past one). Every reply meets
    the per-response checks: no 5xx, the extreme dates' 200 or 422, latency, schema, metric rules."""
    for label, day in edge_date_values(Calendar(session.today)):
        session.get(f"edge-date:{label}:start", [("start_date", _iso(day))])
        session.get(f"edge-date:{label}:end", [("end_date", _iso(day))])


def edge_window_pairs(cal: Calendar) -> tuple[tuple[tuple[Span, Span], ...], tuple[tuple[Span, Span], ...]]:
    """(nested, adjacent) window pairs around edge dates, every window settled (it ends before today).

    Nested pairs (inner, outer) are 1/2, 8/16 and 30/31 days long, around the epoch, a leap day and
    a year end; adjacent pairs (left, right) split single days, February of a leap year before its
    29th, a December from its January, and all of time at the epoch.
    """
    year_end, leap = cal.settled_year_end, cal.settled_leap_day
    new_year, feb_1 = year_end + _DAY, leap.replace(day=1)
    nested = (
        ((EPOCH, EPOCH), (EPOCH - _DAY, EPOCH)),
        ((leap, leap), (leap - _DAY, leap)),
        ((year_end, year_end), (year_end, new_year)),
        ((leap - 3 * _DAY, leap + 4 * _DAY), (leap - 7 * _DAY, leap + 8 * _DAY)),
        ((year_end - 3 * _DAY, year_end + 4 * _DAY), (year_end - 7 * _DAY, year_end + 8 * _DAY)),
        ((feb_1, leap + _DAY), (feb_1 - _DAY, leap + _DAY)),
        ((year_end - 29 * _DAY, year_end), (year_end - 29 * _DAY, new_year)),
    )
    adjacent = (
        ((year_end, year_end), (new_year, new_year)),
        ((feb_1, leap - _DAY), (leap, leap)),
        ((year_end.replace(day=1), year_end), (new_year, new_year.replace(day=31))),
        ((FIRST_DAY, EPOCH - _DAY), (EPOCH, year_end)),
    )
    return nested, adjacent


def edge_windows(session: ProbeSession) -> None:
    """CONSIST-003 on every pair of these windows where one holds the other (the listed nested pairs
    and more), CONSIST-006 on the adjacent pairs; each window is fetched once, narrow ones first.

    All of them end before today, so usage cannot grow between the requests and the order is free.
    """
    cal = Calendar(session.today)
    nested, adjacent = edge_window_pairs(cal)
    spans = {span for pair in nested for span in pair}
    spans |= {span for left, right in adjacent for span in (left, right, (left[0], right[1]))}
    answers: dict[Span, Exchange] = {}
    for start, end in sorted(spans, key=lambda s: (s[1] - s[0], s[0])):
        answers[(start, end)] = session.get(f"edge-window:{start}..{end}",
                                            [("start_date", _iso(start)), ("end_date", _iso(end))])

    _nested_pairs_monotonic(session, list(answers.items()))
    for left_span, right_span in adjacent:
        exchanges = (answers[left_span], answers[right_span], answers[(left_span[0], right_span[1])])
        if not all(right_span[1] < min(session.todays(exchange)) for exchange in exchanges):
            continue  # a server whose today lags this far behind: these windows are not past for it
        left, right, whole = (session.usage_body(exchange) for exchange in exchanges)
        if left is not None and right is not None and whole is not None:
            session.conclude("CONSIST-006", check_window_additive(
                left, right, whole, *(asked_window(exchange) for exchange in exchanges)), *exchanges)

"""The calendar-rules probes: dates derived from every rule of the proleptic Gregorian calendar.

Month lengths, the leap-year rules, the field bounds and year 0000, each at its boundary and both
ways, derived from the server's today rather than listed, so the set follows the calendar. The
cases are split into three probes so that workers share them.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from datetime import date

from conformance.probes.protocol import ProbeSession

DateCase = tuple[str, str, str]  # (label, value, "valid" | "invalid" | "unclear")


def calendar_cases(today: date) -> tuple[DateCase, ...]:
    """Dates derived from every rule of the proleptic Gregorian calendar, at its boundaries, both ways.

    Month lengths (the last day of each month and the day after it in a common year; Feb 30 in a
    leap year),
    the leap-year rules (divisible by 4; not by 100; but by 400 — a year of each kind, Feb 29 and the
    day either side), the field bounds (day 00, month 00 and 13, 0001-01-01 and 9999-12-31 and one past
    them), year and century turns, and year 0000 (RFC 3339 allows it, Python does not: unclear).
    The years are derived from the server's today, so the set follows the calendar, not a list.
    """
    year = today.year
    leap = next(y for y in range(year, 0, -1) if y % 4 == 0 and y % 100 != 0)  # divisible by 4 only
    common = leap + 1 if leap + 1 <= year else leap - 1  # not divisible by 4
    century_common = next(y for y in range(year, 0, -1) if y % 100 == 0 and y % 400 != 0)  # 1900
    century_leap = next(y for y in range(year, 0, -1) if y % 400 == 0)  # 2000
    next_century_common = next(y for y in range(year + 1, 10000) if y % 100 == 0 and y % 400 != 0)  # 2100
    cases: list[DateCase] = []

    def day(label: str, y: int, m: int, d: int) -> None:
        text = f"{y:04d}-{m:02d}-{d:02d}"
        valid = 1 <= m <= 12 and 1 <= y <= 9999 and 1 <= d <= calendar.monthrange(y, m)[1]
        cases.append((label, text, "valid" if valid else "unclear" if y == 0 else "invalid"))

    for m in range(1, 13):  # a leap year's months differ only in February, asked below
        last = calendar.monthrange(common, m)[1]
        day(f"{common}-month-{m}-last-day", common, m, last)
        day(f"{common}-month-{m}-day-after-last", common, m, last + 1)
    day(f"{leap}-feb-30", leap, 2, 30)
    for label, y in (("not-divisible-by-4", common), ("divisible-by-4", leap), ("century", century_common),
                     ("next-century", next_century_common), ("divisible-by-400", century_leap),
                     ("first-leap-year", 4), ("year-1", 1), ("last-leap-year", 9996)):
        day(f"feb-28:{label}", y, 2, 28)
        day(f"feb-29:{label}", y, 2, 29)
        day(f"mar-1:{label}", y, 3, 1)
    for label, y in (("century-turn", century_leap), ("previous-century-turn", century_common)):
        day(f"{label}:eve", y - 1, 12, 31)
        day(f"{label}:day", y, 1, 1)
    day("day-00", year, 1, 0)
    day("month-00", year, 0, 15)
    day("month-13", year, 13, 1)
    day("first-day", 1, 1, 1)
    day("last-day", 9999, 12, 31)
    day("after-last-day", 9999, 12, 32)
    day("year-0000", 0, 1, 1)
    day("year-0000-leap-day", 0, 2, 29)  # year 0 is a leap year in the proleptic calendar
    unique: dict[str, DateCase] = {}
    for case in cases:
        unique.setdefault(case[1], case)  # a date met by two rules is asked once
    return tuple(unique.values())


def _ask_dates(session: ProbeSession, cases: Sequence[DateCase]) -> None:
    """A valid date as a one-day window (both parameters: 200, echoed — STATUS-001, PERIOD-003); an
    invalid one alone as ``start_date`` and alone as ``end_date`` (422 — STATUS-004, STATUS-005);
    an unclear one the same way (200 or 422, never 5xx)."""
    for label, value, kind in cases:
        if kind == "valid":
            session.get(f"calendar:{label}", [("start_date", value), ("end_date", value)])
        else:
            session.get(f"calendar:{label}:start", [("start_date", value)])
            session.get(f"calendar:{label}:end", [("end_date", value)])


def _calendar_part(part: int, parts: int = 3) -> Callable[[ProbeSession], None]:
    """One of ``parts`` slices of the calendar cases: separate probes, so workers share them."""
    def run(session: ProbeSession) -> None:
        _ask_dates(session, calendar_cases(session.today)[part::parts])
    run.__name__ = f"calendar_rules_{part + 1}"
    return run

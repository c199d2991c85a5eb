"""The dates and windows the probes ask for, all derived from the server's today.

Probes take their dates from :class:`Calendar`, never from this machine's clock, so the windows
follow the server's day. Settled dates lie :data:`SETTLED` back, far enough that usage there is
final in every time zone: windows that end there may be compared in any order.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from crosmos_contract.exchange import Exchange
from crosmos_contract.rules import first_of_month


@dataclass(frozen=True)
class Calendar:
    """The dates the probes use, all relative to the server's today."""

    today: date

    @property
    def month_start(self) -> date:
        return first_of_month(self.today)

    @property
    def previous_end(self) -> date:
        return self.month_start - timedelta(days=1)

    @property
    def previous_start(self) -> date:
        return first_of_month(self.previous_end)

    # Edge dates. The settled ones lie far enough back that every window built around them (at most
    # 31 days past the edge) ends before today, whatever the server's time zone: usage there is final.

    @property
    def settled_year_end(self) -> date:
        """The latest Dec 31 whose following January has ended (as has SETTLED after it)."""
        return date((self.today - SETTLED).year - 1, 12, 31)

    @property
    def settled_leap_day(self) -> date:
        """The latest Feb 29 at least SETTLED before today."""
        return _leap_day_on_or_before(self.today - SETTLED)

    @property
    def next_leap_day(self) -> date:
        """The first Feb 29 after tomorrow (a window starting then lies in the future)."""
        year = self.future.year
        while not (calendar.isleap(year) and date(year, 2, 29) >= self.future):
            year += 1
        return date(year, 2, 29)

    @property
    def future(self) -> date:
        """The day after tomorrow: after today in every time zone the server may be in."""
        return self.today + timedelta(days=2)

    @property
    def next_month(self) -> tuple[date, date]:
        start = (self.month_start + timedelta(days=32)).replace(day=1)
        return start, start.replace(day=calendar.monthrange(start.year, start.month)[1])


SETTLED = timedelta(days=40)
EPOCH = date(1970, 1, 1)
FIRST_DAY, LAST_DAY = date(1, 1, 1), date(9999, 12, 31)
_DAY = timedelta(days=1)


def _leap_day_on_or_before(day: date) -> date:
    year = day.year if day.month > 2 or (day.month == 2 and day.day == 29) else day.year - 1
    while not calendar.isleap(year):  # at most 7 steps back
        year -= 1
    return date(year, 2, 29)


def asked_window(exchange: Exchange) -> str:
    """The window as the request named it (``2026-10-01..2026-10-31``, a missing end "default")."""
    query = dict(exchange.request.query_pairs)
    return f"{query.get('start_date', 'default')}..{query.get('end_date', 'default')}"


def _iso(day: date) -> str:
    return day.isoformat()


Span = tuple[date, date]

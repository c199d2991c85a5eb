"""Targeted probes: the requests generated data does not reach, and the rules that need several.

Generators rarely name the default window explicitly, fetch nested windows in a useful order, or
send a JWT with ``alg: none``. Each probe here asks for exactly that, through a
:class:`ProbeSession` that sends, judges every response with the per-response checks, and
records what the probe concludes across responses (CONSIST-001..005).
"""

from __future__ import annotations

import base64
import calendar
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from crosmos_contract.exchange import Exchange
from crosmos_contract.rules import (
    Violation,
    check_explicit_default,
    check_future_window_unused,
    check_stable_between,
    check_window_additive,
    check_window_independent,
    check_window_monotonic,
    first_of_month,
)

Params = Sequence[tuple[str, str]]
KEEP_TOKEN: Any = object()  # the default credential: the user's token


class ProbeSession(Protocol):
    """What a probe may do: send a GET, read a usage body, and report cross-response findings."""

    @property
    def today(self) -> date: ...

    @property
    def token(self) -> str: ...

    def get(self, name: str, params: Params = (), *, authorization: Any = KEEP_TOKEN) -> Exchange: ...

    def usage_body(self, exchange: Exchange) -> Mapping[str, Any] | None: ...

    def todays(self, exchange: Exchange) -> tuple[date, ...]: ...

    def conclude(self, check_id: str, violations: Sequence[Violation], *exchanges: Exchange) -> None: ...

    def all_usage_bodies(self) -> list[tuple[Exchange, Mapping[str, Any]]]: ...


@dataclass(frozen=True)
class Probe:
    name: str
    covers: tuple[str, ...]
    run: Callable[[ProbeSession], None]
    why: str


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


def _jwt(header: Mapping[str, str], signature: str = "") -> str:
    def part(data: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part({'sub': 'crosmos-conformance-probe', 'org': 'probe'})}.{signature}"


CREDENTIAL_PROBES: tuple[tuple[str, str | None], ...] = (
    ("auth:none", None),
    ("auth:basic-scheme", "Basic " + base64.b64encode(b"crosmos:probe").decode()),
    ("auth:bearer-without-token", "Bearer"),
    ("auth:garbage-token", "Bearer this-is-not-a-token"),
    ("auth:jwt-alg-none", "Bearer " + _jwt({"alg": "none", "typ": "JWT"})),
    ("auth:jwt-empty-signature", "Bearer " + _jwt({"alg": "HS256", "typ": "JWT"})),
)


def real_token_variants(token: str) -> tuple[tuple[str, str], ...]:
    """The user's own token, in the wrong place or nearly right: a server that takes the last word
    of any header, matches keys on a prefix or case-folds them passes every invented credential.
    ``bearer``/``BEARER`` are valid (RFC 9110 §11.1: the scheme is case-insensitive) and must get 200."""
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    variants = [
        ("auth:real-token-basic-scheme", f"Basic {token}"),
        ("auth:real-token-token-scheme", f"Token {token}"),
        ("auth:real-token-without-scheme", token),
        ("auth:real-token-in-basic-user", "Basic " + base64.b64encode(f"{token}:".encode()).decode()),
        ("auth:real-token-last-character-changed", f"Bearer {changed}"),
        ("auth:real-token-character-appended", f"Bearer {token}0"),
        ("auth:real-token-last-character-removed", f"Bearer {token[:-1]}"),
        ("auth:real-token-lower-case-scheme", f"bearer {token}"),
        ("auth:real-token-upper-case-scheme", f"BEARER {token}"),
    ]
    if token.swapcase() != token:
        variants.append(("auth:real-token-case-flipped", f"Bearer {token.swapcase()}"))
    return tuple(variants)


def credentials(session: ProbeSession) -> None:
    for name, authorization in (*CREDENTIAL_PROBES, *real_token_variants(session.token)):
        session.get(name, authorization=authorization)


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
    for i, (inner_window, inner) in enumerate(zip(windows, answers, strict=True)):
        for outer_window, outer in zip(windows[i + 1:], answers[i + 1:], strict=True):
            if not (outer_window[0] <= inner_window[0] and inner_window[1] <= outer_window[1]):
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


BAD_DATES: tuple[tuple[str, str], ...] = (
    ("start_date", "not-a-date"),
    ("start_date", "2026-02-30"),
    ("end_date", "2026-13-01"),
    ("end_date", "not-a-date"),
)


def bad_dates(session: ProbeSession) -> None:
    for name, value in BAD_DATES:
        session.get(f"bad-date:{name}={value}", [(name, value)])


def lax_dates(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    session.get("lax-date:datetime", [("start_date", f"{_iso(cal.previous_start)}T00:00:00")])
    session.get("lax-date:unix-timestamp", [("start_date", "0")])


def unknown_parameter(session: ProbeSession) -> None:
    session.get("unknown-parameter", [("crosmos_unknown_parameter", "1")])


def extreme_dates(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    session.get("extreme:earliest-start", [("start_date", "0001-01-01")])
    session.get("extreme:latest-end", [("start_date", _iso(cal.previous_start)), ("end_date", "9999-12-31")])
    session.get("extreme:both", [("start_date", "0001-01-01"), ("end_date", "9999-12-31")])


LONG_QUERY_PADDING = 6000


def long_query(session: ProbeSession) -> None:
    cal = Calendar(session.today)
    session.get("long-query", [("start_date", _iso(cal.previous_start)), ("end_date", _iso(cal.previous_end)),
                               ("crosmos_padding", "x" * LONG_QUERY_PADDING)])


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


Span = tuple[date, date]


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

    ordered = list(answers.items())
    for i, (inner_span, inner) in enumerate(ordered):
        for outer_span, outer in ordered[i + 1:]:
            if not (outer_span[0] <= inner_span[0] and inner_span[1] <= outer_span[1]):
                continue
            inner_body, outer_body = session.usage_body(inner), session.usage_body(outer)
            if inner_body is not None and outer_body is not None:
                session.conclude("CONSIST-003", check_window_monotonic(
                    inner_body, outer_body, asked_window(inner), asked_window(outer)), inner, outer)
    for left_span, right_span in adjacent:
        exchanges = (answers[left_span], answers[right_span], answers[(left_span[0], right_span[1])])
        if not all(right_span[1] < min(session.todays(exchange)) for exchange in exchanges):
            continue  # a server whose today lags this far behind: these windows are not past for it
        left, right, whole = (session.usage_body(exchange) for exchange in exchanges)
        if left is not None and right is not None and whole is not None:
            session.conclude("CONSIST-006", check_window_additive(
                left, right, whole, *(asked_window(exchange) for exchange in exchanges)), *exchanges)


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


PROBES: tuple[Probe, ...] = (
    Probe("defaults", ("PERIOD-001", "PERIOD-002", "PERIOD-003"), defaults,
          "the default period with and without each parameter"),
    Probe("inverted-windows", ("PERIOD-005", "STATUS-005"), inverted_windows,
          "start after end, given or defaulted"),
    Probe("credentials", ("AUTH-001", "AUTH-002", "AUTH-003", "AUTH-004"), credentials,
          "no header, Basic, Bearer without token, garbage, JWT alg none, JWT without signature; the real "
          "token under other schemes, without one, inside Basic, a character off, its case flipped, and "
          "with bearer/BEARER (which must be accepted)"),
    Probe("repeated-requests", ("CONSIST-001", "CONSIST-002"), repeated_requests,
          "three identical requests moments apart"),
    Probe("nested-windows", ("CONSIST-003", "METRIC-004", "METRIC-005"), nested_windows,
          "windows inside windows, narrow first, the widest over a year"),
    Probe("explicit-default-window", ("CONSIST-005",), explicit_default_window,
          "the default window named explicitly vs omitted"),
    Probe("bad-dates", ("STATUS-004", "STATUS-005"), bad_dates, "not-a-date, 2026-02-30, 2026-13-01"),
    Probe("lax-dates", ("STATUS-004",), lax_dates, "2026-…T00:00:00 and a Unix timestamp (a note if accepted)"),
    Probe("unknown-parameter", ("STATUS-007",), unknown_parameter, "a query parameter the contract lacks"),
    Probe("extreme-dates", ("PERIOD-006",), extreme_dates, "0001-01-01 and 9999-12-31"),
    Probe("long-query", ("STATUS-002", "STATUS-003"), long_query, "a query string of several kilobytes"),
    Probe("edge-dates", ("STATUS-002", "STATUS-008", "PERIOD-005", "PERIOD-006"), edge_dates,
          "0001-12-31, 1969-12-31, 1970-01-01, a leap day, a year end and the next day, the next leap day and "
          "9999-12-31, each as the only start_date and as the only end_date"),
    Probe("edge-windows", ("CONSIST-003", "CONSIST-006"), edge_windows,
          "nested windows of 1/2, 8/16 and 30/31 days around the epoch, a leap day and a year end; adjacent "
          "past windows split at Feb 29, a year end and the epoch, with the window spanning each pair"),
    Probe("future-windows", ("CONSIST-007",), future_windows,
          "windows starting after today: one day, next month, the next leap day, through 9999-12-31"),
    Probe("limits-across-windows", ("CONSIST-004",), limits_across_windows,
          "plan and limits compared over every window fetched"),
)

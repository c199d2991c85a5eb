"""Targeted probes: the requests generated data does not reach, and the rules that need several.

Generators rarely name the default window explicitly, fetch nested windows in a useful order, or
send a JWT with ``alg: none``. Each probe here asks for exactly that, through a
:class:`ProbeSession` that sends, judges every response with the per-response checks, and
records what the probe concludes across responses (CONSIST-001..005).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import itertools
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from crosmos_contract.exchange import Exchange, ReceivedResponse, SentRequest
from crosmos_contract.rules import (
    Violation,
    check_explicit_default,
    check_future_window_unused,
    check_head_mirrors_get,
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

    _nested_pairs_monotonic(session, list(answers.items()))
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




# --- round 3: the calendar, credentials never issued, HEAD/OPTIONS, additive windows with evidence ------

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(data: Mapping[str, Any]) -> str:
    return _b64(json.dumps(data, separators=(",", ":")).encode())


def _hs256(header: Mapping[str, Any], claims: Mapping[str, Any], key: bytes) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(header, claims, signature) when ``token`` is a JWT, else None: how the suite tells a server
    that issues JWTs (the user's token is one) from one that issues only API keys."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                          for part in parts[:2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or "alg" not in header:
        return None
    return header, claims, parts[2]


NOT_YOUR_KEY = b"crosmos-conformance: a key no server was given"
PROBE_CLAIMS = {"sub": "crosmos-conformance-probe", "org": "probe", "iat": 1_767_225_600, "exp": 4_102_444_800}


def jwt_variants(token: str) -> tuple[tuple[str, str], ...]:
    """JWTs the server never issued, as ``Authorization`` values: any of them accepted is AUTH-003.

    Always: signed with a key the server cannot have (HS256), an RS256 header over garbage, ``alg``
    spelled ``None``/``NONE``, and malformed ones (two segments, four, a header that is not JSON,
    bytes that are not base64url). When the user's token is itself a JWT, also its own claims
    altered under its kept signature, its claims with ``alg: none`` and no signature, its
    signature stripped, and its claims re-signed with another key. Those carry parts of the
    user's token, so reports hide them as they hide the token.
    """
    variants = [
        ("auth:jwt-signed-with-another-key", _hs256({"alg": "HS256", "typ": "JWT"}, PROBE_CLAIMS, NOT_YOUR_KEY)),
        ("auth:jwt-rs256-garbage-signature",
         f"{_segment({'alg': 'RS256', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}.{_b64(b'x' * 256)}"),
        ("auth:jwt-alg-None-capitalised", f"{_segment({'alg': 'None', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}."),
        ("auth:jwt-alg-NONE", f"{_segment({'alg': 'NONE', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}."),
        ("auth:jwt-two-segments", f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}"),
        ("auth:jwt-four-segments", _hs256({"alg": "HS256"}, PROBE_CLAIMS, NOT_YOUR_KEY) + ".e30"),
        ("auth:jwt-header-not-json", f"{_b64(b'{alg:HS256')}.{_segment(PROBE_CLAIMS)}.{_b64(b'sig')}"),
        ("auth:jwt-not-base64url", "eyJ%%%.eyJ!!!.c2ln"),
    ]
    decoded = decode_jwt(token)
    if decoded is not None:
        header, claims, signature = decoded
        altered = {**claims, "sub": f"{claims.get('sub', '')}-other", "org": f"{claims.get('org', '')}-other",
                   "exp": 4_102_444_800}
        signing = token.rsplit(".", 1)[0]
        variants += [
            ("auth:real-jwt-claims-altered-signature-kept", f"{_segment(header)}.{_segment(altered)}.{signature}"),
            ("auth:real-jwt-alg-none", f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}."),
            ("auth:real-jwt-signature-stripped", f"{signing}."),
            ("auth:real-jwt-resigned-with-another-key", _hs256({**header, "alg": "HS256"}, claims, NOT_YOUR_KEY)),
        ]
    return tuple((name, f"Bearer {value}") for name, value in variants)


def unissued_jwts(session: ProbeSession) -> None:
    for name, authorization in jwt_variants(session.token):
        session.get(name, authorization=authorization)


def head_and_options(session: ProbeSession) -> None:
    """RFC 9110 expects HEAD wherever GET is served: 405/501 is a refusal; 2xx must be GET's status
    and Content-Type without a body (STATUS-009); a 5xx is STATUS-002. OPTIONS without CORS headers
    must not fail either."""
    cal = Calendar(session.today)
    window = [("start_date", _iso(cal.previous_start)), ("end_date", _iso(cal.previous_end))]
    got = session.get("head:get", window)
    head = session.get("head:head", window, method="HEAD")
    session.get("options:no-cors", window, method="OPTIONS")
    if got.response is None or head.response is None:
        return
    session.conclude("STATUS-009", check_head_mirrors_get(
        got.response.status, got.response.header("Content-Type"), len(got.response.body), head.response.status,
        head.response.header("Content-Type"), head.response.header("Content-Length"), len(head.response.body)),
        got, head)


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


# What each further credential is asked: the probes whose rules hold per org (defaults, windows,
# repeats, HEAD), not the ones about rejected credentials or dates, which the first one covers.
PER_CREDENTIAL: tuple[str, ...] = ("defaults", "repeated-requests", "nested-windows", "explicit-default-window",
                                   "future-windows", "limits-across-windows")


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
    *(Probe(f"calendar-rules-{part + 1}", ("STATUS-001", "STATUS-004", "STATUS-005", "PERIOD-003", "PERIOD-006"),
            _calendar_part(part),
            f"part {part + 1} of 3: dates from every rule of the Gregorian calendar, both ways: each month's last "
            "day and the day after (a common year; Feb 30 in a leap year), Feb 28/29 and Mar 1 in years divisible "
            "by 4, by 100 and by 400 and in none, day 00, month 00 and 13, the first and last days and year 0000")
      for part in range(3)),
    Probe("unissued-jwts", ("AUTH-003",), unissued_jwts,
          "JWTs the server never signed: another key, RS256 over garbage, alg None/NONE, malformed; when the "
          "token is a JWT, its claims altered under its signature, alg none, signature stripped, re-signed"),
    Probe("head-and-options", ("STATUS-002", "STATUS-003", "STATUS-009"), head_and_options,
          "HEAD beside GET of the same request (405/501, or GET's status and type without a body); OPTIONS "
          "without CORS headers"),
    Probe("additive-windows", ("CONSIST-006",), additive_windows,
          "adjacent settled windows of 1+1, 2+3, 7+7 and 10+21 days, compared only where every boundary day "
          "carries usage"),
    Probe("org-history", ("CONSIST-003", "CONSIST-006", "METRIC-001", "METRIC-004"), org_history,
          "the org's first day with usage (bisection), its month and year ends and days sampled with the seed, "
          "each alone, beside the next day and as the window over both"),
    Probe("limits-across-windows", ("CONSIST-004",), limits_across_windows,
          "plan and limits compared over every window fetched"),
)

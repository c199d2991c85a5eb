"""What the contract expects for a request, read from the request as sent.

Generated data is labelled positive or negative by its generator, but a "negative" value may be a
perfectly good date (``0965-01-20``), and a "positive" one may name a window that is inverted once
defaults apply. So the suite classifies the request it actually sent: the credential against the
user's token, each date parameter as valid, lax (what pydantic also accepts), unclear, or invalid,
and the window it names against the server's today.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from crosmos_contract.rules import effective_window, parse_iso_date

DATE_PARAMS: tuple[str, ...] = ("start_date", "end_date")
# A URL this long may be refused at the transport level (414/431) without breaking the contract.
OVERSIZED_URL = 2048
# Dates this close to the ends of the calendar are "extreme" (PERIOD-006): 200 or 422 are both fine.
_EXTREME_LOW, _EXTREME_HIGH = date(1, 12, 31), date(9999, 1, 1)

_STRICT_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt_ ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_LOOSE_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
_NULLISH = frozenset({"", "null", "none", "nil", "undefined"})


class Reading(StrEnum):
    ABSENT = "absent"
    VALID = "valid"  # strict YYYY-MM-DD
    LAX = "lax"  # not YYYY-MM-DD, but a date a lax parser (pydantic) reads unambiguously
    UNCLEAR = "unclear"  # a server may accept it or not, and we cannot tell which date it means
    INVALID = "invalid"  # not a date by any reading: 422 is the only right answer


@dataclass(frozen=True)
class DateParam:
    name: str
    reading: Reading
    raw: tuple[str, ...] = ()
    value: date | None = None  # for VALID and LAX

    @property
    def shown(self) -> str:
        return "&".join(f"{self.name}={item}" for item in self.raw) or f"no {self.name}"


class AuthReading(StrEnum):
    OK = "ok"
    MISSING = "missing"  # AUTH-001
    WRONG_SCHEME = "wrong-scheme"  # AUTH-002
    MALFORMED = "malformed"  # AUTH-002
    BAD_TOKEN = "bad-token"  # AUTH-003
    UNCHECKED = "unchecked"  # a well-formed Bearer credential, and no token to compare it with

    @property
    def check_id(self) -> str:
        return {AuthReading.MISSING: "AUTH-001", AuthReading.WRONG_SCHEME: "AUTH-002",
                AuthReading.MALFORMED: "AUTH-002", AuthReading.BAD_TOKEN: "AUTH-003"}.get(self, "")

    @property
    def described(self) -> str:
        return {AuthReading.MISSING: "no Authorization header",
                AuthReading.WRONG_SCHEME: "a scheme other than Bearer",
                AuthReading.MALFORMED: "a malformed Authorization header",
                AuthReading.BAD_TOKEN: "an unknown or malformed token",
                AuthReading.OK: "valid credentials",
                AuthReading.UNCHECKED: "a Bearer credential"}[self]


class Window(StrEnum):
    VALID = "valid"  # in order for every candidate today
    INVERTED = "inverted"  # start > end for every candidate today
    EITHER = "either"  # depends on the day (the request straddled midnight)
    UNKNOWN = "unknown"  # a parameter we cannot read


@dataclass(frozen=True)
class Expectation:
    """What a request asks of the server, read once: the judge reads these as plain values."""

    auth: AuthReading
    start: DateParam
    end: DateParam
    unknown_params: tuple[str, ...]
    oversized: bool
    window: Window
    params: tuple[DateParam, DateParam] = field(init=False)
    invalid: tuple[DateParam, ...] = field(init=False)
    doubtful: tuple[DateParam, ...] = field(init=False)  # a strict server may reject them, a lax one accept
    extreme: bool = field(init=False)

    def __post_init__(self) -> None:
        params = (self.start, self.end)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "invalid", tuple(p for p in params if p.reading is Reading.INVALID))
        object.__setattr__(self, "doubtful", tuple(p for p in params if p.reading in (Reading.LAX, Reading.UNCLEAR)))
        object.__setattr__(self, "extreme", any(p.value is not None and not _EXTREME_LOW < p.value < _EXTREME_HIGH
                                                for p in params))


def read_auth(header: str | None, token: str | None, also_valid: Sequence[str] = ()) -> AuthReading:
    """How the ``Authorization`` header reads against ``token`` (None: no token to compare with) and
    the other credentials the server issued."""
    if header is None:
        return AuthReading.MISSING
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return AuthReading.WRONG_SCHEME
    credential = credential.strip()
    if not credential or " " in credential:
        return AuthReading.MALFORMED
    if token is None:
        return AuthReading.UNCHECKED
    return AuthReading.OK if credential == token or credential in also_valid else AuthReading.BAD_TOKEN


def read_date(name: str, values: Sequence[str]) -> DateParam:
    """Classify the value(s) sent for one date parameter."""
    distinct = tuple(dict.fromkeys(values))
    if not distinct:
        return DateParam(name, Reading.ABSENT)
    if len(distinct) > 1:  # servers differ on which repeated value wins; FastAPI takes the last
        return DateParam(name, Reading.UNCLEAR, tuple(values))
    raw = distinct[0]
    reading, value = _read_one(raw)
    return DateParam(name, reading, tuple(values), value)


def _read_one(raw: str) -> tuple[Reading, date | None]:
    strict = parse_iso_date(raw)
    if strict is not None:
        return Reading.VALID, strict
    if _STRICT_SHAPE.match(raw):
        # The shape of a date with an impossible month or day: 2026-02-30, 2026-13-01. Year 0 is a
        # date in ISO 8601 (and some servers) though not in Python, so it stays unclear.
        return (Reading.UNCLEAR, None) if raw.startswith("0000-") else (Reading.INVALID, None)
    if raw.strip().lower() in _NULLISH or raw != raw.strip():
        return Reading.UNCLEAR, None
    match = _DATETIME.match(raw)
    if match:
        day = parse_iso_date(match.group(1))
        if day is None:
            return Reading.INVALID, None
        midnight = all(int(part or 0) == 0 for part in match.group(2, 3, 4, 5))
        return (Reading.LAX, day) if midnight else (Reading.UNCLEAR, None)
    if _NUMBER.match(raw):
        return _timestamp(raw)
    if _LOOSE_DATE.match(raw):
        return Reading.UNCLEAR, None
    return Reading.INVALID, None


def _timestamp(raw: str) -> tuple[Reading, date | None]:
    """pydantic reads a number as Unix seconds (milliseconds above 2e10), a date only at midnight.

    Only a plain integer at midnight has a date we can be sure of; any other number (``1e-38``,
    which pydantic rounds to 1970-01-01) may be accepted or refused.
    """
    if not re.fullmatch(r"-?\d{1,15}", raw):
        return Reading.UNCLEAR, None
    seconds = int(raw)
    if abs(seconds) > 2e10:  # milliseconds
        if seconds % 1000:
            return Reading.UNCLEAR, None
        seconds //= 1000
    if seconds % 86400:
        return Reading.UNCLEAR, None
    try:
        return Reading.LAX, (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).date()
    except OverflowError:
        return Reading.UNCLEAR, None


def expect(method: str, query: Sequence[tuple[str, str]], authorization: str | None, token: str | None,
           url_length: int, todays: Sequence[date], also_valid: Sequence[str] = ()) -> Expectation:
    """Everything the judge needs to know about what ``query`` asks of the server."""
    grouped: dict[str, list[str]] = {name: [] for name in DATE_PARAMS}
    unknown: list[str] = []
    for key, value in query:
        if key in grouped:
            grouped[key].append(value)
        elif key not in unknown:
            unknown.append(key)
    start = read_date("start_date", grouped["start_date"])
    end = read_date("end_date", grouped["end_date"])
    return Expectation(
        auth=read_auth(authorization, token, also_valid),
        start=start,
        end=end,
        unknown_params=tuple(unknown),
        oversized=url_length > OVERSIZED_URL,
        window=_window(start, end, todays),
    )


def _window(start: DateParam, end: DateParam, todays: Sequence[date]) -> Window:
    if any(p.reading in (Reading.UNCLEAR, Reading.INVALID) for p in (start, end)):
        return Window.UNKNOWN
    verdicts = {effective_window(today, start.value, end.value) is not None for today in todays}
    if verdicts == {True}:
        return Window.VALID
    if verdicts == {False}:
        return Window.INVERTED
    return Window.EITHER

"""A second reference of ``GET /api/v1/usage``, written from the contract alone.

Written from ``openapi.json`` and the rules of docs/design.md ("What the contract means") only,
without reading the FastAPI reference, the zoo or the judge's rules, so that the mutation
benchmark (``python -m bench.mutation --reference independent``) measures the suite on an
implementation it was not written beside. Deliberately built another way:

* plain Starlette, no FastAPI and no pydantic: one ASGI endpoint that takes every method, with
  the query string split by hand and each date checked against the Gregorian calendar's rules
  by this module (the 4-, 100- and 400-year rules; years 0001-9999);
* credentials: API keys (``csk_…``) compared in constant time, and HS256 JWTs this server signed
  itself (``org`` claim), verified with hmac/hashlib/base64: an unsigned (``alg: none``), wrongly
  signed, tampered, expired or malformed JWT is refused;
* usage from a per-org daily ledger: a deterministic count per day (a formula of the day's
  ordinal) from the org's first day to today, summed over the window with prefix sums; a day
  after today has no usage yet. ``spaces`` counts the spaces that existed at some point of the
  window (each space has a creation day and perhaps a deletion day).

Every answer is JSON: 200 with a UsageResponse, 401 (``WWW-Authenticate: Bearer``), 422 with
FastAPI's HTTPValidationError shape (``detail[].loc = ["query", <parameter>]``), 404 for other
paths, 405 (``Allow: GET, HEAD``) for methods other than GET and HEAD. HEAD is served as GET
(RFC 9110 §9.3.2: same status and headers; the ASGI server drops the body). The ``Date`` header
is the ASGI server's (uvicorn writes one on every response), and "today" is the UTC day.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

USAGE_PATH = "/api/v1/usage"

INDEPENDENT_TOKEN = "csk_independent_team_5d1f0b7c93e2a648"
"""The API key of the org the tests certify (plan ``team``: one metric unlimited, two finite)."""
FREE_TOKEN = "csk_independent_free_0e8b44d2a17c5f93"
ENTERPRISE_TOKEN = "csk_independent_ent_9a6c21f0d3b87e45"

_JWT_SECRET = b"independent-reference/hs256/3b9f0c1e7d2a4856"  # the server's signing key (a test secret)
JWT_LIFETIME_S = 86_400

UNLIMITED = -1
METERED = ("tokens", "queries")  # what happened per day; spaces count what exists


@dataclass(frozen=True)
class Org:
    id: str
    plan: str
    first_day: date  # the org's first day of usage
    limits: Mapping[str, int]  # tokens, queries, spaces; -1 unlimited
    rate_limit_rpm: int
    rate_limit_per_day: int
    tokens_per_day: int  # the base of the daily formula
    queries_per_day: int
    spaces: tuple[tuple[date, date | None], ...]  # (created, deleted or None)


ORGS: dict[str, Org] = {org.id: org for org in (
    Org("org_team", "team", date(2021, 6, 15),
        {"tokens": 2_500_000, "queries": UNLIMITED, "spaces": 8}, 600, 120_000, 1_800, 35,
        ((date(2021, 6, 15), None), (date(2021, 6, 16), date(2022, 1, 31)), (date(2022, 3, 1), None),
         (date(2023, 2, 28), date(2023, 3, 1)), (date(2024, 2, 29), None), (date(2024, 12, 31), None),
         (date(2025, 1, 1), date(2025, 6, 30)), (date(2025, 7, 4), None), (date(2025, 11, 20), None),
         (date(2026, 1, 5), None))),
    Org("org_free", "free", date(2025, 9, 1),
        {"tokens": 50_000, "queries": 500, "spaces": 2}, 30, 2_000, 120, 4,
        ((date(2025, 9, 1), None), (date(2025, 10, 2), date(2025, 10, 3)))),
    Org("org_enterprise", "enterprise", date(2019, 1, 7),
        {"tokens": UNLIMITED, "queries": UNLIMITED, "spaces": UNLIMITED}, UNLIMITED, UNLIMITED, 25_000, 900,
        tuple((date(2019, 1, 7 + n), None) for n in range(12))),
)}
API_KEYS: dict[str, str] = {
    INDEPENDENT_TOKEN: "org_team",
    FREE_TOKEN: "org_free",
    ENTERPRISE_TOKEN: "org_enterprise",
}


# --- the calendar ------------------------------------------------------------------------------

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap_year(year: int) -> bool:
    """Gregorian: every 4th year, except centuries, except every 4th century."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap_year(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


class DateProblem(ValueError):
    """Why a value is not a date: ``kind`` is the error type, the message its reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def parse_day(raw: str) -> date:
    """``YYYY-MM-DD`` and nothing else (ASCII digits; years 0001-9999), or :class:`DateProblem`."""
    if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
        raise DateProblem("date_parsing", "input is not in the format YYYY-MM-DD")
    digits = raw[:4] + raw[5:7] + raw[8:]
    if not all("0" <= c <= "9" for c in digits):
        raise DateProblem("date_parsing", "invalid character: only the digits 0-9 are allowed")
    year, month, day = int(raw[:4]), int(raw[5:7]), int(raw[8:])
    if year < 1:
        raise DateProblem("date_value_error", "year value is outside expected range")
    if not 1 <= month <= 12:
        raise DateProblem("date_value_error", "month value is outside expected range")
    if not 1 <= day <= days_in_month(year, month):
        raise DateProblem("date_value_error", "day value is outside expected range")
    return date(year, month, day)


def show_day(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def utc_today() -> date:
    return datetime.now(UTC).date()


# --- the ledger --------------------------------------------------------------------------------

def daily_usage(org: Org, metric: str, ordinal: int) -> int:
    """What the org used of a metered metric on one day (ordinal of the proleptic calendar).

    Weekdays are busier than weekends; the rest is a fixed pseudo-random spread. Never negative.
    """
    weekday = ordinal % 7  # 1 = Monday ... 0 = Sunday (date.fromordinal(1) is a Monday)
    if metric == "tokens":
        base, spread = org.tokens_per_day, 977
    else:
        base, spread = org.queries_per_day, 13
    busy = base if 0 < weekday < 6 else base // 3
    return busy + (ordinal * 7_919) % spread


class Ledger:
    """Prefix sums of each metered metric per org: ``used`` over a window in constant time.

    ``_sums[(org, metric)][k]`` is the usage of the org's first ``k`` days; extended as days pass.
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str], list[int]] = {}

    def _prefix(self, org: Org, metric: str, upto: int) -> list[int]:
        sums = self._sums.setdefault((org.id, metric), [0])
        first = org.first_day.toordinal()
        while len(sums) < upto - first + 2:
            sums.append(sums[-1] + daily_usage(org, metric, first + len(sums) - 1))
        return sums

    def used(self, org: Org, metric: str, start: date, end: date, today: date) -> int:
        """Usage from ``start`` to ``end`` inclusive: only days from the org's first day to today."""
        first = org.first_day.toordinal()
        low = max(start.toordinal(), first)
        high = min(end.toordinal(), today.toordinal())
        if low > high:
            return 0
        sums = self._prefix(org, metric, high)
        return sums[high - first + 1] - sums[low - first]


def spaces_in_window(org: Org, start: date, end: date) -> int:
    """Spaces that existed on at least one day of the window."""
    return sum(1 for created, deleted in org.spaces
               if created <= end and (deleted is None or deleted >= start))


def metric_body(used: int, limit: int) -> dict[str, int]:
    remaining = UNLIMITED if limit == UNLIMITED else max(limit - used, 0)
    return {"used": used, "limit": limit, "remaining": remaining}


# --- credentials -------------------------------------------------------------------------------

class Refused(Exception):
    """A refused credential; the message is the 401's ``detail``."""


NOT_AUTHENTICATED = "Not authenticated"
INVALID_CREDENTIALS = "Invalid authentication credentials"
_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str) -> bytes:
    """Unpadded base64url, canonical only (no stray bits): a re-encoding must give the segment back."""
    if not segment or not set(segment) <= _B64URL_ALPHABET or len(segment) % 4 == 1:
        raise Refused(INVALID_CREDENTIALS)
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if _b64url_encode(data) != segment:
        raise Refused(INVALID_CREDENTIALS)
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate member")
    return dict(pairs)


def _json_object(data: bytes) -> dict[str, Any]:
    def no_constant(name: str) -> Any:
        raise ValueError(name)
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(INVALID_CREDENTIALS) from exc
    if not isinstance(value, dict):
        raise Refused(INVALID_CREDENTIALS)
    return value


def _sign(signing_input: str) -> bytes:
    return hmac.new(_JWT_SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()


def issue_jwt(org_id: str, *, now: float | None = None, lifetime: int = JWT_LIFETIME_S,
              header: Mapping[str, Any] | None = None, claims: Mapping[str, Any] | None = None) -> str:
    """A JWT this server accepts (HS256, ``org`` claim, ``exp`` after ``lifetime`` seconds).

    ``header`` and ``claims`` replace or add members (tests build refusals with them).
    """
    issued = int(time.time() if now is None else now)
    head = {"alg": "HS256", "typ": "JWT", **(header or {})}
    body = {"sub": f"user@{org_id}", "org": org_id, "iat": issued, "exp": issued + lifetime, **(claims or {})}
    signing_input = (_b64url_encode(json.dumps(head, separators=(",", ":")).encode()) + "."
                     + _b64url_encode(json.dumps(body, separators=(",", ":")).encode()))
    return signing_input + "." + _b64url_encode(_sign(signing_input))


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(INVALID_CREDENTIALS)
    return float(value)


def verify_jwt(token: str, now: float) -> Org:
    """The org of a JWT this server signed, still valid at ``now``; else :class:`Refused`."""
    segments = token.split(".")
    if len(segments) != 3:
        raise Refused(INVALID_CREDENTIALS)
    header = _json_object(_b64url_decode(segments[0]))
    if header.get("alg") != "HS256" or header.get("typ", "JWT") != "JWT" or "crit" in header:
        raise Refused(INVALID_CREDENTIALS)  # alg "none", another algorithm, extensions we do not know
    claims = _json_object(_b64url_decode(segments[1]))
    signature = _b64url_decode(segments[2])
    if not hmac.compare_digest(signature, _sign(segments[0] + "." + segments[1])):
        raise Refused(INVALID_CREDENTIALS)
    expires, not_before = _numeric_date(claims, "exp"), _numeric_date(claims, "nbf")
    if expires is not None and now >= expires:
        raise Refused(INVALID_CREDENTIALS)
    if not_before is not None and now < not_before:
        raise Refused(INVALID_CREDENTIALS)
    org_id = claims.get("org")
    org = ORGS.get(org_id) if isinstance(org_id, str) else None
    if org is None:
        raise Refused(INVALID_CREDENTIALS)
    return org


def _api_key_org(credential: str) -> Org:
    presented = credential.encode("latin-1")
    found: str | None = None
    for key, org_id in API_KEYS.items():  # every key compared, in constant time
        if hmac.compare_digest(presented, key.encode("ascii")):
            found = org_id
    if found is None:
        raise Refused(INVALID_CREDENTIALS)
    return ORGS[found]


def authenticate(authorizations: list[str], now: float) -> Org:
    """The org behind the ``Authorization`` header(s), or :class:`Refused` with the 401's detail."""
    if not authorizations:
        raise Refused(NOT_AUTHENTICATED)
    if len(authorizations) > 1:  # two credentials: which one would be meant?
        raise Refused(INVALID_CREDENTIALS)
    scheme, _, rest = authorizations[0].strip().partition(" ")
    credential = rest.strip()
    if not scheme:
        raise Refused(NOT_AUTHENTICATED)
    if scheme.lower() != "bearer":  # RFC 9110 §11.1: the scheme is case-insensitive
        raise Refused(INVALID_CREDENTIALS)
    if not credential:
        raise Refused(NOT_AUTHENTICATED)
    if credential.count(".") == 2:
        return verify_jwt(credential, now)
    return _api_key_org(credential)


# --- the query ---------------------------------------------------------------------------------

def parse_query(raw: bytes) -> dict[str, str]:
    """``name=value`` pairs split on ``&``; ``+`` is a space, %XX a byte (UTF-8); the last value wins."""
    values: dict[str, str] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        values[_unescape(name)] = _unescape(value)
    return values


def _unescape(part: bytes) -> str:
    return unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Window:
    start: date
    end: date


class Invalid(Exception):
    """422: ``errors`` are HTTPValidationError's ``detail`` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid parameter(s)")
        self.errors = errors


def _date_error(name: str, raw: str, problem: DateProblem) -> dict[str, Any]:
    return {"type": problem.kind, "loc": ["query", name],
            "msg": f"Input should be a valid date in the format YYYY-MM-DD, {problem.reason}",
            "input": raw, "ctx": {"error": problem.reason}}


def resolve_window(query: Mapping[str, str], today: date) -> Window:
    """The window a query names (defaults: the 1st of this month, today), or :class:`Invalid`."""
    given: dict[str, date] = {}
    errors: list[dict[str, Any]] = []
    for name in ("start_date", "end_date"):
        if name not in query:
            continue
        try:
            given[name] = parse_day(query[name])
        except DateProblem as problem:
            errors.append(_date_error(name, query[name], problem))
    if errors:
        raise Invalid(errors)
    start = given.get("start_date", date(today.year, today.month, 1))
    end = given.get("end_date", today)
    if start > end:
        blamed = "start_date" if "start_date" in given else "end_date"
        shown = {name: show_day(day) + ("" if name in given else ", the default")
                 for name, day in (("start_date", start), ("end_date", end))}
        reason = f"start_date ({shown['start_date']}) must not be after end_date ({shown['end_date']})"
        raise Invalid([{"type": "value_error", "loc": ["query", blamed], "msg": f"Value error, {reason}",
                        "input": query[blamed], "ctx": {"error": reason}}])
    return Window(start, end)


# --- HTTP --------------------------------------------------------------------------------------

def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, headers=dict(headers or {}), media_type="application/json")


class UsageEndpoint:
    """The ASGI app behind ``/api/v1/usage``: every method reaches it, GET and HEAD are served."""

    def __init__(self, today: Callable[[], date], clock: Callable[[], float]) -> None:
        self._today = today
        self._clock = clock
        self._ledger = Ledger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        authorizations = [value.decode("latin-1") for name, value in scope["headers"]
                          if name.lower() == b"authorization"]
        response = self.respond(request.method, authorizations, scope.get("query_string", b""))
        await response(scope, receive, send)

    def respond(self, method: str, authorizations: list[str], query_string: bytes) -> Response:
        if method not in ("GET", "HEAD"):
            return _json(405, {"detail": "Method Not Allowed"}, {"Allow": "GET, HEAD"})
        try:
            org = authenticate(authorizations, self._clock())
        except Refused as refusal:
            return _json(401, {"detail": str(refusal)}, {"WWW-Authenticate": "Bearer"})
        today = self._today()
        try:
            window = resolve_window(parse_query(query_string), today)
        except Invalid as invalid:
            return _json(422, {"detail": invalid.errors})
        return _json(200, self.usage(org, window, today))

    def usage(self, org: Org, window: Window, today: date) -> dict[str, Any]:
        body: dict[str, Any] = {"plan": org.plan, "period_start": show_day(window.start),
                                "period_end": show_day(window.end)}
        for metric in METERED:
            used = self._ledger.used(org, metric, window.start, window.end, today)
            body[metric] = metric_body(used, org.limits[metric])
        body["spaces"] = metric_body(spaces_in_window(org, window.start, window.end), org.limits["spaces"])
        body["rate_limit_rpm"] = org.rate_limit_rpm
        body["rate_limit_per_day"] = org.rate_limit_per_day
        return body


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json(404, {"detail": "Not Found"})


def create_app(*, today: Callable[[], date] = utc_today, clock: Callable[[], float] = time.time) -> Starlette:
    """The app; ``today`` and ``clock`` (for JWT expiry) are injectable for tests."""
    return Starlette(routes=[Route(USAGE_PATH, UsageEndpoint(today, clock))],
                     exception_handlers={404: _not_found})


def team_jwt() -> str:
    """A JWT this server issued to the team org (the API key's org): what a user holding both gives."""
    return issue_jwt("org_team")

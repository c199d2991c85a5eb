"""A zoo of servers that the conformance suite is proven against.

``FAULTY`` holds servers with exactly one realistic defect each, built from the reference app by
replacing one hook (:class:`~tests.servers.reference.ServerOptions`), overriding one dependency
or adding one handler or middleware. ``expected`` names the checks that must fail for it;
``tolerated`` names the few others that may fail as a direct consequence (each justified below).
A suite that misses an expected id has a blind spot; one that fails an id outside both sets
raises a false alarm.

``CONFORMANT`` holds tricky servers that still obey the contract: the suite must pass them all.

Every server accepts :data:`~tests.servers.reference.REFERENCE_TOKEN`. Each ``create_app()``
call builds a fresh app, so variants with state (call counters) start from zero.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import contextlib
import dataclasses
import itertools
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.servers.reference import (
    BEARER,
    METRICS,
    PRO_ORG,
    REFERENCE_TOKEN,
    UNLIMITED,
    OrgProfile,
    ServerOptions,
    UsageQuery,
    billing_period,
    create_app,
    current_org,
    lookup_org,
    measure_usage,
    options_of,
    usage_body,
    utc_today,
)

AppFactory = Callable[[], FastAPI]
CallNext = Callable[[Request], Awaitable[Response]]
QUERY_PARAMETERS = frozenset({"start_date", "end_date"})
LONG_QUERY = 2_000
SLOW_REPLY_S = 2.5
RETENTION = timedelta(days=365)
URI_LIMIT = 4_096  # well past the 2,048-character URLs that clients and proxies must handle
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ZooEntry:
    """One faulty server: what is wrong with it and which checks must (or may) notice."""

    name: str
    description: str
    create_app: AppFactory
    expected: frozenset[str]
    tolerated: frozenset[str] = frozenset()


# --- small building blocks ----------------------------------------------------------------------

def _with(**changes: Any) -> FastAPI:
    """The reference app with some options replaced."""
    return create_app(ServerOptions(**changes))


def _with_org(**changes: Any) -> FastAPI:
    """The reference app whose reference org has some attributes replaced (data defects)."""
    return _with(orgs={REFERENCE_TOKEN: dataclasses.replace(PRO_ORG, **changes)})


def _edit_body(edit: Callable[[dict[str, Any], UsageQuery], None]) -> FastAPI:
    """The reference app whose 200 body is edited in place after the reference renders it."""
    def render(query: UsageQuery) -> dict[str, Any]:
        body = usage_body(query)
        edit(body, query)
        return body
    return _with(render=render)


def _finite_metrics(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [body[name] for name in METRICS if body[name]["limit"] != UNLIMITED]


def _on_parse_error(handler: Callable[[Request, RequestValidationError], Awaitable[Response]]) -> FastAPI:
    """The reference app with FastAPI's parameter-parsing 422 replaced.

    The app's own inverted-window 422 has its own exception type and handler, so it stays right.
    """
    app = create_app()
    app.add_exception_handler(RequestValidationError, handler)  # type: ignore[arg-type]
    return app


def _with_middleware(middleware: Callable[[Request, CallNext], Awaitable[Response]]) -> FastAPI:
    app = create_app()
    app.middleware("http")(middleware)
    return app


def _internal_error() -> Response:
    """What Starlette sends for an unhandled exception."""
    return PlainTextResponse("Internal Server Error", status_code=500)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# --- PERIOD ------------------------------------------------------------------------------------

def rolling_default_start() -> FastAPI:
    """No start_date means "the last 31 days" instead of the 1st of the month."""
    return _with(default_window=lambda today: (today - timedelta(days=31), today))


def default_end_next_month() -> FastAPI:
    """No end_date means the 1st of next month: the exclusive end of the billing period leaks
    out as if it were the inclusive ``period_end`` (never today, so visible every day)."""
    return _with(default_window=lambda today: (today.replace(day=1), _next_month(today)))


def dates_not_echoed() -> FastAPI:
    """Usage is measured over the requested window, but the period fields always report the
    current billing period."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        start, end = billing_period(query.today)
        body["period_start"], body["period_end"] = start.isoformat(), end.isoformat()
    return _edit_body(edit)


def inverted_window_accepted() -> FastAPI:
    """``start_date > end_date`` is answered 200 with the inverted period and zero usage."""
    return _with(reject_inverted=False)


def extreme_dates_crash() -> FastAPI:
    """Computes the neighbouring periods (for a trend) with date arithmetic that overflows at
    0001-01-01 / 9999-12-31; the OverflowError becomes a 500."""
    def render(query: UsageQuery) -> dict[str, Any]:
        length = timedelta(days=query.days)
        _previous, _following = query.start - length, query.end + length
        return usage_body(query)

    async def crash(request: Request, exc: Exception) -> Response:
        return _internal_error()

    app = _with(render=render)
    app.add_exception_handler(OverflowError, crash)
    return app


# --- METRIC ------------------------------------------------------------------------------------

def remaining_not_clamped() -> FastAPI:
    """``remaining = limit - used`` without clamping: negative over quota, which clients read as
    "unlimited". Visible on windows longer than about 40 days (tokens over 1,000,000)."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        for metric in _finite_metrics(body):
            metric["remaining"] = metric["limit"] - metric["used"]
    return _edit_body(edit)


def unlimited_remaining_zero() -> FastAPI:
    """Unlimited spaces report ``remaining: 0`` (so clients think the quota is exhausted)."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        body["spaces"]["remaining"] = 0
    return _edit_body(edit)


def remaining_off_by_one() -> FastAPI:
    """``remaining = limit - used - 1`` (still clamped): an off-by-one in the quota arithmetic."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        for metric in _finite_metrics(body):
            metric["remaining"] = max(metric["limit"] - metric["used"] - 1, 0)
    return _edit_body(edit)


def negative_used() -> FastAPI:
    """Spaces are not metered and report ``used: -1``, borrowing the "unlimited" sentinel."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        body["spaces"]["used"] = -1
    return _edit_body(edit)


def negative_limit() -> FastAPI:
    """A plan-override row says ``-5`` (a typo for -1) and is served as the queries limit."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        body["queries"]["limit"], body["queries"]["remaining"] = -5, 0
    return _edit_body(edit)


def zero_rate_limit() -> FastAPI:
    """An unset column defaults to 0: ``rate_limit_rpm: 0`` (neither a limit nor -1)."""
    return _with_org(rate_limit_rpm=0)


def per_day_below_rpm() -> FastAPI:
    """The per-day rate limit was copied from a per-hour column: 500 a day against 600 a minute."""
    return _with_org(rate_limit_per_day=500)


def empty_plan() -> FastAPI:
    """An org without a plan row is served ``plan: ""``."""
    return _with_org(plan="")


# --- STATUS ------------------------------------------------------------------------------------

def bad_date_500() -> FastAPI:
    """Dates are parsed by hand and the ValueError escapes: a bad date gets a 500."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        return _internal_error()
    return _on_parse_error(handler)


def bad_date_400() -> FastAPI:
    """Validation errors for bad dates are sent as 400 (right body, wrong status)."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=400)
    return _on_parse_error(handler)


def invalid_day_clamped() -> FastAPI:
    """A lenient date parser clamps the day into the month: ``2026-02-30`` is served as
    2026-02-28 instead of being refused."""
    pattern = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

    def clamp(value: str) -> str:
        match = pattern.match(value)
        if not match:
            return value
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12 or year < 1:
            return value
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-{min(max(day, 1), last):02d}"

    async def middleware(request: Request, call_next: CallNext) -> Response:
        pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        fixed = [(key, clamp(value) if key in QUERY_PARAMETERS else value) for key, value in pairs]
        if fixed != pairs:
            request.scope["query_string"] = urlencode(fixed).encode("latin-1")
        return await call_next(request)
    return _with_middleware(middleware)


def error_body_string_detail() -> FastAPI:
    """A bad date raises ``HTTPException(422, "Invalid date")``: ``{"detail": "Invalid date"}``,
    whose ``detail`` is not the documented array of errors."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": "Invalid date"}, status_code=422)
    return _on_parse_error(handler)


def error_body_foreign_shape() -> FastAPI:
    """A bad date gets a house-style error ``{"error": "invalid date"}`` with no ``detail``."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"error": "invalid date"}, status_code=422)
    return _on_parse_error(handler)


def error_loc_body() -> FastAPI:
    """Bad-date 422s say ``loc: ["body"]``, so a client cannot tell which parameter was wrong."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        errors = [{**error, "loc": ["body"]} for error in jsonable_encoder(exc.errors())]
        return JSONResponse({"detail": errors}, status_code=422)
    return _on_parse_error(handler)


def text_plain_json() -> FastAPI:
    """The 200 body is JSON but labelled ``text/plain`` (``Response(json.dumps(...))``)."""
    return _with(media_type="text/plain")


def unknown_parameter_rejected() -> FastAPI:
    """Query parameters are a model with ``extra="forbid"``: unknown ones get FastAPI's 422."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        unknown = [(key, value) for key, value in request.query_params.multi_items()
                   if key not in QUERY_PARAMETERS]
        if request.url.path == "/api/v1/usage" and unknown:
            errors = [{"type": "extra_forbidden", "loc": ["query", key],
                       "msg": "Extra inputs are not permitted", "input": value}
                      for key, value in unknown]
            return JSONResponse({"detail": errors}, status_code=422)
        return await call_next(request)
    return _with_middleware(middleware)


def long_query_crash() -> FastAPI:
    """Logging the raw query string into a fixed 2,000-byte buffer fails: longer query strings
    get a 500 (a careful server would answer 414, or just serve them)."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        if len(request.scope["query_string"]) > LONG_QUERY:
            return _internal_error()
        return await call_next(request)
    return _with_middleware(middleware)


def slow_explicit_window() -> FastAPI:
    """Today is not pre-aggregated yet, so a window that names today as ``end_date`` is summed
    from raw events and takes 2.5 s (the default window has a fast path). Only those requests
    are slow, which keeps runs against this server short."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        if request.query_params.get("end_date") == options_of(request).today().isoformat():
            await asyncio.sleep(SLOW_REPLY_S)
        return await call_next(request)
    return _with_middleware(middleware)


def retention_window_rejected() -> FastAPI:
    """A window starting more than 365 days ago is refused with 422 ("beyond the retention
    period"), a restriction the contract does not have: a valid request fails."""
    def render(query: UsageQuery) -> dict[str, Any]:
        if query.start < query.today - RETENTION:
            raise RequestValidationError([{
                "type": "value_error", "loc": ("query", "start_date"),
                "msg": "Value error, start_date is beyond the retention period",
                "input": query.start.isoformat(), "ctx": {"error": "start_date is beyond the retention period"},
            }])
        return usage_body(query)
    return _with(render=render)


# --- AUTH --------------------------------------------------------------------------------------

def _with_auth(authenticate: Callable[..., Awaitable[OrgProfile]]) -> FastAPI:
    """The reference app whose authentication (its ``current_org`` dependency) is replaced."""
    app = create_app()
    app.dependency_overrides[current_org] = authenticate
    return app


async def _as_the_reference(request: Request) -> OrgProfile:
    """The reference's own authentication: HTTPBearer (its 401 for a missing or malformed
    header), then the token lookup; the variants fall back to it for what they do not change."""
    credentials = await BEARER(request)
    assert credentials is not None  # auto_error: HTTPBearer raises instead of returning None
    return lookup_org(request, credentials.credentials)


def auth_not_enforced() -> FastAPI:
    """No Authorization header falls back to a demo org (the default org) instead of a 401."""
    async def org_or_demo(request: Request) -> OrgProfile:
        if "authorization" not in request.headers:
            return options_of(request).default_org
        return await _as_the_reference(request)

    return _with_auth(org_or_demo)


def any_token_accepted() -> FastAPI:
    """The token's signature is never checked: any Bearer token, even ``x``, is the default org."""
    async def any_org(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials, Security(BEARER)]
    ) -> OrgProfile:
        options = options_of(request)
        return options.orgs.get(credentials.credentials, options.default_org)

    return _with_auth(any_org)


def other_scheme_accepted() -> FastAPI:
    """Schemes other than Bearer (``Basic …``, ``Token …``) reach a legacy session path that
    never verifies them and serves the default org."""
    async def legacy_schemes(request: Request) -> OrgProfile:
        scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme and credentials and scheme.lower() != "bearer":
            return options_of(request).default_org
        return await _as_the_reference(request)

    return _with_auth(legacy_schemes)


def token_case_folded() -> FastAPI:
    """Keys are looked up case-insensitively (a ``lower()`` on both sides "for robustness"), so a
    token with its letters' case changed is another org's valid credential."""
    async def folded(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials, Security(BEARER)]
    ) -> OrgProfile:
        orgs = {token.lower(): org for token, org in options_of(request).orgs.items()}
        org = orgs.get(credentials.credentials.lower())
        if org is None:
            return lookup_org(request, credentials.credentials)  # the reference's 401
        return org

    return _with_auth(folded)


def basic_user_is_the_key() -> FastAPI:
    """A migration shim takes ``Authorization: Basic base64(key:)`` (the key as the user name, as
    Stripe-style clients send it) as if it were Bearer: another scheme carrying the real token."""
    async def shim(request: Request) -> OrgProfile:
        scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                user = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
                return lookup_org(request, user)
        return await _as_the_reference(request)

    return _with_auth(shim)


def scheme_spelled_exactly() -> FastAPI:
    """Only the exact spelling ``Bearer`` is accepted (``BEARER …`` and ``bearer …`` get 401),
    though RFC 9110 §11.1 makes the scheme case-insensitive and FastAPI accepts any case."""
    async def exact(request: Request) -> OrgProfile:
        scheme = (request.headers.get("authorization") or "").split(" ", 1)[0]
        if scheme != "Bearer" and scheme.lower() == "bearer":
            raise StarletteHTTPException(status_code=401, detail="Not authenticated",
                                         headers={"WWW-Authenticate": "Bearer"})
        return await _as_the_reference(request)

    return _with_auth(exact)


def no_www_authenticate() -> FastAPI:
    """401s are sent without ``WWW-Authenticate`` (a custom error handler drops headers)."""
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 401:
            return JSONResponse({"detail": exc.detail}, status_code=401)
        return await http_exception_handler(request, exc)

    app = create_app()
    app.add_exception_handler(StarletteHTTPException, handler)
    return app


# --- SCHEMA ------------------------------------------------------------------------------------

def missing_rate_limit_per_day() -> FastAPI:
    """``rate_limit_per_day`` is left out of the body."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        del body["rate_limit_per_day"]
    return _edit_body(edit)


def string_integers() -> FastAPI:
    """``used`` is serialised as a string (``"used": "625000"``), as a DECIMAL column would be."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        for name in METRICS:
            body[name]["used"] = str(body[name]["used"])
    return _edit_body(edit)


def float_integers() -> FastAPI:
    """``used`` and ``remaining`` come from a float rollup and serialise as ``625000.0``."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        for name in METRICS:
            body[name]["used"] = float(body[name]["used"])
            body[name]["remaining"] = float(body[name]["remaining"])
    return _edit_body(edit)


def datetime_period_start() -> FastAPI:
    """``period_start`` is a datetime (``2026-11-01T00:00:00``), not a date."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        body["period_start"] = f"{body['period_start']}T00:00:00"
    return _edit_body(edit)


# --- CONSIST -----------------------------------------------------------------------------------

def plan_alternates() -> FastAPI:
    """A per-URL response cache still holds the plan from before a migration (``pro-2024``) and
    is served on every second request for the same URL, the live ``pro`` on the others."""
    seen: Counter[tuple[str, date | None, date | None]] = Counter()

    def render(query: UsageQuery) -> dict[str, Any]:
        body = usage_body(query)
        key = (query.org.name, query.start if query.start_given else None,
               query.end if query.end_given else None)
        seen[key] += 1
        if seen[key] % 2 == 0:
            body["plan"] = "pro-2024"
        return body
    return _with(render=render)


def used_decreases() -> FastAPI:
    """Metering of /usage itself books each call as a refund: ``tokens.used`` drops by one per
    call (never below zero), so two identical requests see usage go down."""
    calls = itertools.count(1)

    def render(query: UsageQuery) -> dict[str, Any]:
        used = measure_usage(query.org, query.start, query.end, query.today)
        used["tokens"] = max(used["tokens"] - next(calls), 0)
        return usage_body(query, used=used)
    return _with(render=render)


def prorated_used() -> FastAPI:
    """``used`` is normalised to a 30-day month (used × 30 / days in the window), a "projected
    monthly usage" figure served as usage: a window stretched into the future or into the time
    before the org existed reports less than the window inside it."""
    def render(query: UsageQuery) -> dict[str, Any]:
        used = measure_usage(query.org, query.start, query.end, query.today)
        return usage_body(query, used={name: value * 30 // query.days for name, value in used.items()})
    return _with(render=render)


def archive_window_empty() -> FastAPI:
    """Windows starting more than 365 days ago are answered from a cold archive that was never
    backfilled: zero usage, less than any recent window inside them."""
    def render(query: UsageQuery) -> dict[str, Any]:
        if query.start < query.today - RETENTION:
            return usage_body(query, used=dict.fromkeys(METRICS, 0))
        return usage_body(query)
    return _with(render=render)


def prorated_limits() -> FastAPI:
    """Finite limits are pro-rated to the window (limit × days / 30), so they change with it."""
    def render(query: UsageQuery) -> dict[str, Any]:
        limits = {name: limit if limit == UNLIMITED else limit * query.days // 30
                  for name, limit in query.org.limits.items()}
        return usage_body(query, limits=limits)
    return _with(render=render)


def explicit_end_exclusive() -> FastAPI:
    """A given ``end_date`` is treated as exclusive when measuring (the default end is not):
    naming today explicitly loses today's usage."""
    def render(query: UsageQuery) -> dict[str, Any]:
        # (Guarded at the first day of the calendar, where the subtraction would overflow: that
        # would be a second defect, a 500 at 0001-01-01, which this variant is not about.)
        last = query.end - timedelta(days=1) if query.end_given and query.end > date.min else query.end
        return usage_body(query, used=measure_usage(query.org, query.start, last, query.today))
    return _with(render=render)


# --- edge dates ---------------------------------------------------------------------------------

def leap_day_year_over_year_crash() -> FastAPI:
    """A requested window is sent with last year's figures for a trend line, found with
    ``day.replace(year=day.year - 1)``: for a ``start_date`` or ``end_date`` on Feb 29 (or an
    ``end_date`` in year 1) that raises ValueError, and the request gets a 500. The default window
    (the dashboard's) skips the comparison, so the server works every day of the year."""
    def render(query: UsageQuery) -> dict[str, Any]:
        if query.start_given or query.end_given:
            last_year_start = query.start.replace(year=max(query.start.year - 1, 1))
            measure_usage(query.org, last_year_start, query.end.replace(year=query.end.year - 1), query.today)
        return usage_body(query)

    async def crash(request: Request, exc: Exception) -> Response:
        return _internal_error()

    app = _with(render=render)
    app.add_exception_handler(ValueError, crash)
    return app


def year_partition_of_end() -> FastAPI:
    """Usage is stored in one partition per year and a window is read from its ``end_date``'s
    partition only: a window crossing a year end loses every day before Jan 1."""
    def render(query: UsageQuery) -> dict[str, Any]:
        first = max(query.start, date(query.end.year, 1, 1))
        return usage_body(query, used=measure_usage(query.org, first, query.end, query.today))
    return _with(render=render)


def epoch_start_is_unset() -> FastAPI:
    """``start_date`` becomes a Unix timestamp for the events store, and ``if not start_ts:``
    takes timestamp 0 for "not given": a window from 1970-01-01 is measured from the default start
    (the 1st of this month), though its period is echoed correctly."""
    def render(query: UsageQuery) -> dict[str, Any]:
        start = billing_period(query.today)[0] if query.start == EPOCH else query.start
        return usage_body(query, used=measure_usage(query.org, start, query.end, query.today))
    return _with(render=render)


MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # the table, February without its leap day


def leap_february_rollup() -> FastAPI:
    """Whole calendar months are answered from a monthly rollup; "whole month" is tested against a
    table of month lengths with February at 28 days in every year, so Feb 1..28 of a leap year is
    served all of February, Feb 29 included: it and Feb 29 alone add up to one day more than
    Feb 1..29 (which is summed by day)."""
    def render(query: UsageQuery) -> dict[str, Any]:
        start, end = query.start, query.end
        if (start.day == 1 and (start.year, start.month) == (end.year, end.month)
                and end.day == MONTH_DAYS[end.month - 1]):
            rollup_end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
            return usage_body(query, used=measure_usage(query.org, start, rollup_end, query.today))
        return usage_body(query)
    return _with(render=render)


def future_window_forecast() -> FastAPI:
    """A window that starts after today is answered with a forecast (this month's daily average so
    far, times the window's days) instead of the usage so far, which is none."""
    def render(query: UsageQuery) -> dict[str, Any]:
        if query.start <= query.today:
            return usage_body(query)
        month_start = billing_period(query.today)[0]
        so_far = measure_usage(query.org, month_start, query.today, query.today)
        elapsed = (query.today - month_start).days + 1
        days = min(query.days, 366)
        return usage_body(query, used={name: value * days // elapsed for name, value in so_far.items()})
    return _with(render=render)


# --- round 3: the calendar, credentials never issued, HEAD, unreadable bodies, boundary days ------

def _rewrite_dates(rewrite: Callable[[int, int, int], str | None]) -> FastAPI:
    """The reference behind a hand-written date pre-parser: ``rewrite(y, m, d)`` turns a
    ``YYYY-MM-DD`` value into another one (accepted as that date) or None (left as it is)."""
    pattern = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

    async def middleware(request: Request, call_next: CallNext) -> Response:
        pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        fixed = []
        for key, value in pairs:
            match = pattern.match(value) if key in QUERY_PARAMETERS else None
            replaced = rewrite(*(int(part) for part in match.groups())) if match else None
            fixed.append((key, replaced if replaced is not None else value))
        if fixed != pairs:
            request.scope["query_string"] = urlencode(fixed).encode("latin-1")
        return await call_next(request)
    return _with_middleware(middleware)


def julian_leap_years() -> FastAPI:
    """The billing service's own calendar helper says ``year % 4 == 0`` is a leap year (the Julian
    rule): Feb 29 of 1900 or 2100 is taken, and served as Mar 1."""
    def rewrite(year: int, month: int, day: int) -> str | None:
        if month == 2 and day == 29 and year % 4 == 0 and not calendar.isleap(year):
            return f"{year:04d}-03-01"
        return None
    return _rewrite_dates(rewrite)


def centuries_never_leap() -> FastAPI:
    """The date validator knows that century years are not leap years but not the 400-year
    exception: Feb 29 of 2000 (or 1600, 2400) is refused with 422 as "not a date"."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        for key, value in parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True):
            match = re.match(r"^(\d{4})-02-29$", value)
            if key in QUERY_PARAMETERS and match and int(match.group(1)) % 100 == 0:
                return JSONResponse({"detail": [{"type": "date_from_datetime_parsing", "loc": ["query", key],
                                                 "msg": "Input should be a valid date", "input": value}]},
                                    status_code=422)
        return await call_next(request)
    return _with_middleware(middleware)


def thirty_one_day_april() -> FastAPI:
    """A month-length table typed by hand gives April 31 days: ``YYYY-04-31`` is accepted and
    measured as May 1."""
    return _rewrite_dates(lambda year, month, day: f"{year:04d}-05-01" if (month, day) == (4, 31) else None)


def _jwt_claims(credential: str) -> dict[str, Any] | None:
    parts = credential.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in parts[:2])
    except ValueError:
        return None
    return {"header": header, "claims": claims} if isinstance(header, dict) and isinstance(claims, dict) else None


def jwt_signature_never_verified() -> FastAPI:
    """JWTs are read with ``verify_signature=False`` ("the gateway already checked them"): any
    well-formed JWT whose header names an algorithm is the default org, whoever signed it."""
    async def decoded_only(request: Request) -> OrgProfile:
        scheme, credential = get_authorization_scheme_param(request.headers.get("authorization"))
        token = _jwt_claims(credential) if scheme.lower() == "bearer" else None
        if token is not None and str(token["header"].get("alg", "")).lower() not in ("", "none"):
            return options_of(request).default_org
        return await _as_the_reference(request)

    return _with_auth(decoded_only)


def jwt_none_denylist_case_sensitive() -> FastAPI:
    """Unsigned JWTs are refused by comparing ``alg`` with ``"none"`` exactly: ``"None"`` or
    ``"NONE"`` with an empty signature passes as the default org."""
    async def denylist(request: Request) -> OrgProfile:
        scheme, credential = get_authorization_scheme_param(request.headers.get("authorization"))
        token = _jwt_claims(credential) if scheme.lower() == "bearer" else None
        if token is not None and str(token["header"].get("alg")).lower() == "none" and token["header"]["alg"] != "none":
            return options_of(request).default_org
        return await _as_the_reference(request)

    return _with_auth(denylist)


def _on_head(answer: Callable[[Request, CallNext], Awaitable[Response]]) -> FastAPI:
    async def middleware(request: Request, call_next: CallNext) -> Response:
        if request.method == "HEAD" and request.url.path == "/api/v1/usage":
            return await answer(request, call_next)
        return await call_next(request)
    return _with_middleware(middleware)


def head_crashes() -> FastAPI:
    """HEAD reaches a handler that reads the GET response's body iterator twice: a 500."""
    async def crash(request: Request, call_next: CallNext) -> Response:
        return _internal_error()
    return _on_head(crash)


def head_served_by_the_static_fallback() -> FastAPI:
    """HEAD is not routed to the API: the SPA's static fallback answers it, ``200 text/html``
    (what GET of the same URL never says)."""
    async def static(request: Request, call_next: CallNext) -> Response:
        return Response(status_code=200, media_type="text/html",
                        headers={"content-length": "1024", "cache-control": "max-age=60"})
    return _on_head(static)


def head_answers_204() -> FastAPI:
    """A health-check shortcut answers every HEAD with ``204 No Content`` and no Content-Type,
    whatever GET would say (its 200 and ``application/json``)."""
    async def no_content(request: Request, call_next: CallNext) -> Response:
        return Response(status_code=204)
    return _on_head(no_content)


def gzip_label_on_plain_bodies() -> FastAPI:
    """Replies to explicit windows come from a cache that stored the compressed reply's headers with
    the uncompressed bytes: ``Content-Encoding: gzip`` on plain JSON, which no client can decode."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        cached = "start_date" in request.query_params
        if cached and response.headers.get("content-type", "").startswith("application/json"):
            response.headers["content-encoding"] = "gzip"
        return response
    return _with_middleware(middleware)


def multi_day_window_skips_first_day() -> FastAPI:
    """Windows of two days or more are measured from the day after ``start_date`` (a ``>`` where
    ``>=`` was meant in the SQL): one-day windows are right, so is the period echoed, and the
    usage of every longer window's first day is lost."""
    def render(query: UsageQuery) -> dict[str, Any]:
        first = query.start + timedelta(days=1) if query.end > query.start else query.start
        return usage_body(query, used=measure_usage(query.org, first, query.end, query.today))
    return _with(render=render)


def signup_credit_booked_as_usage() -> FastAPI:
    """The 50,000-token signup credit is booked as negative usage on the org's first day, so any
    window holding that day reports 50,000 tokens fewer: negative when the window is that day alone
    (or the day and the next)."""
    credit = 50_000

    def render(query: UsageQuery) -> dict[str, Any]:
        body = usage_body(query)
        if query.start <= query.org.created <= min(query.end, query.today):
            tokens = body["tokens"]
            tokens["used"] -= credit
            if tokens["limit"] != UNLIMITED:
                tokens["remaining"] = max(tokens["limit"] - tokens["used"], 0)
        return body
    return _with(render=render)


def _entry(create: AppFactory, expected: set[str], tolerated: set[str] | None = None) -> ZooEntry:
    name = create.__name__
    description = " ".join((create.__doc__ or name).split())
    return ZooEntry(name, description, create, frozenset(expected), frozenset(tolerated or ()))


_ENTRIES: tuple[ZooEntry, ...] = (
    # A wrong default start also changes the answer to "end_date before the 1st, no start_date"
    # (no longer inverted: PERIOD-005) and makes the default window differ from the named one.
    _entry(rolling_default_start, {"PERIOD-001"}, {"PERIOD-005", "CONSIST-005"}),
    # Likewise: "start_date after today, no end_date" is no longer inverted.
    _entry(default_end_next_month, {"PERIOD-002"}, {"PERIOD-005", "CONSIST-005"}),
    _entry(dates_not_echoed, {"PERIOD-003"}),
    # The inverted 200 carries an inverted period, which PERIOD-004 judges on its own.
    _entry(inverted_window_accepted, {"PERIOD-005"}, {"PERIOD-004"}),
    # A 500 is also an undocumented status.
    _entry(extreme_dates_crash, {"PERIOD-006", "STATUS-002"}, {"STATUS-003"}),
    _entry(remaining_not_clamped, {"METRIC-004"}),
    _entry(unlimited_remaining_zero, {"METRIC-003"}),
    _entry(remaining_off_by_one, {"METRIC-005"}),
    _entry(negative_used, {"METRIC-001"}),
    _entry(negative_limit, {"METRIC-002"}),
    _entry(zero_rate_limit, {"METRIC-006"}),
    _entry(per_day_below_rpm, {"METRIC-007"}),
    _entry(empty_plan, {"METRIC-008"}),
    # The 500 is the finding (STATUS-002); a suite may also count it as "not the 422 a bad date
    # needs" or as an undocumented status.
    _entry(bad_date_500, {"STATUS-002"}, {"STATUS-003", "STATUS-004"}),
    # 400 is also an undocumented status.
    _entry(bad_date_400, {"STATUS-004"}, {"STATUS-003"}),
    # The clamped date is echoed as 2026-02-28; a suite that cannot read the value it sent may
    # judge that period_start as a (wrong) default or a (wrong) echo. A clamped end_date before the
    # 1st of this month inverts the defaulted window, whose 422 names start_date, not the end_date
    # that was invalid (STATUS-005).
    _entry(invalid_day_clamped, {"STATUS-004"}, {"PERIOD-001", "PERIOD-003", "STATUS-005"}),
    # A string detail names no parameter either.
    _entry(error_body_string_detail, {"SCHEMA-002"}, {"STATUS-005"}),
    # ``{"error": …}`` validates against the literal HTTPValidationError schema (``detail`` is not
    # required and extra keys are allowed), so only a suite that insists on ``detail`` flags
    # SCHEMA-002; the missing ``detail[].loc`` is certain.
    _entry(error_body_foreign_shape, {"STATUS-005"}, {"SCHEMA-002"}),
    _entry(error_loc_body, {"STATUS-005"}),
    _entry(text_plain_json, {"STATUS-006"}),
    _entry(unknown_parameter_rejected, {"STATUS-007"}),
    _entry(long_query_crash, {"STATUS-002"}, {"STATUS-003"}),
    _entry(slow_explicit_window, {"STATUS-008"}),
    _entry(retention_window_rejected, {"STATUS-001"}),
    _entry(auth_not_enforced, {"AUTH-001"}),
    _entry(any_token_accepted, {"AUTH-003"}),
    _entry(other_scheme_accepted, {"AUTH-002"}),
    _entry(token_case_folded, {"AUTH-003"}),
    _entry(basic_user_is_the_key, {"AUTH-002"}),
    _entry(scheme_spelled_exactly, {"STATUS-001"}),
    _entry(no_www_authenticate, {"AUTH-004"}),
    _entry(missing_rate_limit_per_day, {"SCHEMA-001"}),
    _entry(string_integers, {"SCHEMA-001"}),
    _entry(float_integers, {"SCHEMA-001"}),
    # A datetime is not a date, so period checks may count period_start as wrong too.
    _entry(datetime_period_start, {"SCHEMA-001"}, {"PERIOD-001", "PERIOD-003", "PERIOD-004"}),
    # Consecutive replies differ, whichever pair a check compares (windows, explicit default).
    _entry(plan_alternates, {"CONSIST-001"}, {"CONSIST-004", "CONSIST-005"}),
    # Usage drops between any two calls, so comparisons of different requests may see it too.
    _entry(used_decreases, {"CONSIST-002"}, {"CONSIST-003", "CONSIST-005", "CONSIST-006"}),
    # Usage scaled by 30 / days is not a sum of days, so adjacent windows do not add up either.
    _entry(prorated_used, {"CONSIST-003"}, {"CONSIST-006"}),
    # A window over an archived month and a recent one starts in the archive: zero, less than its
    # recent half alone.
    _entry(archive_window_empty, {"CONSIST-003"}, {"CONSIST-006"}),
    _entry(prorated_limits, {"CONSIST-004"}),
    # An explicit window ending today counts one day less than any window compared with it; two
    # adjacent explicit windows lose a day each, the window over both only one.
    _entry(explicit_end_exclusive, {"CONSIST-005"}, {"CONSIST-003", "CONSIST-006"}),
    # An end_date in year 1 (an extreme date) crashes the same way, should a generated case send one.
    _entry(leap_day_year_over_year_crash, {"STATUS-002"}, {"STATUS-003", "PERIOD-006"}),
    # Dec 2..Jan 1 uses less than Dec 2..31, and Dec 31 plus Jan 1 more than Dec 31..Jan 1.
    _entry(year_partition_of_end, {"CONSIST-003", "CONSIST-006"}),
    # 1970-01-01..Dec 31 uses less than Dec 2..31, and 0001-01-01..1969-12-31 plus 1970-01-01..Dec 31
    # less than 0001-01-01..Dec 31.
    _entry(epoch_start_is_unset, {"CONSIST-003", "CONSIST-006"}),
    _entry(leap_february_rollup, {"CONSIST-006"}),
    _entry(future_window_forecast, {"CONSIST-007"}),
    # --- round 3 ---
    # Feb 29 of a century year taken as Mar 1: a 200 where 422 was due.
    # As with invalid_day_clamped, a taken end_date before the 1st inverts the defaulted window.
    _entry(julian_leap_years, {"STATUS-004"}, {"PERIOD-003", "STATUS-005"}),
    # 2000-02-29 refused: a valid request that does not get 200.
    _entry(centuries_never_leap, {"STATUS-001"}),
    _entry(thirty_one_day_april, {"STATUS-004"}, {"PERIOD-003", "STATUS-005"}),
    _entry(jwt_signature_never_verified, {"AUTH-003"}),
    _entry(jwt_none_denylist_case_sensitive, {"AUTH-003"}),
    # A 500 is also an undocumented status.
    _entry(head_crashes, {"STATUS-002"}, {"STATUS-003"}),
    _entry(head_served_by_the_static_fallback, {"STATUS-009"}),
    _entry(head_answers_204, {"STATUS-009"}),
    # Every 200 and 422 body is unreadable: the schema rules of both.
    _entry(gzip_label_on_plain_bodies, {"SCHEMA-001"}, {"SCHEMA-002", "STATUS-005"}),
    # Losing a window's first day also makes the named default window differ from the omitted one
    # (CONSIST-005) and can make a narrower window show more than a wider one (CONSIST-003).
    _entry(multi_day_window_skips_first_day, {"CONSIST-006"}, {"CONSIST-003", "CONSIST-005"}),
    # A negative used also leaves remaining above the limit (METRIC-004) or not max(limit - used, 0)
    # as a client reads it (METRIC-005); wide windows over the first day show less than one inside.
    _entry(signup_credit_booked_as_usage, {"METRIC-001"}, {"METRIC-004", "METRIC-005", "CONSIST-003"}),
)

FAULTY: dict[str, ZooEntry] = {entry.name: entry for entry in _ENTRIES}


# --- conformant but tricky -----------------------------------------------------------------------

def reference() -> FastAPI:
    """The plain reference: lax dates (``2026-11-01T00:00:00``), last repeated value wins."""
    return create_app()


def extra_fields() -> FastAPI:
    """Undocumented extra fields, top level and inside metrics (the schema allows them)."""
    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        body["org_id"] = query.org.name
        body["billing_currency"] = "EUR"
        for name in METRICS:
            body[name]["unit"] = name
    return _edit_body(edit)


def varying_request_id() -> FastAPI:
    """A per-call ``request_id`` and ``served_at`` (µs) at the top level: extra fields that differ
    on every reply, which no cross-request rule may read as the contract's data changing."""
    calls = itertools.count(1)

    def edit(body: dict[str, Any], query: UsageQuery) -> None:
        call = next(calls)
        body["request_id"] = f"req-{call:08d}"
        body["served_at"] = call * 1_000_003
    return _edit_body(edit)


def forbidden_403() -> FastAPI:
    """FastAPI before 0.122: rejected credentials get 403 and no ``WWW-Authenticate``."""
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 401:
            return JSONResponse({"detail": exc.detail}, status_code=403)
        return await http_exception_handler(request, exc)

    app = create_app()
    app.add_exception_handler(StarletteHTTPException, handler)
    return app


def charset_json() -> FastAPI:
    """Every JSON reply says ``application/json; charset=utf-8``."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        if response.headers.get("content-type") == "application/json":
            response.headers["content-type"] = "application/json; charset=utf-8"
        return response
    return _with_middleware(middleware)


def over_quota() -> FastAPI:
    """An org already over quota this month (from the 1st): used > limit, remaining 0."""
    return _with_org(daily_rates={"tokens": 150_000, "queries": 1_500, "spaces": 3},
                     limits={"tokens": 100_000, "queries": 1_000, "spaces": UNLIMITED})


def all_unlimited() -> FastAPI:
    """An enterprise org: every limit and both rate limits are -1."""
    return _with_org(plan="enterprise", limits=dict.fromkeys(METRICS, UNLIMITED),
                     rate_limit_rpm=UNLIMITED, rate_limit_per_day=UNLIMITED)


def rate_limits_equal() -> FastAPI:
    """``rate_limit_per_day == rate_limit_rpm``: the boundary METRIC-007 allows."""
    return _with_org(rate_limit_rpm=1_000, rate_limit_per_day=1_000)


def fresh_org() -> FastAPI:
    """An org created today: every window that ends before today has zero usage."""
    return _with(orgs={REFERENCE_TOKEN: dataclasses.replace(PRO_ORG, created=utc_today())})


def uri_too_long_414() -> FastAPI:
    """Query strings over 4,096 bytes are refused with 414, a transport-level refusal."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        if len(request.scope["query_string"]) > URI_LIMIT:
            return PlainTextResponse("URI Too Long", status_code=414)
        return await call_next(request)
    return _with_middleware(middleware)


def other_methods_501() -> FastAPI:
    """Methods the contract does not define get 501 Not Implemented (RFC 9110; Apache, http.server)."""
    async def middleware(request: Request, call_next: CallNext) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return JSONResponse({"detail": "Not Implemented"}, status_code=501)
        return await call_next(request)
    return _with_middleware(middleware)


def gzip_compressed() -> FastAPI:
    """Replies are gzip-compressed when the client allows it (HTTP clients decode them)."""
    app = create_app()
    app.add_middleware(GZipMiddleware, minimum_size=1)
    return app


CONFORMANT: dict[str, AppFactory] = {
    create.__name__: create
    for create in (reference, extra_fields, varying_request_id, forbidden_403, charset_json, over_quota, all_unlimited,
                   rate_limits_equal, fresh_org, uri_too_long_414, other_methods_501, gzip_compressed)
}

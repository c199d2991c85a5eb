"""A faithful FastAPI implementation of the usage contract: the yardstick the suite is proven on.

The contract was generated from a FastAPI service, so a FastAPI server that obeys docs/design.md is
by definition conformant; whatever FastAPI itself does (HTTPBearer's 401, pydantic's lax dates,
last value wins for a repeated parameter) must pass certification. Its /openapi.json equals the
repository's ``openapi.json``, and a test pins that.

The server is deliberately independent of ``crosmos_contract.rules``: a suite proven against a server
that shares its rule code could not notice when both are wrong in the same way.

Faulty variants (``tests.servers.zoo``) reuse this app and change one thing through the hooks in
:class:`ServerOptions`, a dependency override or an added handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Security
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

UNLIMITED = -1
METRICS: tuple[str, ...] = ("tokens", "queries", "spaces")

REFERENCE_TOKEN = "csk_reference_0123456789abcdef"
"""The token every server in this package accepts; it belongs to the "pro" org."""
SECOND_TOKEN = "csk_second_org_fedcba9876543210"
"""A second org's token, so tests can tell that data is per org."""

INVALID_CREDENTIALS = "Invalid authentication credentials"
INVERTED_WINDOW = "start_date must be on or before end_date"


@dataclass(frozen=True)
class OrgProfile:
    """What the server knows about one org: plan, limits and a constant daily consumption.

    Usage is ``rate × days`` over the days of a window that fall between ``created`` and today,
    so any window, however wide, is answered in closed form.
    """

    name: str
    plan: str
    created: date
    daily_rates: Mapping[str, int]
    limits: Mapping[str, int]
    rate_limit_rpm: int
    rate_limit_per_day: int


PRO_ORG = OrgProfile(
    name="reference-pro",
    plan="pro",
    created=date(2020, 1, 1),
    # 25,000 tokens/day stays under 1,000,000 for any calendar month (31 days = 775,000) but
    # exceeds it after 40 days, so a "remaining not clamped" defect shows on wide windows.
    daily_rates=MappingProxyType({"tokens": 25_000, "queries": 900, "spaces": 2}),
    limits=MappingProxyType({"tokens": 1_000_000, "queries": 50_000, "spaces": UNLIMITED}),
    rate_limit_rpm=600,
    rate_limit_per_day=20_000,
)

TEAM_ORG = OrgProfile(
    name="second-team",
    plan="team",
    created=date(2023, 6, 15),
    daily_rates=MappingProxyType({"tokens": 40_000, "queries": 1_500, "spaces": 1}),
    limits=MappingProxyType({"tokens": 5_000_000, "queries": 200_000, "spaces": 100}),
    rate_limit_rpm=1_200,
    rate_limit_per_day=100_000,
)

ORGS: Mapping[str, OrgProfile] = MappingProxyType({REFERENCE_TOKEN: PRO_ORG, SECOND_TOKEN: TEAM_ORG})


def utc_today() -> date:
    """The server's "today": the UTC date, as docs/design.md defines it."""
    return datetime.now(UTC).date()


def billing_period(today: date) -> tuple[date, date]:
    """The default window: the 1st of the current month through today (PERIOD-001/002)."""
    return today.replace(day=1), today


@dataclass(frozen=True)
class UsageQuery:
    """One resolved request: whose usage, which window, and which bounds the client named."""

    org: OrgProfile
    start: date
    end: date
    today: date
    start_given: bool
    end_given: bool

    @property
    def days(self) -> int:
        """Calendar days in the window, both ends included."""
        return (self.end - self.start).days + 1


def usage_days(org: OrgProfile, start: date, end: date, today: date) -> int:
    """Days of ``start..end`` on which the org consumed anything: after creation, not after today."""
    first, last = max(start, org.created), min(end, today)
    return max((last - first).days + 1, 0)


def measure_usage(org: OrgProfile, start: date, end: date, today: date) -> dict[str, int]:
    """``used`` per metric over a window, in closed form (no loop over days)."""
    days = usage_days(org, start, end, today)
    return {name: org.daily_rates[name] * days for name in METRICS}


def remaining_for(limit: int, used: int) -> int:
    """-1 for unlimited, else what is left, never below zero."""
    return UNLIMITED if limit == UNLIMITED else max(limit - used, 0)


class UsageMetric(BaseModel):
    """Used / limit / remaining triple. ``-1`` limit means unlimited."""

    used: int
    limit: int
    remaining: int


class UsageResponse(BaseModel):
    """Aggregated org-level usage and current plan limits."""

    plan: str
    period_start: date
    period_end: date
    tokens: UsageMetric
    queries: UsageMetric
    spaces: UsageMetric
    rate_limit_rpm: int
    rate_limit_per_day: int


def usage_body(
    query: UsageQuery,
    *,
    used: Mapping[str, int] | None = None,
    limits: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The JSON body for ``query``; ``used``/``limits`` let a variant substitute its own figures
    while ``remaining`` still follows from them."""
    org = query.org
    used = used if used is not None else measure_usage(org, query.start, query.end, query.today)
    limits = limits if limits is not None else org.limits
    metrics = {
        name: UsageMetric(used=used[name], limit=limits[name],
                          remaining=remaining_for(limits[name], used[name]))
        for name in METRICS
    }
    response = UsageResponse(
        plan=org.plan,
        period_start=query.start,
        period_end=query.end,
        tokens=metrics["tokens"],
        queries=metrics["queries"],
        spaces=metrics["spaces"],
        rate_limit_rpm=org.rate_limit_rpm,
        rate_limit_per_day=org.rate_limit_per_day,
    )
    return response.model_dump(mode="json")


Renderer = Callable[[UsageQuery], dict[str, Any]]


@dataclass(frozen=True)
class ServerOptions:
    """Settings and the hooks a faulty variant may replace (each zoo entry replaces one).

    ``today`` lets tests pin the date; ``orgs`` maps tokens to orgs (the first is the default org
    that careless variants fall back to); ``default_window`` gives (start, end) for a day;
    ``reject_inverted`` turns the PERIOD-005 check on; ``render`` turns a resolved query into the
    200 body; ``media_type`` is the 200 body's content type.
    """

    today: Callable[[], date] = utc_today
    orgs: Mapping[str, OrgProfile] = field(default_factory=lambda: ORGS)
    default_window: Callable[[date], tuple[date, date]] = billing_period
    reject_inverted: bool = True
    render: Renderer = usage_body
    media_type: str = "application/json"

    @property
    def default_org(self) -> OrgProfile:
        return next(iter(self.orgs.values()))


class InvertedWindowError(RequestValidationError):
    """The app's own 422 for ``start > end``, a separate type so that variants which mishandle
    FastAPI's parsing errors leave this (correct) answer alone."""


BEARER = HTTPBearer(description="JWT access token or API key (csk_…)")


def options_of(request: Request) -> ServerOptions:
    """The options of the app serving ``request`` (each app carries its own)."""
    options: ServerOptions = request.app.state.options
    return options


def invalid_credentials() -> HTTPException:
    """The 401 for a well-formed Bearer header whose token is unknown (RFC 6750 header included)."""
    return HTTPException(status_code=401, detail=INVALID_CREDENTIALS,
                         headers={"WWW-Authenticate": "Bearer"})


def lookup_org(request: Request, token: str) -> OrgProfile:
    """The org owning ``token``, or a 401."""
    org = options_of(request).orgs.get(token)
    if org is None:
        raise invalid_credentials()
    return org


async def current_org(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials, Security(BEARER)]
) -> OrgProfile:
    """Authenticate the request. A module-level function so variants can swap it with
    ``app.dependency_overrides[current_org]``; HTTPBearer answers missing or malformed headers."""
    return lookup_org(request, credentials.credentials)


def resolve_query(
    request: Request, org: OrgProfile, start_date: date | None, end_date: date | None
) -> UsageQuery:
    """Apply the defaults and refuse an inverted window with FastAPI's own 422 shape."""
    options = options_of(request)
    today = options.today()
    default_start, default_end = options.default_window(today)
    start = start_date if start_date is not None else default_start
    end = end_date if end_date is not None else default_end
    if options.reject_inverted and start > end:
        raw = request.query_params.get("start_date")
        raise InvertedWindowError([{
            "type": "value_error",
            "loc": ("query", "start_date"),
            "msg": f"Value error, {INVERTED_WINDOW}",
            "input": raw if raw is not None else start.isoformat(),
            "ctx": {"error": INVERTED_WINDOW},
        }])
    return UsageQuery(org=org, start=start, end=end, today=today,
                      start_given=start_date is not None, end_given=end_date is not None)


router = APIRouter(prefix="/api/v1", tags=["usage"])


@router.get(
    "/usage",
    response_model=UsageResponse,
    summary="Get Usage",
    description="Return org-level usage for the active billing period and plan limits.",
)
async def get_usage(
    request: Request,
    org: Annotated[OrgProfile, Security(current_org)],
    start_date: Annotated[
        date | None, Query(description="Start date (defaults to 1st of current month)")
    ] = None,
    end_date: Annotated[date | None, Query(description="End date (defaults to today)")] = None,
) -> JSONResponse:
    """The endpoint. It returns a ready response so variants can serve bodies that the
    response model would have refused (strings for integers, missing fields)."""
    options = options_of(request)
    query = resolve_query(request, org, start_date, end_date)
    return JSONResponse(options.render(query), media_type=options.media_type)


def create_app(options: ServerOptions | None = None) -> FastAPI:
    """A fresh app; its options (and any per-app state a variant keeps) live in ``app.state``."""
    app = FastAPI(
        title="Crosmos Memory API",
        description="Agent memory system with hybrid retrieval",
        version="0.1.0",
    )
    app.state.options = options if options is not None else ServerOptions()
    app.include_router(router)
    app.add_exception_handler(InvertedWindowError, request_validation_exception_handler)  # type: ignore[arg-type]

    def contract_openapi() -> dict[str, Any]:
        # FastAPI omits empty top-level ``servers``/``security``; the contract states them.
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            app.openapi_schema = {
                "openapi": schema["openapi"],
                "info": schema["info"],
                "servers": [],
                "security": [],
                **{key: value for key, value in schema.items() if key not in ("openapi", "info")},
            }
        return app.openapi_schema

    app.openapi = contract_openapi  # type: ignore[method-assign]
    return app

"""The check catalogue: every rule of the contract's meaning, as data.

Ids are stable (a check may be added, never renumbered); a snapshot test pins them.
MUST rules fail certification at level ``core``; SHOULD rules fail level ``full``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    level: Level
    title: str
    rule: str

    @property
    def category(self) -> str:
        return self.id.split("-", 1)[0]


def _c(id_: str, level: str, title: str, rule: str) -> CheckSpec:
    return CheckSpec(id_, Level(level), title, rule)


CATALOGUE: tuple[CheckSpec, ...] = (
    _c("STATUS-001", "MUST", "Valid request gets 200",
       "A request with valid credentials and valid parameters gets 200."),
    _c("STATUS-002", "MUST", "No server errors",
       "No response is 5xx, whatever the input (501 for a method the contract does not define is "
       "RFC 9110's answer, not a server error)."),
    _c("STATUS-003", "MUST", "Only documented statuses",
       "Statuses are the documented ones (200, 422), or 401/403 for rejected credentials; other "
       "4xx only for transport-level refusals (414/431 for oversized requests, 405 or 501 for other "
       "methods)."),
    _c("STATUS-004", "MUST", "Invalid date gets 422",
       "A value that is not a date (`not-a-date`, `2026-02-30`, `2026-13-01`) gets 422."),
    _c("STATUS-005", "MUST", "422 names the parameter",
       "A 422 body is an HTTPValidationError whose `detail[].loc` names the parameter "
       "(`[\"query\",\"start_date\"]`)."),
    _c("STATUS-006", "MUST", "JSON content type",
       "200 and 422 bodies are `application/json` (charset parameter allowed)."),
    _c("STATUS-007", "SHOULD", "Unknown parameters ignored",
       "Unknown query parameters are ignored (200)."),
    _c("STATUS-008", "SHOULD", "Timely replies",
       "Replies in under 2 s at light load (configurable)."),
    _c("STATUS-009", "MUST", "HEAD mirrors GET",
       "A HEAD that gets 2xx gets GET's status and Content-Type, and no body (RFC 9110 §9.3.2); "
       "405 or 501 is a refusal, never a finding."),
    _c("AUTH-001", "MUST", "Credentials required",
       "No `Authorization` header -> 401 or 403, and no usage data in the body."),
    _c("AUTH-002", "MUST", "Bearer scheme enforced",
       "A scheme other than Bearer, or a malformed header -> 401 or 403."),
    _c("AUTH-003", "MUST", "Bad tokens rejected",
       "An unknown or malformed token -> 401 or 403."),
    _c("AUTH-004", "SHOULD", "WWW-Authenticate on 401",
       "A 401 carries `WWW-Authenticate: Bearer` (RFC 6750)."),
    _c("SCHEMA-001", "MUST", "200 body matches UsageResponse",
       "A 200 body validates against UsageResponse: every required field, integers that are "
       "integers (not strings, booleans or floats), dates as `YYYY-MM-DD`."),
    _c("SCHEMA-002", "MUST", "422 body matches HTTPValidationError",
       "A 422 body validates against HTTPValidationError."),
    _c("PERIOD-001", "MUST", "Default start is the 1st",
       "No `start_date` -> `period_start` is the 1st of the current month."),
    _c("PERIOD-002", "MUST", "Default end is today",
       "No `end_date` -> `period_end` is today."),
    _c("PERIOD-003", "MUST", "Given dates echoed",
       "A given `start_date` is echoed as `period_start`; a given `end_date` as `period_end`."),
    _c("PERIOD-004", "MUST", "Period in order",
       "`period_start <= period_end` in every 200."),
    _c("PERIOD-005", "MUST", "Inverted window rejected",
       "`start_date > end_date` (given or defaulted) -> 422, never a 200 with an inverted period."),
    _c("PERIOD-006", "MUST", "Extreme dates handled",
       "Extreme but valid dates (`0001-01-01`, `9999-12-31`) -> 200 or 422, never 5xx."),
    _c("METRIC-001", "MUST", "Used is non-negative", "`used >= 0`."),
    _c("METRIC-002", "MUST", "Limit is -1 or non-negative",
       "`limit == -1` (unlimited) or `limit >= 0`."),
    _c("METRIC-003", "MUST", "Unlimited has remaining -1",
       "`limit == -1` => `remaining == -1`."),
    _c("METRIC-004", "MUST", "Remaining within limit",
       "`limit >= 0` => `0 <= remaining <= limit` (a negative remaining would read as \"unlimited\")."),
    _c("METRIC-005", "SHOULD", "Remaining is limit minus used",
       "`limit >= 0` => `remaining == max(limit - used, 0)`."),
    _c("METRIC-006", "MUST", "Rate limits positive or -1",
       "`rate_limit_rpm` and `rate_limit_per_day` are positive or -1."),
    _c("METRIC-007", "SHOULD", "Daily rate covers per-minute rate",
       "`rate_limit_per_day >= rate_limit_rpm` when both are finite."),
    _c("METRIC-008", "MUST", "Plan named", "`plan` is a non-empty string."),
    _c("CONSIST-001", "MUST", "Stable between identical requests",
       "Identical requests moments apart give the same plan, limits, rate limits and period."),
    _c("CONSIST-002", "SHOULD", "Usage never decreases",
       "`used` never decreases between identical requests."),
    _c("CONSIST-003", "SHOULD", "Wider window, no less usage",
       "Usage over a window is >= usage over any window inside it (fetch the narrow one first)."),
    _c("CONSIST-004", "SHOULD", "Limits independent of window",
       "Limits and plan do not depend on the requested window."),
    _c("CONSIST-005", "SHOULD", "Explicit default window equals none",
       "Naming the default window explicitly gives the same body as omitting the parameters."),
    _c("CONSIST-006", "SHOULD", "Adjacent windows add up",
       "For tokens and queries, `used` over `a..b` plus `used` over `b+1..c` equals `used` over `a..c`, "
       "for windows that end before today (spaces count what exists, not what happened)."),
    _c("CONSIST-007", "SHOULD", "Future windows unused",
       "A window that starts after today reports `used` 0 for tokens and queries."),
)

BY_ID: dict[str, CheckSpec] = {check.id: check for check in CATALOGUE}


def get(check_id: str) -> CheckSpec:
    """The catalogue entry for ``check_id``; a KeyError names the unknown id."""
    return BY_ID[check_id]

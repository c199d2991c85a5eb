"""The contract's meaning as small pure functions: one source of truth.

JSON Schema fixes the shape of a usage response; these functions say what it must *mean*
(docs/design.md, "What the contract means"). The mock generates through them and checks its
own output with them; the conformance suite judges real servers with the same functions.
Stdlib only, no I/O.

Every ``check_*`` function returns a list of :class:`Violation` (empty means the rule holds).
Rules judge only well-typed values: a string where an integer belongs is SCHEMA-001's finding,
so the rules skip it rather than fail "by accident" under another id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeGuard

UNLIMITED = -1
METRIC_NAMES: tuple[str, ...] = ("tokens", "queries", "spaces")
RATE_LIMIT_FIELDS: tuple[str, ...] = ("rate_limit_rpm", "rate_limit_per_day")
# UsageResponse's own fields: cross-request rules compare these only, since the schema allows
# extra properties and an extra field (a request id, a timestamp) may vary from call to call.
CONTRACT_FIELDS: tuple[str, ...] = ("plan", "period_start", "period_end", *METRIC_NAMES, *RATE_LIMIT_FIELDS)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Violation:
    """One broken rule: its catalogue id, what was received and what the rule expected."""

    rule_id: str
    received: str
    expected: str

    @property
    def message(self) -> str:
        return f"Received {self.received} / Expected {self.expected}"

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.message}"


# --- small helpers ---------------------------------------------------------------------------

def is_int(value: object) -> TypeGuard[int]:
    """True for a JSON integer (a bool is not one, though Python says it is)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_iso_date(value: object) -> date | None:
    """A strict ``YYYY-MM-DD`` date, or None for anything else (including impossible dates)."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def first_of_month(today: date) -> date:
    return today.replace(day=1)


# --- PERIOD: defaults, echo, order -------------------------------------------------------------

def default_period(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The window a request names: PERIOD-001 (start defaults to the 1st), PERIOD-002 (end to today)."""
    return (start if start is not None else first_of_month(today),
            end if end is not None else today)


def window_is_valid(start: date, end: date) -> bool:
    """PERIOD-004/005: a window is valid only in order; an inverted one must be refused with 422."""
    return start <= end


def effective_window(today: date, start: date | None, end: date | None) -> tuple[date, date] | None:
    """The window a request names, its missing ends defaulted (:func:`default_period`); None when
    it ends before it starts, a window to refuse (:func:`window_is_valid`)."""
    window = default_period(today, start, end)
    return window if window_is_valid(*window) else None


def check_period(
    body: Mapping[str, Any],
    *,
    today_candidates: Iterable[date],
    start_param: date | None,
    end_param: date | None,
) -> list[Violation]:
    """PERIOD-001..004 for a 200 body.

    ``today_candidates`` holds every day the server may have considered "today" (two when a
    request straddles midnight); a default matching any of them passes.
    """
    found: list[Violation] = []
    todays = sorted(set(today_candidates))
    start = parse_iso_date(body.get("period_start"))
    end = parse_iso_date(body.get("period_end"))
    if start is not None:
        if start_param is None:
            expected = sorted({first_of_month(t) for t in todays})
            if start not in expected:
                found.append(Violation("PERIOD-001",
                    f"period_start {start.isoformat()} with no start_date", f"the 1st "
                    f"of the current month ({_either(expected)})"))
        elif start != start_param:
            found.append(Violation("PERIOD-003",
                f"period_start {start.isoformat()}", f"the given start_date "
                f"{start_param.isoformat()}"))
    if end is not None:
        if end_param is None:
            if end not in todays:
                found.append(Violation("PERIOD-002",
                    f"period_end {end.isoformat()} with no end_date", f"today "
                    f"({_either(todays)})"))
        elif end != end_param:
            found.append(Violation("PERIOD-003",
                f"period_end {end.isoformat()}", f"the given end_date "
                f"{end_param.isoformat()}"))
    if start is not None and end is not None and not window_is_valid(start, end):
        found.append(Violation("PERIOD-004", f"period_start {start.isoformat()} after period_end {end.isoformat()}",
                               "period_start <= period_end"))
    return found


def _either(days: Iterable[date]) -> str:
    return " or ".join(d.isoformat() for d in days)


# --- METRIC: the UsageMetric triple and rate limits ----------------------------------------------

def remaining_for(limit: int, used: int) -> int:
    """The remaining a correct server reports: -1 when unlimited (METRIC-003), else clamped (METRIC-005)."""
    if limit == UNLIMITED:
        return UNLIMITED
    return max(limit - used, 0)


def metric_triples(usage: Mapping[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    """Every metric's UsageMetric as a correct server reports it, from its ``(used, limit)``:
    ``remaining`` by :func:`remaining_for`."""
    triples = {}
    for name in METRIC_NAMES:
        used, limit = usage[name]
        triples[name] = {"used": used, "limit": limit, "remaining": remaining_for(limit, used)}
    return triples


def check_metric(name: str, metric: object) -> list[Violation]:
    """METRIC-001..005 for one UsageMetric (``name`` is tokens, queries or spaces)."""
    if not isinstance(metric, Mapping):
        return []
    used, limit, remaining = metric.get("used"), metric.get("limit"), metric.get("remaining")
    found: list[Violation] = []
    if is_int(used) and used < 0:
        found.append(Violation("METRIC-001", f"{name}.used = {used}", "used >= 0"))
    if not is_int(limit):
        return found
    if limit < 0 and limit != UNLIMITED:
        found.append(Violation("METRIC-002",
            f"{name}.limit = {limit}", "-1 (unlimited) or a limit >= 0"))
        return found
    if not is_int(remaining):
        return found
    if limit == UNLIMITED:
        if remaining != UNLIMITED:
            found.append(Violation("METRIC-003",
                f"{name}.remaining = {remaining} with limit -1", "remaining -1"))
        return found
    if not 0 <= remaining <= limit:
        found.append(Violation("METRIC-004",
            f"{name}.remaining = {remaining} with limit {limit}",
            f"0 <= remaining <= {limit}"))
    elif is_int(used) and used >= 0 and remaining != remaining_for(limit, used):
        found.append(Violation("METRIC-005",
            f"{name}.remaining = {remaining} with used {used}, limit {limit}",
            f"max(limit - used, 0) = {remaining_for(limit, used)}"))
    return found


def metric_rules_exercised(body: Mapping[str, Any]) -> set[str]:
    """The METRIC rules a usage body gives a chance to break: a rule about ``limit == -1`` is not
    exercised by a body without an unlimited metric, and must not read as a pass."""
    exercised = {"METRIC-001", "METRIC-002", "METRIC-006", "METRIC-008"}
    for name in METRIC_NAMES:
        metric = body.get(name)
        limit = metric.get("limit") if isinstance(metric, Mapping) else None
        if is_int(limit) and limit == UNLIMITED:
            exercised.add("METRIC-003")
        elif is_int(limit) and limit >= 0:
            exercised.update({"METRIC-004", "METRIC-005"})
    rpm, per_day = (body.get(field) for field in RATE_LIMIT_FIELDS)
    if is_int(rpm) and is_int(per_day) and rpm > 0 and per_day > 0:
        exercised.add("METRIC-007")
    return exercised


def check_rate_limits(body: Mapping[str, Any]) -> list[Violation]:
    """METRIC-006 (positive or -1) and METRIC-007 (per day covers per minute)."""
    found: list[Violation] = []
    values = {field: body.get(field) for field in RATE_LIMIT_FIELDS}
    for field, value in values.items():
        if is_int(value) and value != UNLIMITED and value <= 0:
            found.append(Violation("METRIC-006",
                f"{field} = {value}", "a positive limit or -1 (unlimited)"))
    rpm, per_day = values["rate_limit_rpm"], values["rate_limit_per_day"]
    if is_int(rpm) and is_int(per_day) and rpm > 0 and per_day > 0 and per_day < rpm:
        found.append(Violation("METRIC-007",
            f"rate_limit_per_day = {per_day} below rate_limit_rpm = {rpm}",
            "rate_limit_per_day >= rate_limit_rpm"))
    return found


def check_plan(body: Mapping[str, Any]) -> list[Violation]:
    """METRIC-008: the plan is a non-empty string."""
    plan = body.get("plan")
    if isinstance(plan, str) and not plan.strip():
        return [Violation("METRIC-008", f"plan {plan!r}", "a non-empty plan name")]
    return []


def check_usage_body(
    body: Mapping[str, Any],
    *,
    today_candidates: Iterable[date],
    start_param: date | None,
    end_param: date | None,
) -> list[Violation]:
    """Every rule a single 200 usage body can show (PERIOD-001..004, METRIC-001..008)."""
    return check_period(body, today_candidates=today_candidates, start_param=start_param,
                        end_param=end_param) + check_usage_values(body)


def usage_body_findings(
    body: Mapping[str, Any],
    *,
    today_candidates: Iterable[date],
    start_param: date | None,
    end_param: date | None,
) -> tuple[set[str], list[Violation]]:
    """The judge's one question about a 200 usage body: the METRIC rules it gave a chance to break
    (:func:`metric_rules_exercised`), and every rule it breaks (:func:`check_usage_body`)."""
    return metric_rules_exercised(body), check_usage_body(body, today_candidates=today_candidates,
                                                          start_param=start_param, end_param=end_param)


def check_usage_values(body: Mapping[str, Any]) -> list[Violation]:
    """The rules that hold whatever was asked (METRIC-001..008): for a body that answers a
    request the server should have refused, whose period means nothing."""
    found: list[Violation] = []
    for name in METRIC_NAMES:
        found.extend(check_metric(name, body.get(name)))
    found.extend(check_rate_limits(body))
    found.extend(check_plan(body))
    return found

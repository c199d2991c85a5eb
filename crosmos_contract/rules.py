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


# --- CONSIST: what two responses say about each other -------------------------------------------

def _limits_view(body: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"plan": body.get("plan")}
    for name in METRIC_NAMES:
        metric = body.get(name)
        view[f"{name}.limit"] = metric.get("limit") if isinstance(metric, Mapping) else None
    for field in RATE_LIMIT_FIELDS:
        view[field] = body.get(field)
    return view


def _differences(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    keys = list(first) + [key for key in second if key not in first]
    return [f"{key}: {first.get(key)!r} then {second.get(key)!r}"
            for key in keys if first.get(key) != second.get(key)]


def check_stable_between(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[Violation]:
    """CONSIST-001 (plan, limits, rate limits, period unchanged) and CONSIST-002 (used never drops)
    for two identical requests, ``first`` answered before ``second``."""
    found: list[Violation] = []
    before, after = _limits_view(first), _limits_view(second)
    for field in ("period_start", "period_end"):
        before[field], after[field] = first.get(field), second.get(field)
    changed = _differences(before, after)
    if changed:
        found.append(Violation("CONSIST-001",
            f"{'; '.join(changed)} for identical requests", "the same plan, "
            "limits, rate limits and period"))
    for name in METRIC_NAMES:
        used_before, used_after = _used(first, name), _used(second, name)
        if used_before is not None and used_after is not None and used_after < used_before:
            found.append(Violation("CONSIST-002", f"{name}.used {used_before} then {used_after} for identical "
                                   "requests", "used never to decrease"))
    return found


def check_window_monotonic(inner: Mapping[str, Any], outer: Mapping[str, Any], inner_asked: str | None = None,
                           outer_asked: str | None = None) -> list[Violation]:
    """CONSIST-003: usage over ``outer`` (a window containing ``inner``'s) is no less.

    Fetch ``inner`` first, so usage that grows between the two requests cannot hide a defect.
    ``*_asked`` name the windows as requested (a server may not echo them); else the bodies' own.
    """
    found: list[Violation] = []
    for name in METRIC_NAMES:
        inner_used, outer_used = _used(inner, name), _used(outer, name)
        if inner_used is not None and outer_used is not None and outer_used < inner_used:
            found.append(Violation("CONSIST-003",
                f"{name}.used {outer_used} for the window asked as {outer_asked or _window(outer)} but "
                f"{inner_used} for the narrower {inner_asked or _window(inner)}", "the wider window "
                "to use at least as much"))
    return found


def check_window_independent(first: Mapping[str, Any], second: Mapping[str, Any], first_asked: str | None = None,
                             second_asked: str | None = None) -> list[Violation]:
    """CONSIST-004: plan, limits and rate limits are the same whatever window was asked for."""
    changed = _differences(_limits_view(first), _limits_view(second))
    if not changed:
        return []
    return [Violation("CONSIST-004",
        f"{'; '.join(changed)} for the windows asked as {first_asked or _window(first)} and "
        f"{second_asked or _window(second)}", "plan, limits and rate limits not to depend on the window")]


def check_explicit_default(implicit: Mapping[str, Any], explicit: Mapping[str, Any]) -> list[Violation]:
    """CONSIST-005: naming the default window gives the same body as omitting it.

    ``used`` may only grow between the two requests (CONSIST-002 covers that), so usage counts
    are compared as "not less"; the contract's other fields must be equal, extra ones are free.
    """
    def without_used(body: Mapping[str, Any]) -> dict[str, Any]:
        view = {k: body.get(k) for k in CONTRACT_FIELDS if k not in METRIC_NAMES}
        for name in METRIC_NAMES:
            metric = body.get(name)
            if isinstance(metric, Mapping):
                view[f"{name}.limit"] = metric.get("limit")
        return view

    changed = _differences(without_used(implicit), without_used(explicit))
    changed += [f"{name}.used: {_used(implicit, name)} then {_used(explicit, name)}"
                for name in METRIC_NAMES
                if (a := _used(implicit, name)) is not None and (b := _used(explicit, name)) is not None
                and b < a]
    if not changed:
        return []
    return [Violation("CONSIST-005",
        f"{'; '.join(changed)} between no parameters and the same window named "
        "explicitly", "the same body")]


def _used(body: Mapping[str, Any], name: str) -> int | None:
    metric = body.get(name)
    if isinstance(metric, Mapping) and is_int(metric.get("used")):
        return int(metric["used"])
    return None


def _window(body: Mapping[str, Any]) -> str:
    return f"{body.get('period_start')}..{body.get('period_end')}"


# --- CONSIST: additivity and the future ----------------------------------------------------------

# Metrics that count what happened on a day (consumption), so usage over a window is the sum of its
# days. ``spaces`` counts what exists, which need not add up over adjacent windows.
ADDITIVE_METRICS: tuple[str, ...] = ("tokens", "queries")


def check_window_additive(left: Mapping[str, Any], right: Mapping[str, Any], whole: Mapping[str, Any],
                          left_asked: str | None = None, right_asked: str | None = None,
                          whole_asked: str | None = None) -> list[Violation]:
    """CONSIST-006: for tokens and queries, used over ``a..b`` plus used over ``b+1..c`` equals used
    over ``a..c``.

    The caller asks for adjacent windows (``right`` starts the day after ``left`` ends, ``whole``
    spans both) that all end before today, so no usage can arrive between the requests.
    ``*_asked`` name the windows as requested (a server may not echo them); else the bodies' own.
    """
    found: list[Violation] = []
    for name in ADDITIVE_METRICS:
        parts, total = (_used(left, name), _used(right, name)), _used(whole, name)
        if parts[0] is None or parts[1] is None or total is None or parts[0] + parts[1] == total:
            continue
        found.append(Violation("CONSIST-006",
            f"{name}.used {parts[0]} for the window asked as {left_asked or _window(left)} plus "
            f"{parts[1]} for the adjacent {right_asked or _window(right)} = {parts[0] + parts[1]}, but "
            f"{total} for {whole_asked or _window(whole)}", "usage over adjacent past windows to add "
            "up to the usage over both"))
    return found


def check_future_window_unused(body: Mapping[str, Any], asked: str | None = None) -> list[Violation]:
    """CONSIST-007: a window that starts after today reports ``used`` 0 for tokens and queries
    (nothing has been consumed on a day that has not come; ``spaces`` counts what exists).

    The caller asks only for windows starting after every day the server may take for today.
    """
    found: list[Violation] = []
    for name in ADDITIVE_METRICS:
        used = _used(body, name)
        if used is not None and used != 0:
            found.append(Violation("CONSIST-007",
                f"{name}.used {used} for the window asked as {asked or _window(body)}, which starts "
                "after today", "used 0 for a window in the future"))
    return found


def _media_type(value: str | None) -> str | None:
    return None if value is None else value.split(";", 1)[0].strip().lower()


def check_head_mirrors_get(get_status: int, get_content_type: str | None, get_length: int, head_status: int,
                           head_content_type: str | None, head_content_length: str | None,
                           head_body_length: int) -> list[Violation]:
    """STATUS-009: a HEAD answered with 2xx is GET without the body (RFC 9110 §9.3.2): the same
    status and Content-Type, no content, and a Content-Length, if sent, that is GET's.

    The caller sends HEAD and GET for the same request moments apart; a HEAD refused (405, 501)
    or failing (5xx, judged by STATUS-002) is no business of this rule.
    """
    if not 200 <= head_status < 300:
        return []
    found: list[Violation] = []
    if head_status != get_status:
        found.append(Violation("STATUS-009", f"HEAD {head_status} where GET got {get_status}",
                               "the status GET gets"))
    if _media_type(head_content_type) != _media_type(get_content_type):
        found.append(Violation("STATUS-009", f"HEAD Content-Type {head_content_type!r} where GET has "
                                             f"{get_content_type!r}", "GET's Content-Type"))
    if head_body_length:
        found.append(Violation("STATUS-009", f"HEAD {head_status} with a body of {head_body_length} bytes",
                               "no body in a reply to HEAD"))
    if head_content_length is not None and head_content_length.strip() != str(get_length) and get_status == head_status:
        found.append(Violation("STATUS-009", f"HEAD Content-Length {head_content_length} where GET's body has "
                                             f"{get_length} bytes", "GET's Content-Length, or none"))
    return found

"""The contract's meaning across responses: what two or three answers of one server say about
each other (CONSIST-001..007), and what a HEAD says beside its GET (STATUS-009).

:mod:`crosmos_contract.rules` judges one response; these rules compare several, asked by the
conformance suite's probes (:mod:`conformance.probes`) and held true by the mock's ledger. Same
conventions: stdlib only, no I/O, each ``check_*`` returns the :class:`~crosmos_contract.rules.Violation`
list (empty: the rule holds), and only well-typed values are judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crosmos_contract.rules import CONTRACT_FIELDS, METRIC_NAMES, RATE_LIMIT_FIELDS, Violation, is_int

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

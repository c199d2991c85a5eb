"""Probes of the request's shape: dates the contract refuses or does not define, a parameter it lacks,
a long query, and methods besides GET.

Each reply meets the per-response checks (the date readings, no 5xx, latency); HEAD is also held
against GET of the same request (STATUS-009).
"""

from __future__ import annotations

from conformance.probes.dates import Calendar, _iso
from conformance.probes.protocol import ProbeSession
from crosmos_contract.consistency import check_head_mirrors_get

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

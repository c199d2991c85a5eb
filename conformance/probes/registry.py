"""The probes the suite runs, in the order it runs them, and those each further credential repeats.

:data:`PROBES` is the one list: the engine runs it (``limits-across-windows`` last, as it reads
every body the others collected) and the dry run walks it. Each entry names the rules it covers and
says in a line what it asks.
"""

from __future__ import annotations

from conformance.probes.additive import additive_windows
from conformance.probes.auth import credentials, unissued_jwts
from conformance.probes.calendar_rules import _calendar_part
from conformance.probes.edges import edge_dates, edge_windows
from conformance.probes.history import org_history
from conformance.probes.protocol import Probe
from conformance.probes.request_shapes import (
    bad_dates,
    extreme_dates,
    head_and_options,
    lax_dates,
    long_query,
    unknown_parameter,
)
from conformance.probes.windows import (
    defaults,
    explicit_default_window,
    future_windows,
    inverted_windows,
    limits_across_windows,
    nested_windows,
    repeated_requests,
)

# What each further credential is asked: the probes whose rules hold per org (defaults, windows,
# repeats, HEAD), not the ones about rejected credentials or dates, which the first one covers.
PER_CREDENTIAL: tuple[str, ...] = ("defaults", "repeated-requests", "nested-windows", "explicit-default-window",
                                   "future-windows", "limits-across-windows")


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

"""Targeted probes: the requests generated data does not reach, and the rules that need several.

Generators rarely name the default window explicitly, fetch nested windows in a useful order, or
send a JWT with ``alg: none``. Each probe here asks for exactly that, through a
:class:`ProbeSession` that sends, judges every response with the per-response checks, and
records what the probe concludes across responses (CONSIST-001..005).

One module per concept: :mod:`.protocol` (what a probe is and may ask of its session),
:mod:`.dates` (the dates the probes derive from the server's today), the probe families
(:mod:`.windows`, :mod:`.edges`, :mod:`.additive`, :mod:`.history`, :mod:`.auth`,
:mod:`.request_shapes`, :mod:`.calendar_rules`), :mod:`.registry` (the list the engine runs) and
:mod:`.dry_session` (the probes without a server). Every public name is re-exported here:
``conformance.probes`` stays the one import path.
"""

from __future__ import annotations

from conformance.probes.additive import additive_triples, additive_windows
from conformance.probes.auth import (
    CREDENTIAL_PROBES,
    NOT_YOUR_KEY,
    PROBE_CLAIMS,
    credentials,
    decode_jwt,
    jwt_variants,
    real_token_variants,
    unissued_jwts,
)
from conformance.probes.calendar_rules import DateCase, calendar_cases
from conformance.probes.dates import EPOCH, FIRST_DAY, LAST_DAY, SETTLED, Calendar, Span, asked_window
from conformance.probes.dry_session import DryRun, dry_run
from conformance.probes.edges import edge_date_values, edge_dates, edge_window_pairs, edge_windows
from conformance.probes.history import (
    HISTORY_SAMPLES,
    HISTORY_STEPS,
    first_usage_day,
    history_days,
    org_history,
)
from conformance.probes.protocol import KEEP_TOKEN, Params, Probe, ProbeSession
from conformance.probes.registry import PER_CREDENTIAL, PROBES
from conformance.probes.request_shapes import (
    BAD_DATES,
    LONG_QUERY_PADDING,
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
    future_window_spans,
    future_windows,
    inverted_windows,
    limits_across_windows,
    nested_windows,
    repeated_requests,
)

__all__ = [
    "BAD_DATES", "CREDENTIAL_PROBES", "EPOCH", "FIRST_DAY", "HISTORY_SAMPLES", "HISTORY_STEPS", "KEEP_TOKEN",
    "LAST_DAY", "LONG_QUERY_PADDING", "NOT_YOUR_KEY", "PER_CREDENTIAL", "PROBES", "PROBE_CLAIMS", "SETTLED",
    "Calendar", "DateCase", "DryRun", "Params", "Probe", "ProbeSession", "Span",
    "additive_triples", "additive_windows", "asked_window", "bad_dates", "calendar_cases", "credentials",
    "decode_jwt", "defaults", "dry_run", "edge_date_values", "edge_dates", "edge_window_pairs", "edge_windows",
    "explicit_default_window", "extreme_dates", "first_usage_day", "future_window_spans", "future_windows",
    "head_and_options", "history_days", "inverted_windows", "jwt_variants", "lax_dates", "limits_across_windows",
    "long_query", "nested_windows", "org_history", "real_token_variants", "repeated_requests", "unissued_jwts",
    "unknown_parameter",
]

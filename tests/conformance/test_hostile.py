"""Servers that misbehave at the transport level: the suite ends, in bounded time, with an answer."""

from __future__ import annotations

import time

import pytest

from conformance.transport import ConnectionProblem
from tests.conformance.conftest import certify
from tests.servers.hostile import BEHAVIOURS, serve_hostile

TIMEOUT = 1.0
MAX_BODY_BYTES = 4096
BUDGET = 10.0
# The engine checks its budget between probes and between schemathesis scenarios, so it may
# overrun by one scenario (the coverage phase's: a few dozen requests, each cut at TIMEOUT and
# MAX_BODY_BYTES). Twice the budget plus 30 s holds on a loaded 2-core machine; a run that read
# a hostile body to its end (tens of MB) or waited on a silent server would not fit.
WORST_CASE_S = BUDGET * 2 + 30


@pytest.mark.parametrize("name", BEHAVIOURS.keys())
def test_a_hostile_server_is_reported_not_waited_for(name: str) -> None:
    started = time.monotonic()
    with serve_hostile(BEHAVIOURS[name]) as server:
        try:
            result = certify(server.base_url, token="csk_hostile_probe_0001", timeout=TIMEOUT,
                             max_body_bytes=MAX_BODY_BYTES, budget=BUDGET)
        except ConnectionProblem as problem:
            assert "no usable response" in str(problem)
        else:
            assert not result.conformant
            assert result.findings
            assert result.stop_reason == "completed"  # every probe and case sent, none waited out
    assert time.monotonic() - started < WORST_CASE_S


def test_a_body_without_end_is_read_only_to_the_cap_by_every_request() -> None:
    """schemathesis's own capability probes included: the server sees its sends cut short."""
    with serve_hostile(BEHAVIOURS["endless-chunked"]) as server:
        result = certify(server.base_url, token="csk_hostile_probe_0001", timeout=TIMEOUT,
                         max_body_bytes=MAX_BODY_BYTES, budget=BUDGET)
        assert server.completed_sends == 0  # no request read the 34 MB body to its end
    assert result.stop_reason == "completed"
    assert "SCHEMA-001" in result.failed_ids

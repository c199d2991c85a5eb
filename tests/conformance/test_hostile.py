"""Servers that misbehave at the transport level: the suite ends, in bounded time, with an answer."""

from __future__ import annotations

import time

import pytest

from conformance.client import ConnectionProblem
from tests.conformance.conftest import certify
from tests.servers.hostile import BEHAVIOURS, serve_hostile

TIMEOUT = 1.0
# Bounded by the per-request timeout and the circuit breaker, not by the server's patience.
WORST_CASE_S = 20


@pytest.mark.parametrize("name", BEHAVIOURS.keys())
def test_a_hostile_server_is_reported_not_waited_for(name: str) -> None:
    started = time.monotonic()
    with serve_hostile(BEHAVIOURS[name]) as server:
        try:
            result = certify(server.base_url, token="csk_hostile_probe_0001", timeout=TIMEOUT,
                             max_body_bytes=4096)
        except ConnectionProblem as problem:
            assert "no usable response" in str(problem)
        else:
            assert not result.conformant
            assert result.findings
    assert time.monotonic() - started < WORST_CASE_S

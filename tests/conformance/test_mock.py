"""The project's own mock, started as users start it, certified at level full."""

from __future__ import annotations

from conformance.result import CertLevel
from mockserver.serving.launch import running_mock
from tests.conformance.conftest import certify

MOCK_TOKEN = "csk_conformance_mock_0001"


def test_the_mock_is_certified_at_level_full() -> None:
    with running_mock(seed=0, extra_args=["--token", MOCK_TOKEN]) as url:  # as a real server: one valid token
        result = certify(url, token=MOCK_TOKEN, level=CertLevel.FULL)
    failures = [f"{f.check_id}: Received {f.received} / Expected {f.expected}\n  {f.curl}" for f in result.findings]
    assert result.conformant, "\n".join(failures)
    assert not result.failed_ids

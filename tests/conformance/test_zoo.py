"""The proof: every single-defect server fails by the check that names its defect, and every
tricky-but-conformant server passes at level full (no false alarm)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from conformance.result import CertLevel, SuiteResult
from tests.conformance.conftest import certify, serve
from tests.servers.zoo import CONFORMANT, FAULTY, ZooEntry


@pytest.mark.parametrize("entry", FAULTY.values(), ids=FAULTY.keys())
def test_each_defect_fails_by_the_check_that_names_it(entry: ZooEntry) -> None:
    with serve(entry.create_app()) as url:
        result = certify(url)
    failed = result.failed_ids
    missed = entry.expected - failed
    false_alarms = failed - entry.expected - entry.tolerated
    assert not missed, f"{entry.name}: {entry.description}\nnot flagged: {sorted(missed)}"
    assert not false_alarms, f"{entry.name}: flagged by accident: {_explain(result, false_alarms)}"
    assert not result.conformant
    # The report's "Responses" never counts more responses than were received (a body with
    # several float fields is one failing response).
    overcounted = [(c.id, c.exercised, c.occurrences) for c in result.checks
                   if max(c.exercised, c.occurrences) > result.requests]
    assert not overcounted, (result.requests, overcounted)


@pytest.mark.parametrize("name", CONFORMANT.keys())
def test_tricky_but_conformant_servers_pass_at_level_full(name: str) -> None:
    with serve(CONFORMANT[name]()) as url:
        result = certify(url, level=CertLevel.FULL)
    assert result.conformant, _explain(result, result.failed_ids)
    assert not result.failed_ids


def test_the_zoo_is_big_enough() -> None:
    assert len(FAULTY) >= 20
    assert len(CONFORMANT) >= 5


def _explain(result: SuiteResult, ids: Iterable[str]) -> str:
    lines = []
    for check_id in sorted(ids):
        for finding in result.by_id(check_id).findings:
            lines.append(f"{check_id}: Received {finding.received} / Expected {finding.expected}\n    {finding.curl}")
    return "\n".join(lines)

"""The suite certifies the second reference, the one written from the contract alone.

``tests/servers/independent.py`` (plain Starlette, hand-written parsing and ledger) was written
from ``openapi.json`` and docs/design.md only. The suite must certify it at level full with no
finding, with every check exercised by the credential the tests certify; its other credentials
(a JWT it signed, orgs on other plans) are certified too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.result import CertLevel, Outcome, SuiteResult
from tests.conformance.conftest import certify, serve
from tests.servers.independent import ENTERPRISE_TOKEN, FREE_TOKEN, INDEPENDENT_TOKEN, create_app, issue_jwt


@pytest.fixture(scope="module")
def independent_url() -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def independent_result(independent_url: str) -> SuiteResult:
    return certify(independent_url, token=INDEPENDENT_TOKEN)


def _summary(result: SuiteResult) -> str:
    return "; ".join(f"{c.id}: {c.outcome}" + "".join(f" [{f.message}]" for f in c.findings[:2])
                     for c in result.checks if c.outcome is not Outcome.PASS) or "all pass"


def test_the_independent_reference_is_conformant_at_level_full(independent_result: SuiteResult) -> None:
    assert independent_result.level is CertLevel.FULL
    assert independent_result.problem is None
    assert independent_result.complete, independent_result.stop_reason
    assert independent_result.failed_ids == frozenset(), _summary(independent_result)
    assert independent_result.conformant
    assert independent_result.exit_code == 0


def test_every_check_is_exercised_with_the_team_api_key(independent_result: SuiteResult) -> None:
    """The team org has a finite and an unlimited metric, usage over and under its limits, and
    HEAD served as GET: no check is left not-applicable or merely noted."""
    unexercised = [c.id for c in independent_result.checks if c.outcome is not Outcome.PASS or c.exercised == 0]
    assert unexercised == [], _summary(independent_result)


@pytest.mark.parametrize("credential", ["team-jwt", "free-api-key", "enterprise-api-key"])
def test_the_other_credentials_are_conformant_too(independent_url: str, credential: str) -> None:
    token = {"team-jwt": lambda: issue_jwt("org_team"), "free-api-key": lambda: FREE_TOKEN,
             "enterprise-api-key": lambda: ENTERPRISE_TOKEN}[credential]()
    result = certify(independent_url, token=token)
    assert result.problem is None
    assert result.failed_ids == frozenset(), _summary(result)
    assert result.exit_code == 0
    failed_or_noted = [c.id for c in result.checks if c.outcome in (Outcome.FAIL, Outcome.NOTE)]
    assert failed_or_noted == [], _summary(result)
    if credential == "enterprise-api-key":
        # Every limit is -1: there is no finite limit for METRIC-004/005 to look at, no pair of
        # finite rate limits for METRIC-007.
        not_applicable = {c.id for c in result.checks if c.outcome is Outcome.NOT_APPLICABLE}
        assert not_applicable == {"METRIC-004", "METRIC-005", "METRIC-007"}, _summary(result)


def test_all_its_credentials_in_one_run(independent_url: str) -> None:
    """The API key, a JWT of the same org and the keys of orgs on other plans, given together."""
    result = certify(independent_url, token=INDEPENDENT_TOKEN,
                     more_tokens=(issue_jwt("org_team"), FREE_TOKEN, ENTERPRISE_TOKEN))
    assert result.problem is None
    assert result.complete, result.stop_reason
    assert result.failed_ids == frozenset(), _summary(result)
    assert result.exit_code == 0

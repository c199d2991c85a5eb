"""Several credentials in one run: each further one is asked the per-org probes, and a defect that
only its org shows is found, named by the credential's position, never by the token."""

from __future__ import annotations

from typing import Any

from conformance.probes import PER_CREDENTIAL, PROBES
from conformance.reporters import render_html, render_json, render_junit
from tests.conformance.conftest import certify, serve
from tests.servers.reference import SECOND_TOKEN, TEAM_ORG, ServerOptions, UsageQuery, create_app, usage_body


def test_a_second_orgs_credential_is_asked_the_per_org_probes(reference_url: str) -> None:
    result = certify(reference_url, more_tokens=(SECOND_TOKEN,))
    assert result.conformant, result.failed_ids
    assert result.probes_run == result.probes_planned == len(PROBES) + len(PER_CREDENTIAL)


def newer_orgs_metered_by_the_new_pipeline() -> Any:
    """Orgs created after the 2023 metering migration report ``queries.used`` as the refund-adjusted
    delta of the new pipeline, which goes negative over windows with refunds: only their
    credentials show it."""
    def render(query: UsageQuery) -> dict[str, Any]:
        body = usage_body(query)
        if query.org.created >= TEAM_ORG.created:
            body["queries"]["used"] = -abs(body["queries"]["used"]) - 1
            body["queries"]["remaining"] = body["queries"]["limit"]
        return body
    return create_app(ServerOptions(render=render))


def test_a_defect_only_another_orgs_credential_shows_is_found_and_named_by_position() -> None:
    with serve(newer_orgs_metered_by_the_new_pipeline()) as url:
        alone = certify(url)
        both = certify(url, more_tokens=(SECOND_TOKEN,))
    assert alone.conformant  # the first credential's org never shows it
    assert "METRIC-001" in both.failed_ids and not both.conformant
    origins = {finding.origin for finding in both.by_id("METRIC-001").findings}
    assert origins and all(origin.startswith("probe:credential-2:") for origin in origins)
    for text in (render_json(both), render_junit(both), render_html(both), repr(both)):
        assert SECOND_TOKEN not in text


def test_a_valid_credential_refused_is_status_001(reference_url: str) -> None:
    """The user says the server issued it: a 401 for it is a valid request refused."""
    result = certify(reference_url, more_tokens=("csk_never_issued_by_this_server_42",))
    assert "STATUS-001" in result.failed_ids
    assert all(f.origin.startswith("probe:credential-2:") for f in result.by_id("STATUS-001").findings)

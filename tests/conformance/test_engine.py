"""The suite against the faithful FastAPI reference and the project's mock, over real HTTP."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest
from rich.console import Console

from conformance.engine import PROFILES, kit_version
from conformance.profiles import Profile
from conformance.reporters import render_html, render_json, render_junit
from conformance.reporters.console import render_console
from conformance.result import CertLevel, Outcome, SuiteResult
from conformance.transport import ConnectionProblem
from crosmos_contract.loader import load_contract
from tests.conformance.conftest import SEED, certify
from tests.servers.hostile import refused_url
from tests.servers.reference import REFERENCE_TOKEN


def test_the_faithful_fastapi_reference_passes_at_level_full(reference_result: SuiteResult) -> None:
    assert reference_result.conformant
    assert reference_result.failed_ids == frozenset()
    assert not reference_result.errors


def test_every_check_is_exercised_against_the_reference(reference_result: SuiteResult) -> None:
    unexercised = [c.id for c in reference_result.checks if c.outcome is Outcome.NOT_APPLICABLE]
    assert unexercised == []


def test_lax_date_parsing_is_a_note_not_a_failure(reference_result: SuiteResult) -> None:
    check = reference_result.by_id("STATUS-004")
    assert check.outcome is Outcome.NOTE
    assert any("start_date=0" in note.message for note in check.notes)


def test_the_result_records_what_makes_a_run_reproducible(reference_result: SuiteResult) -> None:
    assert reference_result.seed == SEED
    assert reference_result.profile == "smoke"
    assert reference_result.level is CertLevel.FULL
    assert reference_result.contract_sha256 == load_contract().sha256
    assert reference_result.kit_version == kit_version()
    assert reference_result.generated_cases > 0
    assert reference_result.requests > reference_result.generated_cases


def test_the_token_never_appears_in_any_report(reference_url: str) -> None:
    from tests.conformance.conftest import serve
    from tests.servers.zoo import FAULTY

    with serve(FAULTY["remaining_not_clamped"].create_app()) as url:
        result = certify(url)
    assert result.findings
    assert all("[REDACTED]" in finding.curl for finding in result.findings)
    for text in (render_json(result), render_junit(result), render_html(result), repr(result)):
        assert REFERENCE_TOKEN not in text


def test_the_level_decides_which_failures_count(reference_url: str) -> None:
    from tests.conformance.conftest import serve
    from tests.servers.zoo import FAULTY

    with serve(FAULTY["remaining_off_by_one"].create_app()) as url:  # breaks a SHOULD rule only
        full = certify(url, level=CertLevel.FULL)
    core = dataclasses.replace(full, level=CertLevel.CORE)
    assert full.failed_ids == {"METRIC-005"}
    assert not full.conformant
    assert core.conformant


def test_an_unreachable_server_is_a_connection_problem() -> None:
    with pytest.raises(ConnectionProblem, match="connection refused"):
        certify(refused_url())


def test_profiles_are_counts_with_a_time_cap() -> None:
    """A count fixes what a seed sends; the budget only caps a run (and says so when it bites)."""
    time_fields = {"max_time", "seconds", "duration"}
    assert not {f.name for f in dataclasses.fields(Profile)} & time_fields  # counts, never a time
    smoke, quick, standard = PROFILES["smoke"], PROFILES["quick"], PROFILES["standard"]
    assert smoke.max_examples < quick.max_examples < standard.max_examples
    assert smoke.budget <= quick.budget < standard.budget


def test_the_json_report_holds_the_run_facts(reference_result: SuiteResult) -> None:
    report = json.loads(render_json(reference_result))
    assert report["verdict"] == "conformant"
    assert report["contract_sha256"] == reference_result.contract_sha256
    assert (report["seed"], report["profile"], report["level"]) == (SEED, "smoke", "full")
    assert [c["id"] for c in report["checks"]] == [c.id for c in reference_result.checks]


def test_a_budget_spent_is_reported_as_the_reason_the_run_stopped(reference_url: str) -> None:
    """One second cannot hold the probes and generation: the run says it was cut short, and how."""
    result = certify(reference_url, budget=1)
    assert result.stop_reason == "budget spent on probes"
    assert result.generated_cases == 0
    assert any("budget" in error for error in result.errors)
    assert json.loads(render_json(result))["stop_reason"] == "budget spent on probes"
    console = Console(file=io.StringIO(), width=200)
    console.print(render_console(result))
    assert "stopped early: budget spent on probes" in console.file.getvalue()


def test_the_same_seed_sends_the_same_requests_and_reaches_the_same_verdict() -> None:
    """Profiles are counts, not seconds: the run a seed names is the same on any machine, at any load."""
    from tests.servers.reference import create_app
    from tests.servers.running import serve_app

    seen: list[tuple[str, str, str, str]] = []
    app = create_app()

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        seen.append((request.method, request.url.path, request.url.query, request.headers.get("authorization", "")))
        return await call_next(request)

    runs, results = [], []
    with serve_app(app) as url:
        for _ in range(2):
            seen.clear()
            # The fixed SEED; the budget is only a cap, set far above what the run needs even on a
            # loaded machine (the profile's 30 s can be hit there), so the counts decide the run.
            results.append(certify(url, profile="quick", budget=900, workers=1))  # one worker: the order too
            runs.append(list(seen))
    assert len(runs[0]) > 300 and runs[0] == runs[1]
    assert results[0].stop_reason == results[1].stop_reason == "completed"
    assert results[0].generated_cases == results[1].generated_cases
    assert results[0].failed_ids == results[1].failed_ids and results[0].conformant


def test_hypothesis_parses_one_module_at_a_time_once_the_engine_is_loaded() -> None:
    """The CPython 3.11 AST race (gh-106905) needs two parses at once; the engine serializes hypothesis's."""
    from hypothesis.internal import constants_ast

    import conformance.generation  # noqa: F401  # installs the lock

    assert getattr(constants_ast._constants_from_source, "serialized", False)
    assert constants_ast._constants_from_source("x = 12345\n", limit=True)  # still parses, constants found

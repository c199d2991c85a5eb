"""Reports are pure functions of a result: valid formats, self-contained HTML, escaped server text."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from conformance.reporters import render_html, render_json, render_junit
from conformance.reporters.console import render_console
from conformance.result import CertLevel, CheckResult, Finding, Outcome, SuiteResult
from crosmos_contract.catalogue import BY_ID, CATALOGUE

HOSTILE_TEXT = '<script>alert("x")</script>\x1b[31m\x00'


def finding(check_id: str, received: str = "tokens.remaining = -5 with limit 10") -> Finding:
    spec = BY_ID[check_id]
    return Finding(check_id, spec.title, spec.level.value, received, "0 <= remaining <= 10",
                   "GET /api/v1/usage (Authorization: Bearer [REDACTED])",
                   "curl -sS -i http://127.0.0.1:1/api/v1/usage -H 'Authorization: Bearer [REDACTED]'", 200,
                   "probe:nested", "")


@pytest.fixture
def result() -> SuiteResult:
    checks = []
    for spec in CATALOGUE:
        if spec.id == "METRIC-004":
            checks.append(CheckResult(spec, Outcome.FAIL, (finding("METRIC-004"), finding("METRIC-004", HOSTILE_TEXT)),
                                      occurrences=7, exercised=20))
        elif spec.id == "METRIC-005":
            checks.append(CheckResult(spec, Outcome.FAIL, (finding("METRIC-005"),), occurrences=1, exercised=20))
        elif spec.id == "AUTH-004":
            checks.append(CheckResult(spec, Outcome.NOT_APPLICABLE))
        else:
            checks.append(CheckResult(spec, Outcome.PASS, exercised=3))
    return SuiteResult(
        base_url="http://127.0.0.1:1", profile="smoke", level=CertLevel.CORE, seed=42, timezone="UTC",
        contract_sha256="ab" * 32, kit_version="0.1.0", schemathesis_version="4.32.5",
        started_at="2026-11-25T10:00:00+00:00", duration_s=1.5, requests=80, checks=tuple(checks),
        errors=("schemathesis: something odd",), generated_cases=40,
    )


def test_junit_is_xml_with_one_case_per_check_and_decisive_failures_only(result: SuiteResult) -> None:
    root = ET.fromstring(render_junit(result))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name", "").split(" ")[0] for c in cases] == [spec.id for spec in CATALOGUE]
    failing = [c.get("name", "").split(" ")[0] for c in cases if c.find("failure") is not None]
    assert failing == ["METRIC-004"]  # METRIC-005 is a SHOULD rule: not decisive at level core
    assert suite.get("failures") == "1"
    skipped = {c.get("name", "").split(" ")[0] for c in cases if c.find("skipped") is not None}
    assert skipped == {"METRIC-005", "AUTH-004"}
    full = ET.fromstring(render_junit(dataclasses.replace(result, level=CertLevel.FULL)))
    assert full.find("testsuite").get("failures") == "2"  # type: ignore[union-attr]


def test_json_holds_the_facts(result: SuiteResult) -> None:
    report = json.loads(render_json(result))
    assert report["verdict"] == "not conformant"
    assert report["failed_ids"] == ["METRIC-004", "METRIC-005"]
    assert {key: report[key] for key in ("seed", "profile", "level", "kit_version", "contract_sha256")} == {
        "seed": 42, "profile": "smoke", "level": "core", "kit_version": "0.1.0", "contract_sha256": "ab" * 32}
    metric = next(c for c in report["checks"] if c["id"] == "METRIC-004")
    assert metric["outcome"] == "fail" and metric["occurrences"] == 7
    assert metric["findings"][0]["curl"].endswith("'Authorization: Bearer [REDACTED]'")


def test_html_is_one_self_contained_file_with_server_text_escaped(result: SuiteResult) -> None:
    html = render_html(result)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=|@import|url\(|<link|<iframe""", html, re.IGNORECASE)
    assert "&lt;script&gt;" in html
    assert "METRIC-004" in html and "7 failing responses in all" in html


def test_console_report_shows_the_table_the_failures_and_the_verdict(result: SuiteResult) -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(render_console(result))
    text = buffer.getvalue()
    for spec in CATALOGUE:
        assert spec.id in text
    assert "Received tokens.remaining = -5 with limit 10" in text
    assert "Expected 0 <= remaining <= 10" in text
    assert "Reproduce with:" in text and "Bearer [REDACTED]" in text
    assert "METRIC-005 Remaining is limit minus used (SHOULD, not decisive at level core)" in text
    assert "NOT CONFORMANT at level core" in text
    assert "Failing: METRIC-004" in text

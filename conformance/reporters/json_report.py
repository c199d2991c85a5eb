"""The JSON report: every fact of the run, for machines (dashboards, diffing two vendors' runs)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from conformance.result import CheckResult, Finding, Note, SuiteResult

REPORT_FORMAT = "crosmos-conformance-report/1"


def to_dict(result: SuiteResult) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "verdict": result.verdict,
        "conformant": result.conformant,
        "level": result.level.value,
        "profile": result.profile,
        "seed": result.seed,
        "timezone": result.timezone,
        "base_url": result.base_url,
        "target": result.target,
        "contract_sha256": result.contract_sha256,
        "kit_version": result.kit_version,
        "schemathesis_version": result.schemathesis_version,
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "requests": result.requests,
        "generated_cases": result.generated_cases,
        "stop_reason": result.stop_reason,
        "complete": result.complete,
        "problem": result.problem,
        "probes": {"run": result.probes_run, "planned": result.probes_planned},
        "budget_s": result.budget_s,
        "workers": result.workers,
        "rate_limits": asdict(result.rate_limits),
        "notes": list(result.notes),
        "summary": result.counts(),
        "failed_ids": sorted(result.failed_ids),
        "errors": list(result.errors),
        "checks": [_check(check, result) for check in result.checks],
    }


def _check(check: CheckResult, result: SuiteResult) -> dict[str, Any]:
    return {
        "id": check.id,
        "level": check.spec.level.value,
        "title": check.spec.title,
        "rule": check.spec.rule,
        "outcome": check.outcome.value,
        "decides_verdict": result.level.decides(check.spec),
        "exercised": check.exercised,
        "occurrences": check.occurrences,
        "findings": [_finding(f) for f in check.findings],
        "notes": [_note(n) for n in check.notes],
        "evidence": list(check.evidence),
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "check_id": finding.check_id,
        "title": finding.title,
        "received": finding.received,
        "expected": finding.expected,
        "request": finding.request,
        "status": finding.status,
        "origin": finding.origin,
        "curl": finding.curl,
        "detail": finding.detail,
    }


def _note(note: Note) -> dict[str, Any]:
    return {"check_id": note.check_id, "message": note.message, "origin": note.origin, "curl": note.curl}


def render_json(result: SuiteResult) -> str:
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"

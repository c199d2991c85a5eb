"""The way in and out: what a reply the mock could not build leaves in the journal."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.app import create_app
from mockserver.model.ledger import UsageReport

TOKEN = "csk_passage_test_token"


def test_a_self_check_failure_is_journaled_with_the_defect_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    real = UsageReport.as_body

    def broken(report: UsageReport) -> dict[str, Any]:
        body = real(report)
        body["tokens"] = {**body["tokens"], "used": -1}  # METRIC-001: the mock's own defect
        return body

    monkeypatch.setattr(UsageReport, "as_body", broken)
    client = create_app(seed=2, access_log=False).test_client()
    reply = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 500 and reply.get_json()["type"].endswith("self-check-failed")
    [entry] = [e for e in client.get("/__mock/journal").get_json()["entries"] if e["path"].startswith("/api/")]
    assert entry["response"] == "mock-error"
    assert any("METRIC-001" in problem for problem in entry["problems"]), entry
    assert reply.get_json()["detail"] in entry["problems"]

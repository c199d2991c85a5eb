"""The dashboard in a real headless Chromium: load it, switch a scenario, see the next reply change.

A full-page screenshot is kept in ``test-output/dashboard.png`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mockserver.model.scenarios import SCENARIOS
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import TEST_OUTPUT, TOKEN, USAGE, auth, chromium, jwt, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=9, workers=2, extra_args=["--live-usage", "queries"]) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    with chromium() as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base_url}/__mock/")
        page.wait_for_selector("body[data-ready=true]", timeout=10_000)
        yield page
        assert errors == [], errors


def _send(page: Any) -> dict[str, Any]:
    """Press "Send" and return the body shown (the status badge is cleared first to wait for the new one)."""
    page.evaluate("() => { document.querySelector('#response-status').textContent = ''; }")
    page.click("#send")
    page.wait_for_function(
        "() => document.querySelector('#response-status').textContent !== ''")
    assert page.inner_text("#response-status") == "200"
    body: dict[str, Any] = json.loads(page.inner_text("#response-body"))
    return body


def test_the_dashboard_shows_the_contract_and_every_scenario_with_a_sample(page: Any) -> None:
    assert "Crosmos Memory API" in page.inner_text("#status-line")
    assert "live usage: queries" in page.inner_text("#status-line")
    cards = page.query_selector_all("#scenario-cards article")
    assert [card.get_attribute("data-scenario") for card in cards] == list(SCENARIOS)
    exhausted = json.loads(page.inner_text("article[data-scenario=exhausted] pre"))
    assert exhausted["tokens"]["remaining"] == 0
    assert page.query_selector("article.current").get_attribute("data-scenario") == "default"


def test_switching_the_scenario_changes_the_next_reply(page: Any, base_url: str) -> None:
    page.fill("#token", TOKEN)
    before = _send(page)
    assert before["tokens"]["limit"] != -1 or before["plan"] != "enterprise"
    page.select_option("#server-scenario", "exhausted")
    page.click("#apply-scenario")
    page.wait_for_function(
        "() => document.querySelector('#switch-message').textContent.includes('exhausted')")
    after = _send(page)
    assert after["plan"] == "free" and all(after[m]["remaining"] == 0 for m in ("tokens", "spaces"))
    assert page.inner_text("#response-scenario") == "scenario exhausted"
    assert page.query_selector("article.current").get_attribute("data-scenario") == "exhausted"
    # Every worker serves the switch, not only the one the page talked to.
    replies = [requests.get(f"{base_url}{USAGE}", headers=auth(), timeout=5) for _ in range(10)]
    assert {r.headers.get("X-Mock-Scenario") for r in replies} == {"exhausted"}


def test_a_token_gets_its_own_scenario_from_the_dashboard(page: Any) -> None:
    page.fill("#token", jwt({"org_id": "dashboard-team"}))
    page.select_option("#token-scenario", "unlimited")
    page.click("#set-token-scenario")
    page.wait_for_function(
        "() => document.querySelector('#token-table tbody').children.length > 0")
    assert page.inner_text("#token-table tbody").split("\t")[0] == "org:dashboard-team"
    assert _send(page)["tokens"]["limit"] == -1


def test_the_journal_shows_the_requests_and_never_the_token(page: Any, base_url: str) -> None:
    requests.get(f"{base_url}{USAGE}?start_date=2026-13-01", headers=auth(), timeout=5)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#journal-table tbody tr')).some(r => r.innerText.includes('422'))",
        timeout=5_000)
    rows = page.inner_text("#journal-table tbody")
    assert "/api/v1/usage?start_date=2026-13-01" in rows and "request invalid" in rows
    cells = page.eval_on_selector_all(
        "#journal-table tbody tr",
        "rows => rows.filter(r => r.innerText.includes('2026-13-01'))"
        "            .map(r => Array.from(r.children).map(c => c.innerText.trim()))")
    assert cells and cells[0][5] == "exhausted", cells  # the scenario column of that request's row
    requests.get(f"{base_url}{USAGE}", headers={"Authorization": "Basic c2VjcmV0"}, timeout=5)
    page.wait_for_function(
        "() => document.querySelector('#journal-table tbody').innerText.includes('is not Bearer')", timeout=5_000)
    assert "scheme 'Basic' is not Bearer" in page.inner_text("#journal-table tbody")  # a 401 says why
    assert "c2VjcmV0" not in page.content()
    page.select_option("#server-scenario", "near-limit")  # a varied picture for the screenshot
    page.click("#apply-scenario")
    page.wait_for_function(
        "() => document.querySelector('#switch-message').textContent.includes('near-limit')")
    page.fill("#token", TOKEN)
    _send(page)
    assert TOKEN not in page.content().replace(f'value="{TOKEN}"', "")
    TEST_OUTPUT.mkdir(exist_ok=True)
    shot = TEST_OUTPUT / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_a_banner_says_when_faults_are_on(page: Any) -> None:
    assert page.is_hidden("#faults-banner")
    page.fill("#latency", "1ms")
    page.click("#apply-faults")
    page.wait_for_function("() => !document.querySelector('#faults-banner').hidden", timeout=5_000)
    assert page.inner_text("#faults-banner") == "Faults on: latency 1ms. Replies leave the contract on purpose."
    page.click("#clear-faults")
    page.wait_for_function("() => document.querySelector('#faults-banner').hidden", timeout=5_000)


def test_the_page_is_served_with_a_strict_content_security_policy(base_url: str) -> None:
    response = requests.get(f"{base_url}/__mock/", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script src=" in response.text and "<script>" not in response.text

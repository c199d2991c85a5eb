"""CORS: a page on another origin, in a real headless Chromium, calls the mock with a token."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests

from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import TOKEN, USAGE, auth, chromium, needs_chromium, serving

PAGE = b"<!doctype html><title>frontend</title><h1>A frontend on another origin</h1>"
FETCH = """async ([url, init]) => {
  try {
    const response = await fetch(url, init);
    return {status: response.status, body: await response.text(),
            scenario: response.headers.get("X-Mock-Scenario"), auth: response.headers.get("WWW-Authenticate")};
  } catch (error) {
    return {error: String(error)};
  }
}"""


def _page_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
    return [PAGE]


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    with serving(_page_app) as origin:
        yield origin


@pytest.fixture(scope="module")
def open_mock() -> Iterator[str]:
    """The default: any origin."""
    with running_mock() as url:
        yield url


@pytest.fixture(scope="module")
def narrow_mock(page_origin: str) -> Iterator[str]:
    """Only the page's origin (http://127.0.0.1:PORT), so the same page as http://localhost:PORT is refused."""
    with running_mock(extra_args=["--cors-origin", page_origin]) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        yield context


def _fetch_from(browser: Any, page_url: str, url: str, init: dict[str, Any]) -> dict[str, Any]:
    page = browser.new_page()
    try:
        page.goto(page_url)
        result: dict[str, Any] = page.evaluate(FETCH, [url, init])
        return result
    finally:
        page.close()


@pytest.mark.browser
@needs_chromium
def test_a_page_on_another_origin_reads_usage_with_its_token(browser: Any, page_origin: str, open_mock: str) -> None:
    init = {"headers": {"Authorization": f"Bearer {TOKEN}", "Prefer": "scenario=exhausted"}}
    result = _fetch_from(browser, f"{page_origin}/app", f"{open_mock}{USAGE}", init)
    assert result.get("status") == 200, result
    assert '"remaining":0' in result["body"] and result["scenario"] == "exhausted"


@pytest.mark.browser
@needs_chromium
def test_a_page_reads_the_contracts_401_too(browser: Any, page_origin: str, open_mock: str) -> None:
    result = _fetch_from(browser, f"{page_origin}/app", f"{open_mock}{USAGE}", {})
    assert result == {"status": 401, "body": '{"detail":"Not authenticated"}', "scenario": None, "auth": "Bearer"}


@pytest.mark.browser
@needs_chromium
def test_a_page_drives_the_control_api_from_another_origin(browser: Any, page_origin: str, open_mock: str) -> None:
    init = {"method": "PUT", "headers": {"Content-Type": "application/json"}, "body": '{"scenario": "fresh"}'}
    result = _fetch_from(browser, f"{page_origin}/app", f"{open_mock}/__mock/scenario", init)
    try:
        assert result.get("status") == 200, result
        assert requests.get(f"{open_mock}{USAGE}", headers=auth(), timeout=5).json()["tokens"]["used"] == 0
    finally:
        requests.post(f"{open_mock}/__mock/reset", timeout=5)


@pytest.mark.browser
@needs_chromium
def test_only_the_configured_origins_may_read(browser: Any, page_origin: str, narrow_mock: str) -> None:
    init = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    allowed = _fetch_from(browser, f"{page_origin}/app", f"{narrow_mock}{USAGE}", init)
    assert allowed.get("status") == 200, allowed
    other_origin = page_origin.replace("127.0.0.1", "localhost")
    refused = _fetch_from(browser, f"{other_origin}/app", f"{narrow_mock}{USAGE}", init)
    assert "error" in refused and "Failed to fetch" in refused["error"], refused


def test_the_preflight_answer(open_mock: str, narrow_mock: str, page_origin: str) -> None:
    request = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET",
               "Access-Control-Request-Headers": "authorization, prefer, x-mock-scenario"}
    preflight = requests.options(f"{open_mock}{USAGE}", headers=request, timeout=5)
    assert preflight.status_code == 204 and preflight.text == ""
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization, prefer, x-mock-scenario"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers  # auth is a header, never a cookie
    refused = requests.options(f"{narrow_mock}{USAGE}", headers=request, timeout=5)
    assert (refused.status_code, refused.text) == (400, "Disallowed CORS origin")
    narrow = requests.options(f"{narrow_mock}{USAGE}", headers={**request, "Origin": page_origin}, timeout=5)
    assert narrow.headers["Access-Control-Allow-Origin"] == page_origin and narrow.headers["Vary"] == "Origin"
    # Not a preflight: the contract's own answer to OPTIONS.
    plain = requests.options(f"{open_mock}{USAGE}", timeout=5)
    assert plain.status_code == 405 and plain.headers["Allow"] == "GET"


def test_replies_name_what_a_page_may_read(open_mock: str) -> None:
    response = requests.get(f"{open_mock}{USAGE}", headers={**auth(), "Origin": "http://localhost:3000"}, timeout=5)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert all(name in exposed for name in ("Retry-After", "X-Mock-Scenario", "WWW-Authenticate"))
    assert "Access-Control-Allow-Origin" not in requests.get(f"{open_mock}{USAGE}", headers=auth(), timeout=5).headers


def test_bad_cors_origins_are_one_clear_error() -> None:
    from click.testing import CliRunner

    from mockserver.cli import main

    for bad in (["--cors-origin", "localhost:3000"], ["--cors-origin", "http://a.test/path"],
                ["--cors-origin", "none", "--cors-origin", "http://a.test"]):
        result = CliRunner().invoke(main, bad)
        assert result.exit_code == 2 and "Invalid value for '--cors-origin'" in result.output, result.output


def test_a_narrowed_mock_says_its_replies_vary_by_origin_allowed_or_not(narrow_mock: str, page_origin: str) -> None:
    for origin in (page_origin, "http://elsewhere.example"):
        response = requests.get(f"{narrow_mock}{USAGE}", headers={**auth(), "Origin": origin}, timeout=5)
        assert response.status_code == 200 and response.headers["Vary"] == "Origin", origin
    assert "Access-Control-Allow-Origin" not in requests.get(
        f"{narrow_mock}{USAGE}", headers={**auth(), "Origin": "http://elsewhere.example"}, timeout=5).headers

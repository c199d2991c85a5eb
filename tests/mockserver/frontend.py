"""Helpers shared by the tests of the mock's frontend features (scenarios, control API, faults …)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from mockserver.settings import CONTROL_PREFIX

TOKEN = "csk_frontend_SECRET_0042"
OTHER_TOKEN = "csk_frontend_OTHER_0043"
USAGE = "/api/v1/usage"
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://crosmos.dev/mock/problems/"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's; never a browser a tool downloads
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TEST_OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


# A developer without chromium sees the browser tests skipped, with the reason; under CI (``CI``
# set, as .ci/run is) they run and fail instead, so a CI without a browser can never pass silently.
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)")


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token (the mock does not verify signatures)."""
    parts = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode() for p in ({"alg": "RS256"}, claims)]
    return ".".join([*parts, "c2lnbmF0dXJl"])


def control(base_url: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{base_url}{CONTROL_PREFIX}{path}", timeout=10, **kwargs)


def reset(base_url: str) -> None:
    response = control(base_url, "POST", "/reset")
    assert response.status_code == 204, response.text


def journal(base_url: str, limit: int = 50) -> list[dict[str, Any]]:
    response = control(base_url, "GET", f"/journal?limit={limit}")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def assert_problem(response: requests.Response, status: int, kind: str) -> dict[str, Any]:
    """A problem+json reply of the mock's own, with its stable ``type``."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + kind, body
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@contextlib.contextmanager
def serving(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app on a free 127.0.0.1 port in a thread (an upstream, or a page on another origin)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (never a downloaded browser), fresh profile."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="crosmos-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield context
        finally:
            context.close()

"""The mock under junk input, over real HTTP: a 4xx with a JSON body, never a 5xx or a hang.

Two documented exceptions, both answered by the HTTP layer (granian's hyper) before the app
sees the request, so with a bare status: URLs over 64 KiB get ``414``, and bytes that are illegal
in a request line (raw NUL, raw non-ASCII) get ``400``. Still a 4xx, still no hang.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from mockserver.serving.launch import running_mock

TOKEN = "csk_hardening_0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_TYPES = ("application/json", "application/problem+json")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock(seed=5) as url:
        yield url


def raw_request(base_url: str, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send bytes no HTTP client library would send; return status, headers and body."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head + body)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, rest


def assert_json_4xx(response: requests.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:200])
    assert response.headers.get("Content-Type", "").split(";")[0] in JSON_TYPES
    response.json()


def test_an_8_kib_query_string_gets_414_json(base_url: str) -> None:
    response = requests.get(f"{base_url}/api/v1/usage?x={'a' * 8192}", headers=AUTH, timeout=10)
    assert_json_4xx(response, 414)
    assert "at most" in response.json()["detail"]


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024])
def test_huge_query_strings_are_refused_by_the_http_layer_not_served(base_url: str, size: int) -> None:
    """granian refuses these before the app sees them: a bare 414, no usage data, no hang."""
    response = requests.get(f"{base_url}/api/v1/usage?x={'a' * size}", headers=AUTH, timeout=10)
    assert response.status_code == 414
    assert response.content == b""  # the HTTP layer's bare status (see the module docstring)
    served = requests.get(f"{base_url}/api/v1/usage", headers=AUTH, timeout=10)
    assert served.status_code == 200  # and the server is still there for the next request


def test_a_64_kib_header_gets_431_json(base_url: str) -> None:
    response = requests.get(f"{base_url}/api/v1/usage", headers={**AUTH, "X-Junk": "j" * 65536}, timeout=10)
    assert_json_4xx(response, 431)


@pytest.mark.parametrize("query", [
    b"start_date=%ZZ", b"start_date=%", b"start_date=%C3%28", b"start_date=%ff%fe",
    b"start_date=2026-01-01%00", b"start_date=", b"end_date=&start_date=", b"start_date=2026-01-01%00x",
])
def test_broken_encodings_and_empty_values_get_422_json(base_url: str, query: bytes) -> None:
    head = (b"GET /api/v1/usage?" + query + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n")
    status, headers, body = raw_request(base_url, head)
    assert status == 422, (query, status, body[:200])
    assert headers["content-type"].startswith("application/json")
    assert b"start_date" in body or b"end_date" in body


@pytest.mark.parametrize("query", [b"start_date=\xff\xfe", b"start_date=2026-01-01\x00x", b"a=\x7f"])
def test_bytes_illegal_in_a_request_line_get_400_from_the_http_layer(base_url: str, query: bytes) -> None:
    head = (b"GET /api/v1/usage?" + query + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n")
    status, _, _ = raw_request(base_url, head)
    assert status == 400


def test_unknown_junk_parameters_are_ignored(base_url: str) -> None:
    head = (b"GET /api/v1/usage?x=%ff%fe&%00=1&&&=&y&start_date%00=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n")
    status, headers, _ = raw_request(base_url, head)
    assert status == 200 and headers["content-type"].startswith("application/json")


def test_repeated_parameters_last_value_wins(base_url: str) -> None:
    response = requests.get(f"{base_url}/api/v1/usage?start_date=2026-01-01&start_date=2026-02-01&start_date=bad",
                            headers=AUTH, timeout=10)
    assert_json_4xx(response, 422)
    good = requests.get(f"{base_url}/api/v1/usage?start_date=bad&start_date=2026-02-01", headers=AUTH, timeout=10)
    assert good.status_code == 200 and good.json()["period_start"] == "2026-02-01"


@pytest.mark.parametrize("method", ["FOO", "PROPFIND", "CONNECTX", "DELETE", "TRACE"])
def test_unknown_methods_get_405_json(base_url: str, method: str) -> None:
    response = requests.request(method, f"{base_url}/api/v1/usage", headers=AUTH, timeout=10)
    assert_json_4xx(response, 405)
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize(("prefer", "problem"), [
    ("code=abc", "invalid-preference"), ("code=99999999999999999999", "invalid-preference"),
    ("code=", "invalid-preference"), ("example=" + "e" * 4000, "unknown-example"),
    ("dynamic=maybe", "invalid-preference"), ("scenario=" + "s" * 2000, "unknown-scenario"),
    (";;;,,,==", None), ("code=200, code=422, code=418", "undocumented-status"),
    ("delay=-5", "invalid-preference"), ("delay=9999999999", "invalid-preference"),
])
def test_absurd_prefer_values_get_a_clear_4xx_or_are_ignored(base_url: str, prefer: str, problem: str | None) -> None:
    response = requests.get(f"{base_url}/api/v1/usage", headers={**AUTH, "Prefer": prefer}, timeout=10)
    if problem is None:  # nothing in it names a preference: served as if absent
        assert response.status_code == 200 and response.json()["plan"]
        assert "Preference-Applied" not in response.headers
        return
    assert response.status_code == 400, (prefer, response.status_code, response.text[:200])
    assert response.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith(f"/{problem}") and body["detail"]
    assert len(response.content) < 8192  # a 4,000-character value is not echoed back whole
def test_a_body_on_get_is_ignored(base_url: str) -> None:
    response = requests.get(f"{base_url}/api/v1/usage", headers=AUTH, data=b"{" * 100_000, timeout=10)
    assert response.status_code == 200 and response.json()["plan"]


def test_garbage_on_the_wire_gets_a_4xx(base_url: str) -> None:
    status, _, _ = raw_request(base_url, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
    assert 400 <= status < 500

"""The test intermediaries of ``tests.servers.gateway``, proven against the real reference server.

Tests of the suite behind a gateway or a proxy are only worth something if the intermediary does
exactly what it claims: relays transparently unless told otherwise, and refuses, throttles or
delays precisely as configured. An echo app stands in where the test must see what upstream got.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.servers.gateway import TokenBucket, forward_proxy, reverse_proxy
from tests.servers.hostile import refused_url
from tests.servers.reference import REFERENCE_TOKEN, create_app
from tests.servers.running import serve_app

USAGE = "/api/v1/usage"
AUTH = {"Authorization": f"Bearer {REFERENCE_TOKEN}"}
DELAY = 0.03
SLOW_RATE = 0.2  # one token per 5 s: no refill can happen within a test
STOP_BOUND_S = 2.0
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE"]


def echo_app() -> FastAPI:
    """Answers every method and path with what it received; ``?redirect=`` and ``?status=`` answer
    a redirect or a bare status instead."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=ALL_METHODS)
    async def echo(request: Request, path: str) -> Response:
        query = request.query_params
        if "redirect" in query:
            return Response(status_code=307, headers={"Location": query["redirect"]})
        if "status" in query:
            return Response(status_code=int(query["status"]))
        return JSONResponse({
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": [[name.decode(), value.decode()] for name, value in request.headers.raw],
            "body": (await request.body()).decode(),
        })

    return app


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_app(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    with serve_app(echo_app()) as url:
        yield url


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


@dataclass(frozen=True)
class TlsFiles:
    """Duck-types tests.servers.tls.TlsFiles: what ``reverse_proxy(tls=...)`` reads."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_cert))
    files.server_cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(files.server_key))
    return files


def seen(response: requests.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers as sent (names as spelt, in order), Date aside: it may tick over."""
    headers = [(name, value) for name, value in response.raw.headers.items() if name.lower() != "date"]
    return response.status_code, response.content, headers


def echoed(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["header_names"] = [name for name, _ in body["headers"]]
    return body


# --- transparency ---------------------------------------------------------------------------------

Call = Callable[[requests.Session, str], requests.Response]
CASES: dict[str, tuple[int, Call]] = {
    "200": (200, lambda s, base: s.get(base + USAGE, headers=AUTH,
                                       params={"start_date": "2025-01-01", "end_date": "2025-01-31"})),
    "401-unknown-token": (401, lambda s, base: s.get(base + USAGE, headers={"Authorization": "Bearer nope"})),
    "422-bad-date": (422, lambda s, base: s.get(base + USAGE, headers=AUTH, params={"start_date": "not-a-date"})),
    "422-inverted": (422, lambda s, base: s.get(base + USAGE, headers=AUTH,
                                                params={"start_date": "2025-02-01", "end_date": "2025-01-01"})),
    "head": (405, lambda s, base: s.head(base + USAGE, headers=AUTH)),
    "options": (405, lambda s, base: s.options(base + USAGE, headers=AUTH)),
    "post-with-body": (405, lambda s, base: s.post(base + USAGE, headers=AUTH, json={"x": 1})),
    "404": (404, lambda s, base: s.get(base + "/api/v2/usage", headers=AUTH)),
}


@pytest.mark.parametrize("case", CASES)
def test_forwarding_is_transparent(case: str, upstream: str, session: requests.Session) -> None:
    status, call = CASES[case]
    direct = call(session, upstream)
    with reverse_proxy(upstream) as gateway:
        through = call(session, gateway.url)
        assert "date" in {name.lower() for name in through.headers}
    assert seen(through) == seen(direct)
    assert through.status_code == status
    assert gateway.forwarded == 1 and gateway.refused_429 == 0
    assert [(method, path) for method, path, _ in gateway.requests] == [(through.request.method,
                                                                         through.request.path_url)]


def test_401_keeps_www_authenticate_and_405_keeps_allow(upstream: str, session: requests.Session) -> None:
    with reverse_proxy(upstream) as gateway:
        unauthorised = session.get(gateway.url + USAGE, headers={"Authorization": "Bearer nope"})
        not_allowed = session.options(gateway.url + USAGE)
    assert unauthorised.headers["WWW-Authenticate"] == "Bearer"
    assert not_allowed.headers["Allow"] == "GET"


def test_request_reaches_upstream_as_sent(echo: str, session: requests.Session) -> None:
    """Method, path, raw query, body and end-to-end headers arrive unchanged; hop-by-hop ones do not."""
    with reverse_proxy(echo) as gateway:
        got = echoed(session.post(gateway.url + "/a/b?x=1&x=2&y=%20z", data=b"payload",
                                  headers={"X-Trace": "t-1", "Keep-Alive": "timeout=5", "TE": "trailers"}))
        chunked = echoed(session.put(gateway.url + "/c", data=iter([b"par", b"ts"])))
        methods = {m: session.request(m, gateway.url + "/m").status_code for m in ALL_METHODS}
    assert (got["method"], got["path"], got["query"], got["body"]) == ("POST", "/a/b", "x=1&x=2&y=%20z", "payload")
    headers = dict(got["headers"])
    assert headers["x-trace"] == "t-1"
    assert headers["host"] == gateway.url.removeprefix("http://")
    assert headers["content-length"] == "7"
    assert not {"keep-alive", "te", "connection"} & set(got["header_names"])
    assert (chunked["body"], dict(chunked["headers"])["content-length"]) == ("parts", "5")
    assert "transfer-encoding" not in chunked["header_names"]
    assert methods == dict.fromkeys(ALL_METHODS, 200)
    assert gateway.forwarded == 2 + len(ALL_METHODS)


def test_redirects_are_relayed_not_followed(echo: str, session: requests.Session) -> None:
    with reverse_proxy(echo) as gateway:
        response = session.get(gateway.url + "/r", params={"redirect": "http://elsewhere.invalid/x"},
                               allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (307, "http://elsewhere.invalid/x")
    assert gateway.forwarded == 1


def test_keep_alive_survives_every_kind_of_answer(upstream: str, echo: str) -> None:
    """One client connection carries relayed, refused, bodiless and HEAD answers in turn."""
    with reverse_proxy(upstream, required_header=("X-Key", "k"), path_prefix="/p") as gateway:
        conn = http.client.HTTPConnection("127.0.0.1", int(gateway.url.split(":")[2].split("/")[0]), timeout=5)
        statuses = []
        first_socket = None
        for method, path, headers, body in [
            ("GET", "/p" + USAGE, {"X-Key": "k", **AUTH}, None),
            ("POST", "/p" + USAGE, {"Content-Type": "application/json"}, b'{"refused": "with a body"}'),
            ("HEAD", "/p" + USAGE, {"X-Key": "k"}, None),
            ("GET", "/elsewhere", {}, None),
            ("GET", "/p" + USAGE, {"x-key": "k", **AUTH}, None),
        ]:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            first_socket = first_socket or conn.sock
            assert conn.sock is first_socket, "the gateway closed a keep-alive connection"
        conn.close()
    assert statuses == [200, 403, 405, 404, 200]
    with reverse_proxy(echo) as gateway, requests.Session() as s:
        s.trust_env = False
        no_content = s.get(gateway.url + "/n", params={"status": "204"})
        after = s.get(gateway.url + "/n")
    assert (no_content.status_code, no_content.content, "content-length" in no_content.headers) == (204, b"", False)
    assert after.status_code == 200


# --- delay, throttling, key, prefix ---------------------------------------------------------------


def test_delay_is_added_to_every_request(upstream: str, session: requests.Session) -> None:
    with reverse_proxy(upstream, delay=DELAY) as gateway:
        elapsed = []
        for _ in range(3):
            start = time.monotonic()
            assert session.get(gateway.url + USAGE, headers=AUTH).status_code == 200
            elapsed.append(time.monotonic() - start)
    assert min(elapsed) >= DELAY
    gaps = [later - earlier for earlier, later in zip(gateway.arrivals, gateway.arrivals[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= DELAY


def test_empty_bucket_answers_429_without_reaching_upstream(upstream: str) -> None:
    """The bucket is shared: each request comes on a connection of its own."""
    with reverse_proxy(upstream, rate_per_s=SLOW_RATE, burst=2, retry_after="7") as gateway:
        responses = []
        for _ in range(3):
            with requests.Session() as s:
                s.trust_env = False
                responses.append(s.get(gateway.url + USAGE, headers=AUTH))
    assert [r.status_code for r in responses] == [200, 200, 429]
    refused = responses[2]
    assert refused.headers["Retry-After"] == "7"
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.json() == {"detail": "rate limited"}
    assert (gateway.forwarded, gateway.refused_429, len(gateway.requests), len(gateway.arrivals)) == (2, 1, 3, 3)


def test_retry_after_can_be_omitted_and_burst_defaults_to_the_rate(upstream: str, session: requests.Session) -> None:
    with reverse_proxy(upstream, rate_per_s=SLOW_RATE, retry_after=None) as gateway:
        statuses = [session.get(gateway.url + USAGE, headers=AUTH) for _ in range(2)]
    assert [r.status_code for r in statuses] == [200, 429]
    assert "Retry-After" not in statuses[1].headers
    assert (gateway.forwarded, gateway.refused_429) == (1, 1)


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate_per_s=4, burst=2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] += 0.2  # 0.8 of a token
    assert not bucket.take()
    now[0] += 0.05
    assert bucket.take()
    now[0] += 100  # never more than the burst
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_required_header_gets_403_without_it(upstream: str, session: requests.Session) -> None:
    with reverse_proxy(upstream, required_header=("x-api-key", "k-123")) as gateway:
        missing = session.get(gateway.url + USAGE, headers=AUTH)
        wrong = session.get(gateway.url + USAGE, headers={**AUTH, "x-api-key": "k-124"})
        present = session.get(gateway.url + USAGE, headers={**AUTH, "X-API-Key": "k-123"})
    direct = session.get(upstream + USAGE, headers=AUTH)
    for refused in (missing, wrong):
        assert refused.status_code == 403
        assert refused.json() == {"message": "Forbidden: missing gateway key"}
    assert (present.status_code, present.json()) == (200, direct.json())
    assert (gateway.forwarded, gateway.refused_403) == (1, 2)
    assert gateway.requests[2][2]["x-api-key"] == "k-123"


def test_required_header_is_stripped_before_forwarding(echo: str, session: requests.Session) -> None:
    with reverse_proxy(echo, required_header=("X-Api-Key", "k")) as gateway:
        got = echoed(session.get(gateway.url + "/e", headers={"x-api-key": "k"}))
    assert "x-api-key" not in got["header_names"]


def test_prefix_routing(upstream: str, echo: str, session: requests.Session) -> None:
    with reverse_proxy(upstream, path_prefix="/staging") as gateway:
        root = gateway.url.removesuffix("/staging")
        inside = session.get(gateway.url + USAGE, headers=AUTH)
        outside = [session.get(root + path, headers=AUTH) for path in (USAGE, "/stagingx" + USAGE, "/")]
    assert gateway.url.endswith("/staging")
    assert (inside.status_code, inside.json()) == (200, session.get(upstream + USAGE, headers=AUTH).json())
    assert [r.status_code for r in outside] == [404, 404, 404]
    assert (gateway.forwarded, gateway.refused_404) == (1, 3)
    with reverse_proxy(echo, path_prefix="/v") as gateway:
        got = echoed(session.get(gateway.url + USAGE + "?x=1"))
        bare = echoed(session.get(gateway.url + "?y=2"))
    assert (got["path"], got["query"]) == (USAGE, "x=1")
    assert (bare["path"], bare["query"]) == ("/", "y=2")


def test_unreachable_upstream_is_a_502(session: requests.Session) -> None:
    with reverse_proxy(refused_url()) as gateway:
        response = session.get(gateway.url + USAGE)
    assert response.status_code == 502
    assert gateway.forwarded == 0


@pytest.mark.parametrize("kwargs", [
    {"upstream": "http://example.com"},
    {"upstream": "https://127.0.0.1:1"},
    {"upstream": "http://127.0.0.1:1", "path_prefix": "staging"},
    {"upstream": "http://127.0.0.1:1", "path_prefix": "/staging/"},
])
def test_misconfiguration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError), reverse_proxy(**kwargs):
        pass


def test_leaving_the_block_closes_keep_alive_connections(upstream: str, session: requests.Session) -> None:
    with reverse_proxy(upstream) as gateway:
        assert session.get(gateway.url + USAGE, headers=AUTH).status_code == 200
        start = time.monotonic()
    assert time.monotonic() - start < STOP_BOUND_S
    with pytest.raises(requests.ConnectionError):  # not answered by a handler outliving the gateway
        session.get(gateway.url + USAGE, headers=AUTH)


# --- TLS and the forward proxy --------------------------------------------------------------------


def test_tls_gateway_serves_https(upstream: str, tls_files: TlsFiles, session: requests.Session) -> None:
    with reverse_proxy(upstream, tls=tls_files) as gateway:
        response = session.get(gateway.url + USAGE, headers=AUTH, verify=str(tls_files.ca_cert))
        with pytest.raises(requests.exceptions.SSLError):
            session.get(gateway.url + USAGE, headers=AUTH, verify=True)
    assert gateway.url.startswith("https://127.0.0.1:")
    assert seen(response) == seen(session.get(upstream + USAGE, headers=AUTH))


def test_forward_proxy_relays_http_targets(upstream: str, session: requests.Session) -> None:
    url = upstream + USAGE + "?start_date=2025-01-01"
    with forward_proxy() as proxy:
        response = session.get(url, headers=AUTH, proxies={"http": proxy.url})
    assert seen(response) == seen(session.get(url, headers=AUTH))
    assert proxy.seen == [("GET", url)]
    assert proxy.url.startswith("http://127.0.0.1:")


def test_forward_proxy_tunnels_https(upstream: str, tls_files: TlsFiles, session: requests.Session) -> None:
    with reverse_proxy(upstream, tls=tls_files) as gateway, forward_proxy() as proxy:
        responses = [session.get(gateway.url + USAGE, headers=AUTH, proxies={"https": proxy.url},
                                 verify=str(tls_files.ca_cert)) for _ in range(2)]
        start = time.monotonic()
    assert time.monotonic() - start < STOP_BOUND_S  # the open tunnel did not hold the exit up
    assert [r.status_code for r in responses] == [200, 200]
    assert proxy.seen == [("CONNECT", gateway.url.removeprefix("https://"))]  # one tunnel, kept alive
    assert (proxy.tunnels, gateway.forwarded) == (1, 2)


def test_forward_proxy_refuses_targets_off_this_machine() -> None:
    with forward_proxy() as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        answers = []
        for method, target in [("GET", "http://example.com/"), ("CONNECT", "example.com:443"),
                               ("GET", "/origin-form")]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(method, target, headers={"Host": "example.com"})
            answers.append(conn.getresponse().status)
            conn.close()
    assert answers == [403, 403, 400]
    assert [method for method, _ in proxy.seen] == ["GET", "CONNECT", "GET"]


def test_refusing_proxy_answers_403(upstream: str, tls_files: TlsFiles, session: requests.Session) -> None:
    with forward_proxy(refuse=True) as proxy, reverse_proxy(upstream, tls=tls_files) as gateway:
        refused = session.get(upstream + USAGE, headers=AUTH, proxies={"http": proxy.url})
        with pytest.raises(requests.exceptions.ProxyError, match="403"):
            session.get(gateway.url + USAGE, proxies={"https": proxy.url}, verify=str(tls_files.ca_cert))
    assert refused.status_code == 403
    assert [method for method, _ in proxy.seen] == ["GET", "CONNECT"]
    assert gateway.forwarded == 0 and not gateway.requests

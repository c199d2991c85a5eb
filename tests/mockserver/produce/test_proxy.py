"""Proxy mode: forward to a real server, judge every exchange, record or refuse what breaks the contract."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from mockserver.app import create_app
from mockserver.cli import main
from mockserver.serving.launch import running_mock
from tests.mockserver.frontend import TOKEN, USAGE, assert_problem, auth, journal, reset, serving

REFERENCE = create_app(seed=12, access_log=False, journal_size=0, control=False, reload=False)
MODE: dict[str, str] = {"name": "good"}


def upstream_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A backend whose behaviour the test chooses: correct (the mock itself), or one defect at a time."""
    mode, request = MODE["name"], Request(environ)
    if mode == "crash":
        return Response("boom", 500, mimetype="text/plain")(environ, start_response)
    reply = Response.from_app(REFERENCE, environ)
    if mode in ("lax", "lax-wrong") and reply.status_code in (401, 422):  # serves data to anyone, for any dates
        ok = Response.from_app(REFERENCE, {**environ, "QUERY_STRING": "", "HTTP_AUTHORIZATION": f"Bearer {TOKEN}"})
        reply = Response(ok.get_data(), 200, mimetype="application/json")
    if mode in ("wrong-body", "lax-wrong") and reply.status_code == 200:
        body = json.loads(reply.get_data())
        body["tokens"]["remaining"] = -5
        body["rate_limit_rpm"] = str(body["rate_limit_rpm"])
        reply.set_data(json.dumps(body))
    if mode == "vague-422" and reply.status_code == 422:
        reply = Response(json.dumps({"detail": [{"loc": ["body"], "msg": "bad", "type": "value_error"}]}), 422,
                         mimetype="application/json")
    if request.path == "/api/v1/echo":
        reply = Response(json.dumps({"auth": request.headers.get("Authorization")}), 200, mimetype="application/json")
    return reply(environ, start_response)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(upstream_app) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(upstream: str) -> Iterator[str]:
    with running_mock(extra_args=["--upstream", upstream]) as url:
        yield url


@pytest.fixture(scope="module")
def strict_proxy(upstream: str) -> Iterator[str]:
    with running_mock(extra_args=["--upstream", upstream, "--strict"]) as url:
        yield url


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    MODE["name"] = "good"
    yield
    MODE["name"] = "good"
    for name in ("proxy", "strict_proxy"):
        if name in request.fixturenames:
            reset(request.getfixturevalue(name))


def _usage(base_url: str, query: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{base_url}{USAGE}{query}", headers=auth() if headers is None else headers, timeout=10)


def test_a_conforming_upstream_passes_through_untouched(proxy: str) -> None:
    response = _usage(proxy)
    assert response.status_code == 200 and "X-Mock-Violations" not in response.headers
    assert response.json() == REFERENCE.test_client().get(USAGE, headers=auth()).get_json()
    assert len(response.raw.headers.getlist("Date")) == 1  # ours, not the upstream's as well
    entry = journal(proxy)[0]
    assert (entry["mode"], entry["request"], entry["response"], entry["problems"]) == ("proxy", "valid", "valid", [])
    health = requests.get(f"{proxy}/__mock/health", timeout=5).json()
    assert health["mode"] == "proxy" and health["strict"] is False


def test_a_body_that_breaks_the_rules_is_recorded_and_flagged(proxy: str) -> None:
    MODE["name"] = "wrong-body"
    response = _usage(proxy)
    assert response.status_code == 200 and response.json()["tokens"]["remaining"] == -5  # passed on as received
    assert int(response.headers["X-Mock-Violations"]) >= 2
    entry = journal(proxy)[0]
    assert entry["response"] == "violations"
    problems = " | ".join(entry["problems"])
    assert "METRIC-004" in problems and "rate_limit_rpm" in problems


def test_strict_mode_answers_502_with_the_violations(strict_proxy: str) -> None:
    MODE["name"] = "wrong-body"
    body = assert_problem(_usage(strict_proxy), 502, "contract-violation")
    assert body["upstream_status"] == 200
    assert any(v.startswith("METRIC-004") for v in body["violations"])
    MODE["name"] = "good"
    assert _usage(strict_proxy).status_code == 200


@pytest.mark.parametrize(("mode", "query", "headers", "rule"), [
    ("crash", "", None, "STATUS-002"),
    ("lax", "?start_date=2026-02-30", None, "STATUS-004"),
    ("lax", "?start_date=2026-03-10&end_date=2026-03-01", None, "PERIOD-005"),
    ("lax", "", {}, "AUTH-001"),
    ("vague-422", "?end_date=2026-13-01", None, "STATUS-005"),
])
def test_what_the_request_implies_is_checked(strict_proxy: str, mode: str, query: str,
                                             headers: dict[str, str] | None, rule: str) -> None:
    MODE["name"] = mode
    body = assert_problem(_usage(strict_proxy, query, headers), 502, "contract-violation")
    assert body["violations"][0].startswith(rule), body


@pytest.mark.parametrize(("query", "headers", "rule"), [
    ("?start_date=2026-02-30", None, "STATUS-004"), ("?start_date=2026-03-10&end_date=2026-03-01", None, "PERIOD-005"),
    ("", {}, "AUTH-001"),
])
def test_a_wrong_body_is_reported_beside_a_wrong_status(strict_proxy: str, query: str,
                                                        headers: dict[str, str] | None, rule: str) -> None:
    MODE["name"] = "lax-wrong"
    violations = assert_problem(_usage(strict_proxy, query, headers), 502, "contract-violation")["violations"]
    assert violations[0].startswith(rule), violations
    assert any(v.startswith("METRIC-004") for v in violations), violations
    assert any("rate_limit_rpm" in v for v in violations), violations


@pytest.mark.parametrize(("path", "payload"), [
    ("/scenario", {"scenario": "fresh"}), ("/tokens/scenario", {"scenario": "exhausted"}),
    ("/faults", {"rate_limit": True}),
])
def test_settings_that_would_not_apply_in_proxy_mode_are_refused(proxy: str, path: str,
                                                                 payload: dict[str, Any]) -> None:
    response = requests.put(f"{proxy}/__mock{path}", json=payload, headers=auth(), timeout=5)
    assert_problem(response, 409, "proxy-mode")
    health = requests.get(f"{proxy}/__mock/health", timeout=5).json()
    assert health["scenario"] == "default" and health["faults"]["rate_limit"] is False, health
    latency = requests.put(f"{proxy}/__mock/faults", json={"latency": "1ms"}, timeout=5)
    assert latency.status_code == 200  # faults the mock itself applies still work in proxy mode


def test_the_upstreams_own_refusals_are_fine(proxy: str) -> None:
    assert _usage(proxy, headers={}).status_code == 401
    assert _usage(proxy, "?end_date=2026-13-01").status_code == 422
    entries = journal(proxy)
    assert [(e["status"], e["request"], e["response"]) for e in entries] == [
        (422, "invalid", "valid"), (401, "unauthenticated", "valid")]


def test_paths_outside_the_contract_are_forwarded_unchecked(proxy: str) -> None:
    echo = requests.get(f"{proxy}/api/v1/echo", headers=auth(), timeout=5)
    assert echo.json() == {"auth": f"Bearer {TOKEN}"}  # headers reach the upstream
    entry = journal(proxy)[0]
    assert (entry["request"], entry["response"]) == ("not-in-contract", "unchecked")
    assert TOKEN not in json.dumps(journal(proxy))


def test_an_unreachable_upstream_is_a_502_of_the_mocks_own() -> None:
    app = create_app(upstream="http://127.0.0.1:9", access_log=False, reload=False)
    response = app.test_client().get(USAGE, headers=auth())
    assert response.status_code == 502 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/upstream-unreachable")


def test_violations_are_logged_without_the_token(upstream: str, caplog: pytest.LogCaptureFixture) -> None:
    MODE["name"] = "wrong-body"
    app = create_app(upstream=upstream, access_log=False, reload=False)
    with caplog.at_level(logging.WARNING, logger="mockserver.access"):
        response = app.test_client().get(f"{USAGE}?token={TOKEN}", headers=auth())
    assert response.status_code == 200
    logged = caplog.text
    assert "contract violation by the upstream" in logged and "METRIC-004" in logged
    assert TOKEN not in logged


@pytest.mark.parametrize(("args", "option"), [
    (["--strict"], "--strict"), (["--upstream", "ftp://example.com"], "--upstream"),
    (["--upstream", "http://127.0.0.1:8000", "--scenario", "fresh"], "--scenario"),
    (["--upstream", "http://127.0.0.1:8000", "--live-usage", "queries"], "--live-usage"),
    (["--upstream", "http://127.0.0.1:8000", "--rate-limit-emulation"], "--rate-limit-emulation"),
])
def test_proxy_options_that_make_no_sense_are_one_clear_error(args: list[str], option: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output, result.output


def test_proxy_mode_under_concurrent_load_to_a_slow_upstream_never_fails_itself() -> None:
    """32 connections at once through the proxy, each request waiting on the upstream with its turn
    given away: the caches every thread then touches (request verdicts, schema checks) must hold."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    def slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(0.05)
        return REFERENCE(environ, start_response)

    queries = [f"?start_date=2026-11-{day:02d}&end_date=2026-11-{min(day + span, 30):02d}"
               for day in range(1, 29) for span in (0, 1, 2, 3)]  # 112 distinct keys for every cache
    with serving(slow) as upstream, running_mock(extra_args=["--upstream", upstream], threads=8) as url, \
            ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda query: _usage(url, query).status_code, queries * 2))
    assert len(statuses) == 224 and set(statuses) == {200}, sorted(set(statuses))


# --- the forwarding connection: kept alive, and what a pool used to do for it -------------------


@contextlib.contextmanager
def raw_upstream(answer: Callable[[int], bytes | None]) -> Iterator[tuple[str, list[int]]]:
    """A 127.0.0.1 server speaking raw HTTP/1.1: ``answer(n)`` gives the bytes for the n-th request
    (None: read it and never answer). Every connection is closed after one reply, without saying
    so (no ``Connection: close``), as an upstream's idle timeout closes a kept-alive connection.
    Yields its URL and the count of connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[int] = [0]
    stop = threading.Event()

    def serve() -> None:
        served = 0
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted[0] += 1
            with connection:
                connection.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                served += 1
                reply = answer(served)
                if reply is None:
                    stop.wait(5)
                    continue
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def _http_reply(body: bytes, *headers: str) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}",
                        *headers])
    return head.encode() + b"\r\n\r\n" + body


def _usage_body() -> bytes:
    reply = REFERENCE.test_client().get(USAGE, headers=auth())
    assert reply.status_code == 200
    return reply.get_data()


def test_an_upstream_that_closes_idle_connections_is_reconnected_to_for_every_request() -> None:
    body = _usage_body()
    with raw_upstream(lambda _n: _http_reply(body)) as (upstream, accepted):
        client = create_app(upstream=upstream, access_log=False, reload=False, journal_size=0).test_client()
        statuses = [client.get(USAGE, headers=auth()).status_code for _ in range(4)]
    assert statuses == [200] * 4
    assert accepted[0] == 4  # a new connection each time, none of the requests lost to a closed one


def test_a_gzip_body_from_the_upstream_is_judged_and_served_decoded() -> None:
    body = _usage_body()
    packed = gzip.compress(body)
    with raw_upstream(lambda _n: _http_reply(packed, "Content-Encoding: gzip")) as (upstream, _):
        client = create_app(upstream=upstream, access_log=False, reload=False, journal_size=0).test_client()
        response = client.get(USAGE, headers=auth())
    assert response.status_code == 200
    assert response.get_data() == body and "Content-Encoding" not in response.headers
    assert response.headers["Content-Length"] == str(len(body))
    assert "X-Mock-Violations" not in response.headers  # the decoded body was judged, and is valid


def test_an_upstream_that_never_answers_is_a_504_after_the_read_timeout() -> None:
    from flask import Request as FlaskRequest
    from werkzeug.test import EnvironBuilder

    from mockserver.produce.proxy import Proxy, UpstreamError

    with raw_upstream(lambda _n: None) as (upstream, _):
        proxy = Proxy(upstream, timeout=(5.0, 0.3))
        request = FlaskRequest(EnvironBuilder(path=USAGE, headers=auth()).get_environ())
        with pytest.raises(UpstreamError) as caught:
            proxy.forward(request)
    assert (caught.value.kind, caught.value.status) == ("upstream-timeout", 504)
    assert "0s" in caught.value.detail and TOKEN not in caught.value.detail


def test_a_reply_cut_short_is_a_broken_reply_of_the_mocks_own() -> None:
    short = _http_reply(b'{"plan": "free"}').replace(b"Content-Length: 16", b"Content-Length: 99")
    with raw_upstream(lambda _n: short) as (upstream, _):  # 16 bytes of the 99 announced, then closed
        response = create_app(upstream=upstream, access_log=False, reload=False).test_client().get(
            USAGE, headers=auth())
    assert response.status_code == 502 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/upstream-broken-reply")

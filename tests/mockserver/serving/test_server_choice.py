"""The production server choice (granian, gunicorn kept as an engine): what changed for users.

Granian binds the port in each worker, so ``--port 0`` must still give one address that every
worker serves; the body is handed over whole; the server refuses oversized request heads itself.
Speed is measured by ``python -m bench.run``, never asserted here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from mockserver.context import GIVE_WAY
from mockserver.serving.launch import running_mock
from mockserver.serving.request_size import MAX_BODY_BYTES
from mockserver.serving.server import MAX_REQUEST_HEAD, ServerOptions, buffered, serve
from mockserver.serving.turns import Turns, in_turn

TOKEN = "csk_server_choice_12345678"


class _Body:
    """A WSGI body that records whether the server closed it (PEP 3333 requires it)."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Any:
        return iter([b'{"a":', b"1}"])

    def close(self) -> None:
        self.closed = True


def test_buffered_hands_over_one_bytes_object_and_closes_the_body() -> None:
    body = _Body()
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def app(_environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return body

    result = buffered(app)({}, lambda status, headers, exc_info=None: seen.append((status, headers)))
    assert result == [b'{"a":1}']
    assert body.closed
    assert ("Connection", "keep-alive") in seen[0][1]


def test_an_unknown_engine_is_refused_before_anything_listens() -> None:
    with pytest.raises(ValueError, match="unknown server engine 'nope'"):
        serve(None, ServerOptions(port=0, engine="nope"))  # type: ignore[arg-type]


def test_port_zero_gives_one_address_that_every_worker_serves() -> None:
    with running_mock(seed=1, workers=2) as url, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        statuses = {session.get(f"{url}/api/v1/usage", timeout=5).status_code for _ in range(20)}
        # fresh connections too: the kernel spreads them over the workers' sockets
        fresh = {requests.get(f"{url}/api/v1/usage", headers=session.headers, timeout=5).status_code
                 for _ in range(20)}
        # each fresh connection says which worker took it: both did (all 24 on one: 2 ** -23)
        workers = {requests.get(f"{url}/__mock/health", timeout=5).json()["worker"] for _ in range(24)}
    assert statuses == fresh == {200}
    assert len(workers) == 2


def test_an_oversized_request_head_is_refused_by_the_server() -> None:
    with running_mock(seed=1) as url:
        response = requests.get(f"{url}/api/v1/usage", headers={"X-Padding": "x" * (MAX_REQUEST_HEAD + 1)},
                                timeout=5)
        still_serving = requests.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"},
                                     timeout=5)
    assert response.status_code == 431
    assert still_serving.status_code == 200


def test_gunicorn_engine_still_serves_and_announces() -> None:
    script = ("from mockserver.app import create_app; from mockserver.serving.server import ServerOptions, serve; "
              "serve(create_app(), ServerOptions(port=0, workers=1, threads=2, engine='gunicorn'))")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split("listening on ", 1)[1].strip()
        response = requests.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert response.status_code == 200
        assert response.headers["Server"] == "gunicorn"
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def test_a_worker_that_dies_is_replaced_and_the_server_stays_up() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "--port", "0", "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split("listening on ", 1)[1].strip()
        workers = _children(process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = _children(process.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.1)
        assert process.poll() is None
        now = _children(process.pid)
        assert workers[0] not in now and len(now) == 2  # the dead one reaped, a new one in its place
        statuses = {requests.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"},
                                 timeout=5).status_code for _ in range(20)}
        assert statuses == {200}
        answering: set[int] = set()
        deadline = time.monotonic() + 20  # the replacement imports the app before it listens
        while answering != set(now) and time.monotonic() < deadline:
            answering |= {requests.get(f"{url}/__mock/health", timeout=5).json()["worker"] for _ in range(8)}
            time.sleep(0.1)
        assert answering == set(now)  # the replacement serves too
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


def test_turns_go_to_waiters_in_arrival_order_once_they_have_been_patient() -> None:
    turns, got = Turns(patience=0.001), []
    turns.acquire()
    waiters = []
    for number in range(5):
        waiter = threading.Thread(target=lambda n=number: (turns.acquire(), got.append(n), turns.release()))
        waiter.start()
        waiters.append(waiter)
        deadline = time.monotonic() + 5
        while turns.waiting < number + 1 and time.monotonic() < deadline:  # queued before the next comes
            time.sleep(0.001)
        assert turns.waiting == number + 1
    time.sleep(0.01)  # every waiter is past its patience
    turns.release()
    for waiter in waiters:
        waiter.join(5)
    assert got == [0, 1, 2, 3, 4]
    turns.acquire()  # free again once nobody waits
    turns.release()


def test_a_young_waiter_may_be_overtaken_but_never_forgotten() -> None:
    turns, got = Turns(patience=0.05), []
    turns.acquire()
    waiter = threading.Thread(target=lambda: (turns.acquire(), got.append("waiter"), turns.release()))
    waiter.start()
    deadline = time.monotonic() + 5
    while not turns.waiting and time.monotonic() < deadline:
        time.sleep(0.001)
    assert turns.waiting == 1
    turns.release()  # the waiter is young: the turn is left free, not handed over
    turns.acquire()  # so a running thread may take it out of turn
    got.append("running")
    turns.release()
    waiter.join(10)
    assert not waiter.is_alive() and got == ["running", "waiter"]


def test_requests_take_turns_but_one_that_waits_gives_way() -> None:
    """Observed by how many requests are inside the app at once, not by how long they take."""
    inside, most_inside, lock = 0, 0, threading.Lock()
    polite_all_in = threading.Barrier(4, timeout=10)  # passes only when four are inside together

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        nonlocal inside, most_inside
        with lock:
            inside += 1
            most_inside = max(most_inside, inside)
        if environ.get("QUERY_STRING") == "polite":
            environ[GIVE_WAY]()
            polite_all_in.wait()
        else:
            time.sleep(0.05)  # a turn held while others queue for it
        with lock:
            inside -= 1
        start_response("200 OK", [])
        return [b""]

    wsgi = in_turn(app)

    def most_at_once(query: str) -> int:
        nonlocal most_inside
        most_inside = 0
        threads = [threading.Thread(target=lambda: b"".join(wsgi({"QUERY_STRING": query}, lambda *_: None)))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        assert not any(thread.is_alive() for thread in threads)
        return most_inside

    assert most_at_once("polite") == 4  # each gave way: all four inside side by side
    assert not polite_all_in.broken
    assert most_at_once("") == 1  # four turns one after another


SLOW_DELAY_S = 6.0


def test_delayed_requests_do_not_hold_up_the_others_over_http() -> None:
    """A quick request ends while three delayed ones still sleep: order, not a speed threshold."""
    with running_mock(seed=1, workers=1, threads=4) as url:
        def call(prefer: str) -> None:
            response = requests.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}",
                                                                    "Prefer": prefer}, timeout=30)
            assert response.status_code == 200

        slow = [threading.Thread(target=call, args=(f"delay={int(SLOW_DELAY_S * 1000)}ms",)) for _ in range(3)]
        for thread in slow:
            thread.start()
        time.sleep(0.2)
        call("delay=0ms")
        assert all(thread.is_alive() for thread in slow)  # not behind the three sleeping requests
        for thread in slow:
            thread.join(30)


DRIP_INTERVAL_S = 0.3


def test_a_body_sent_a_byte_at_a_time_holds_up_no_other_request() -> None:
    with running_mock(seed=1, workers=1, threads=4) as url:
        host, port = url.removeprefix("http://").split(":")
        body = b'{"scenario": "fresh"}'
        replies: list[bytes] = []

        def drip() -> None:
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(b"PUT /__mock/scenario HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
                for byte in body:
                    conn.sendall(bytes([byte]))
                    time.sleep(DRIP_INTERVAL_S)
                replies.append(conn.recv(200))

        dripping = threading.Thread(target=drip)
        dripping.start()
        time.sleep(0.3)
        assert requests.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=30).status_code == 200
        # Answered while the body is still dripping (len(body) * DRIP_INTERVAL_S = 6.3 s in all).
        assert dripping.is_alive() and not replies
        dripping.join(30)
        assert replies and replies[0].startswith(b"HTTP/1.1 200")
        too_large = requests.put(f"{url}/__mock/scenario", data=b"x" * (MAX_BODY_BYTES + 1), timeout=20)
        assert too_large.status_code == 413 and "too large" in too_large.json()["detail"]


def test_the_lean_runner_builds_the_environ_from_the_request_alone_and_hands_granian_one_body(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """granian's own runner copies os.environ into every environ; ours must not, and must answer
    exactly as granian's would (status as a number, the headers, one bytes body)."""
    from mockserver.serving.server import lean_wsgi_runner

    monkeypatch.setenv("CROSMOS_PROBE_SECRET", "from-the-process-environment")
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.update(environ)
        start_response("201 Created", [("Content-Type", "text/plain")])
        return iter([b"one ", b"body"])

    class Proto:
        def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            seen["answer"] = (status, headers, body)

    runner = lean_wsgi_runner(app, {})
    scope = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "QUERY_STRING": "", "HTTP_HOST": "h"}
    assert runner(Proto(), scope) == 201
    assert seen["answer"] == (201, [("Content-Type", "text/plain"), ("Connection", "keep-alive")], b"one body")
    assert "CROSMOS_PROBE_SECRET" not in seen and "PATH" not in seen
    assert seen["PATH_INFO"] == "/x" and seen["wsgi.version"] == (1, 0) and seen["SCRIPT_NAME"] == ""
    with pytest.raises(ValueError, match="access log"):
        lean_wsgi_runner(app, {}, "%(addr)s")


def test_today_is_the_utc_date_and_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, date, datetime

    from mockserver import settings

    assert settings.utc_today() == datetime.now(UTC).date()
    instant = datetime(2031, 5, 17, 23, 59, 59, tzinfo=UTC).timestamp()
    monkeypatch.setattr(settings, "time", SimpleNamespace(time=lambda: instant))
    assert settings.utc_today() == date(2031, 5, 17)
    monkeypatch.setattr(settings, "time", SimpleNamespace(time=lambda: instant + 1))
    assert settings.utc_today() == date(2031, 5, 18)

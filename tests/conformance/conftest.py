"""Shared fixtures: servers over real HTTP on 127.0.0.1 and a one-call way to certify them."""

from __future__ import annotations

import contextlib
import socket
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest

from conformance.engine import RunOptions, run_suite
from conformance.result import CertLevel, SuiteResult
from tests.servers import running
from tests.servers.reference import REFERENCE_TOKEN, create_app

SEED = 20261125


class _NoDelaySocket(socket.socket):
    """A listening socket whose connections send small writes at once (Nagle off)."""

    def bind(self, address: Any) -> None:
        super().bind(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and self.type == socket.SOCK_STREAM:
            self.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_SOCKET_MODULE = types.SimpleNamespace(**{**vars(socket), "socket": _NoDelaySocket})


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``tests.servers.running.serve_app`` with TCP_NODELAY on its pre-bound socket.

    uvicorn sets TCP_NODELAY only on sockets it binds itself; on the one serve_app binds, each
    keep-alive reply waits ~40 ms for a delayed ACK (Nagle), which makes a 70-request smoke run
    take 3.5 s instead of 0.7 s. Remove this wrapper once serve_app sets the option itself.
    """
    patch = (mock.patch.object(running, "socket", _SOCKET_MODULE) if getattr(running, "socket", None) is socket
             else contextlib.nullcontext())
    with patch:
        served = running.serve_app(app)
        url = served.__enter__()
    try:
        yield url
    finally:
        served.__exit__(None, None, None)


def certify(base_url: str, *, token: str = REFERENCE_TOKEN, level: CertLevel = CertLevel.FULL,
            profile: str = "smoke", **options: Any) -> SuiteResult:
    """The suite as a test uses it: the small profile, a fixed seed, level full."""
    return run_suite(RunOptions(base_url=base_url, token=token, level=level, profile=profile, seed=SEED,
                                **options))


@pytest.fixture(scope="session")
def reference_url() -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


@pytest.fixture(scope="session")
def reference_result(reference_url: str) -> SuiteResult:
    return certify(reference_url)

"""Proxy mode: forward to a real server; its replies are judged by the one judge.

``crosmos-mock --upstream URL`` puts the mock between a frontend and a real backend. ``forward``
is the pipeline's producer in this mode (:mod:`mockserver.producers`); the output stage judges
each reply exactly as the conformance suite judges a server (:mod:`crosmos_contract.judge`:
openapi-core for the schema, the rules for a usage body's meaning, and what the request implies:
an invalid date must get 422, no credentials must not get data). Violations go to the journal, a
warning log line and an ``X-Mock-Violations`` header; with ``--strict`` the client gets a 502
problem+json listing them instead of the faulty reply. A request that itself breaks the contract
is recorded, not blocked: the upstream's answer to it is what is judged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import Request, Response

from mockserver import replies

log = logging.getLogger(__name__)
MAX_BODY = 10 * 1024 * 1024
VIOLATIONS_HEADER = "X-Mock-Violations"
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
_NOT_KEPT = _HOP_BY_HOP | {"content-encoding"}  # requests decoded the body
_NOT_FORWARDED_BACK = {"date", "server"}  # our server states its own
_TRANSPORT_REFUSALS = frozenset({405, 413, 414, 431})  # STATUS-003: allowed whatever the contract says


def parse_upstream(text: str) -> str:
    """An ``http(s)://host[:port][/base]`` URL without query; ValueError otherwise."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an upstream URL; use e.g. http://127.0.0.1:8000")
    return text.strip().rstrip("/")


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def content_type(self) -> str:
        return next((value for name, value in self.headers if name.lower() == "content-type"), "")

    def to_response(self) -> Response:
        response = Response(self.body, status=self.status)
        response.headers.clear()
        for name, value in self.headers:
            if name.lower() not in _NOT_FORWARDED_BACK:
                response.headers.add(name, value)
        return response


class UpstreamError(Exception):
    def __init__(self, kind: str, title: str, detail: str, status: int = 502) -> None:
        super().__init__(detail)
        self.kind, self.title, self.detail, self.status = kind, title, detail, status

    def to_response(self) -> Response:
        return replies.problem(self.kind, self.title, self.status, self.detail)


class Proxy:
    def __init__(self, upstream: str, strict: bool = False, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        self.upstream = parse_upstream(upstream)
        self.strict = strict
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # forward to exactly the upstream named, not through env proxies
            self._local.session = session
        return session

    def forward(self, request: Request) -> UpstreamReply:
        """Send ``request`` on to the upstream; UpstreamError when it cannot be reached or misbehaves."""
        url = self.upstream + request.path + (f"?{request.query_string.decode('latin-1')}"
                                              if request.query_string else "")
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote_addr or ""
        try:
            upstream = self._session().request(request.method, url, headers=headers, data=request.get_data(),
                                               timeout=self.timeout, allow_redirects=False, stream=True)
        except requests.Timeout:
            raise UpstreamError("upstream-timeout", "The upstream did not answer in time",
                                f"no answer from {self.upstream} within {self.timeout[1]:.0f}s", 504) from None
        except requests.RequestException as exc:
            raise UpstreamError("upstream-unreachable", "The upstream cannot be reached",
                                f"{self.upstream}: {type(exc).__name__}") from None
        with upstream:
            chunks, size = [], 0
            try:
                for chunk in upstream.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise UpstreamError("upstream-too-large", "The upstream's reply is too large",
                                            f"more than {MAX_BODY // 1024 // 1024} MiB")
                    chunks.append(chunk)
            except requests.RequestException as exc:
                raise UpstreamError("upstream-broken-reply", "The upstream's reply broke off",
                                    f"{self.upstream}: {type(exc).__name__}") from None
            kept = [(name, value) for name, value in upstream.headers.items()
                    if name.lower() not in _NOT_KEPT]
            return UpstreamReply(upstream.status_code, kept, b"".join(chunks))


def violation_reply(violations: Sequence[str], upstream_status: int) -> Response:
    return replies.problem("contract-violation", "The upstream broke the contract", 502,
                           f"{len(violations)} violation(s) in the upstream's {upstream_status} reply",
                           upstream_status=upstream_status, violations=list(violations))


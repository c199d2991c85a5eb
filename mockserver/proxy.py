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
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from flask import Request, Response

from mockserver import replies

log = logging.getLogger(__name__)
MAX_BODY = 10 * 1024 * 1024
VIOLATIONS_HEADER = "X-Mock-Violations"
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
_NOT_KEPT = _HOP_BY_HOP | {"content-encoding"}  # urllib3 decoded the body
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
    """Forwards with urllib3's connection pool: the pool requests is built on, without requests'
    per-call layers (hooks, cookies, environment lookups, header merging), which cost more CPU per
    reply than judging it (docs/performance.md, "Proxy mode")."""

    def __init__(self, upstream: str, strict: bool = False, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        self.upstream = parse_upstream(upstream)
        self.strict = strict
        self.timeout = timeout
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=64, ca_certs=certifi.where(), retries=False,
                                         timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))

    def forward(self, request: Request) -> UpstreamReply:
        """Send ``request`` on to the upstream; UpstreamError when it cannot be reached or misbehaves."""
        url = self.upstream + request.path + (f"?{request.query_string.decode('latin-1')}"
                                              if request.query_string else "")
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote_addr or ""
        try:
            upstream = self._pool.request(request.method, url, headers=headers, body=request.get_data() or None,
                                          redirect=False, preload_content=False, decode_content=True)
        except urllib3.exceptions.NewConnectionError:  # refused, or no such host (urllib3 files it under timeouts)
            raise UpstreamError("upstream-unreachable", "The upstream cannot be reached",
                                f"{self.upstream}: ConnectionError") from None
        except urllib3.exceptions.TimeoutError:
            raise UpstreamError("upstream-timeout", "The upstream did not answer in time",
                                f"no answer from {self.upstream} within {self.timeout[1]:.0f}s", 504) from None
        except urllib3.exceptions.HTTPError as exc:
            raise UpstreamError("upstream-unreachable", "The upstream cannot be reached",
                                f"{self.upstream}: {_cause_name(exc)}") from None
        try:
            chunks, size = [], 0
            try:
                for chunk in upstream.stream(64 * 1024):
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise UpstreamError("upstream-too-large", "The upstream's reply is too large",
                                            f"more than {MAX_BODY // 1024 // 1024} MiB")
                    chunks.append(chunk)
            except urllib3.exceptions.HTTPError as exc:
                raise UpstreamError("upstream-broken-reply", "The upstream's reply broke off",
                                    f"{self.upstream}: {_cause_name(exc)}") from None
            kept = [(name, value) for name, value in upstream.headers.items() if name.lower() not in _NOT_KEPT]
            return UpstreamReply(upstream.status, kept, b"".join(chunks))
        finally:
            upstream.release_conn()


def _cause_name(error: urllib3.exceptions.HTTPError) -> str:
    """The failure's kind as requests named it (``ConnectionError``, ``SSLError`` …), never its text,
    which may quote the URL."""
    if isinstance(error, urllib3.exceptions.SSLError):
        return "SSLError"
    if isinstance(error, urllib3.exceptions.ProtocolError | urllib3.exceptions.MaxRetryError):
        return "ConnectionError"
    return type(error).__name__


def violation_reply(violations: Sequence[str], upstream_status: int) -> Response:
    return replies.problem("contract-violation", "The upstream broke the contract", 502,
                           f"{len(violations)} violation(s) in the upstream's {upstream_status} reply",
                           upstream_status=upstream_status, violations=list(violations))


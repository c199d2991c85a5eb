"""Proxy mode: forward to a real server and judge every exchange against the contract and the rules.

``crosmos-mock --upstream URL`` puts the mock between a frontend and a real backend. Each reply
is checked as the conformance suite would check it: openapi-core for status, media type and body
schema, :mod:`crosmos_contract.rules` for a usage body's meaning, and what the request implies (an invalid
date must get 422, no credentials must not get data). Violations go to the journal, a warning
log line and an ``X-Mock-Violations`` header; with ``--strict`` the client gets a 502
problem+json listing them instead of the faulty reply. A request that itself breaks the contract
is recorded, not blocked: the upstream's answer to it is what is judged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from flask import Request, Response

from crosmos_contract import rules
from mockserver import replies
from mockserver.auth import Credential
from mockserver.operations import Operation
from mockserver.validation import ContractValidator, RequestVerdict

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


def judge(validator: ContractValidator, request: Request, operation: Operation, verdict: RequestVerdict,
          credential: Credential | None, reply: UpstreamReply, local_today: date) -> list[str]:
    """Every way ``reply`` breaks the contract for ``request`` (empty when it keeps it)."""
    status = reply.status
    if status >= 500:
        return [f"STATUS-002: Received {status} / Expected no 5xx, whatever the input"]
    if status in _TRANSPORT_REFUSALS:
        return []
    found: list[str] = []
    unauthenticated = verdict.security_failed or (credential is not None and not credential.ok)
    if status in (401, 403):
        if not operation.requires_auth:
            found.append(f"STATUS-003: Received {status} for an operation without security / Expected "
                         "a documented status")
        return found
    start, end = verdict.values.get("start_date"), verdict.values.get("end_date")
    todays = _today_candidates(reply, local_today)
    if 200 <= status < 300:  # a success the request should not have had; its body is judged too
        if unauthenticated:
            found.append(f"AUTH-001: Received {status} without valid credentials / Expected 401 or 403")
        elif verdict.errors:
            found.append(f"STATUS-004: Received {status} for an invalid request "
                         f"({'; '.join(_loc(d) for d in verdict.errors)}) / Expected 422")
        elif operation.is_usage and all(not rules.window_is_valid(*rules.default_period(t, start, end))
                                        for t in todays):
            found.append(f"PERIOD-005: Received {status} for start_date after end_date / Expected 422")
    refused_late = bool(found)
    found.extend(validator.check_response(request, _as_response(reply), operation))
    if operation.is_usage and status == 200:
        try:
            body = json.loads(reply.body)
        except ValueError:
            body = None
        if isinstance(body, dict):
            violations = rules.check_usage_values(body) if refused_late else rules.check_usage_body(
                body, today_candidates=todays, start_param=start, end_param=end)
            found.extend(str(v) for v in violations)
    if status == 422 and verdict.errors and not found:
        found.extend(_names_the_parameter(reply, verdict))
    return found


def _names_the_parameter(reply: UpstreamReply, verdict: RequestVerdict) -> list[str]:
    """STATUS-005: a 422 for a bad parameter says which one (``detail[].loc``)."""
    try:
        details = json.loads(reply.body).get("detail")
    except (ValueError, AttributeError):
        return []
    expected = {tuple(d.get("loc", ())) for d in verdict.errors}
    given = {tuple(d.get("loc", ())) for d in details if isinstance(d, Mapping)} if isinstance(details, list) else set()
    if expected & given:
        return []
    return [f"STATUS-005: Received a 422 whose detail names {sorted(given) or 'nothing'} / Expected "
            f"{' or '.join(str(list(loc)) for loc in sorted(expected))}"]


def _as_response(reply: UpstreamReply) -> Response:
    response = Response(reply.body, status=reply.status)
    if reply.content_type:
        response.headers["Content-Type"] = reply.content_type
    return response


def _today_candidates(reply: UpstreamReply, local_today: date) -> list[date]:
    """The upstream's day from its ``Date`` header (the server's clock is what counts) and ours."""
    days = {local_today}
    header = next((value for name, value in reply.headers if name.lower() == "date"), None)
    if header:
        with contextlib.suppress(TypeError, ValueError):
            days.add(parsedate_to_datetime(header).astimezone(UTC).date())
    else:
        days.add(local_today - timedelta(days=1))  # without a Date header, tolerate a midnight straddle
    return sorted(days)


def _loc(detail: object) -> str:
    loc = detail.get("loc", []) if isinstance(detail, Mapping) else []
    return ".".join(str(part) for part in loc) or "request"


def violation_reply(violations: Sequence[str], upstream_status: int) -> Response:
    return replies.problem("contract-violation", "The upstream broke the contract", 502,
                           f"{len(violations)} violation(s) in the upstream's {upstream_status} reply",
                           upstream_status=upstream_status, violations=list(violations))


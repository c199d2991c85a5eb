"""The probes' client: one request at a time through the suite's transport, recorded as an Exchange.

A transport error (no response at all) becomes an Exchange without response, so a probe can judge
it (STATUS-008, a server that stopped answering); the preflight asks for it to be fatal instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import requests

from conformance.transport import ConnectionProblem, Transport, failure_reason, undecodable, was_truncated
from crosmos_contract.exchange import REDACTED, Exchange, ReceivedResponse, SentRequest, headers_from, utc_now


class HttpClient:
    """Sends one request at a time and returns an :class:`Exchange` (or raises ConnectionProblem)."""

    def __init__(self, base_url: str, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport
        self._session = transport.session()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, path: str, *, params: Sequence[tuple[str, str]] = (), headers: dict[str, str] | None = None,
             method: str = "GET", origin: str, fatal: bool = False) -> Exchange:
        """Send and record. A transport error is an Exchange without response, unless ``fatal``."""
        request = requests.Request(method, self.base_url + path, params=list(params), headers=headers or {})
        prepared = self._session.prepare_request(request)
        settings = self.transport.settings
        # Only the headers we chose, and the user's extra ones with their values hidden: requests'
        # defaults (Accept-Encoding, User-Agent) stay off the record and out of the reproducer.
        recorded = [*headers_from(headers or {}), *((name, REDACTED) for name, _ in settings.headers
                                                    if name.lower() not in {k.lower() for k in headers or {}})]
        sent = SentRequest(method, prepared.url or "", tuple(recorded))
        started = utc_now()
        try:
            response = self._session.send(prepared, stream=True, allow_redirects=False)
        except requests.RequestException as exc:
            reason = failure_reason(exc, settings)
            if fatal:
                raise ConnectionProblem(f"no usable response from {self.base_url} to {method} {path}: "
                                        f"{reason}") from None
            return Exchange(sent, None, started, utc_now(), origin, error=reason)
        finished = utc_now()
        received = ReceivedResponse(
            status=response.status_code,
            headers=headers_from(response.headers),
            body=response.content or b"",
            elapsed=response.elapsed.total_seconds() if response.elapsed else (finished - started).total_seconds(),
            truncated=was_truncated(response, settings.max_body_bytes),
            undecodable=undecodable(response),
        )
        return Exchange(sent, received, started, finished, origin)

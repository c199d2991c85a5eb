"""The HTTP side of the suite: bounded requests, for probes and for schemathesis alike.

A server under test may answer slowly or endlessly; every read here has a timeout and every body
a size cap, so a hostile or broken server costs a finding, never a hung CI job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import requests

from crosmos_contract.exchange import Exchange, ReceivedResponse, SentRequest, headers_from, utc_now

DEFAULT_MAX_BODY_BYTES = 256 * 1024  # a usage body is a few hundred bytes
_CAPPED = "_crosmos_body_capped"


class ConnectionProblem(Exception):
    """The server cannot be reached at all: a usage error (exit 2), not a conformance finding."""


class TokenRejected(ConnectionProblem):
    """The server refused the token it was given: a wrong or expired secret, not a finding about it."""


class WrongTarget(ConnectionProblem):
    """The usage path answered 404: the base URL points elsewhere, nothing could be certified."""


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, or ValueError saying in one line what is wrong with it."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port  # ValueError when out of range or not a number
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host (e.g. http://127.0.0.1:8000)")
    if port == 0:
        raise ValueError(f"{url!r}: port 0 cannot be connected to")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: give the server's base URL, without a query or fragment")
    return url.strip().rstrip("/")


def cap_body_hook(limit: int, seconds: float) -> Any:
    """A requests response hook that reads at most ``limit`` + 1 bytes of the body, for at most
    ``seconds``.

    requests reads a streamed body lazily; reading it here, bounded, means whatever comes later
    (schemathesis included) sees the capped bytes. One byte over the limit marks truncation. The
    socket timeout bounds each read, not the body: a server dripping a byte a second would pass
    it forever, so the whole body gets a deadline too (a ReadTimeout, as for a silent server).
    """
    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if getattr(response, "_content_consumed", False) or getattr(response, _CAPPED, False):
            return response
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + seconds
        try:
            # read1 returns whatever has arrived, so the deadline is checked after every trickle.
            while chunk := _read_some(response, 64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
                if time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout(
                        f"the body was not complete within {seconds:g} s", response=response)
        finally:
            response.close()
        body = b"".join(chunks)
        response._content = body[: limit + 1]
        setattr(response, "_content_consumed", True)  # noqa: B010 (private to requests)
        setattr(response, _CAPPED, size > limit)
        return response

    return hook


def _read_some(response: requests.Response, size: int) -> bytes:
    """Up to ``size`` decoded bytes, as soon as any arrive; urllib3's errors as requests' ones."""
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

    try:
        data: bytes = response.raw.read1(size, decode_content=True)
    except ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(str(exc), response=response) from None
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(str(exc), response=response) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(str(exc), response=response) from None
    return data


def was_truncated(response: requests.Response, limit: int) -> bool:
    return bool(getattr(response, _CAPPED, False)) or len(response.content or b"") > limit


class HttpClient:
    """Sends one request at a time and returns an :class:`Exchange` (or raises ConnectionProblem)."""

    def __init__(self, base_url: str, *, timeout: float, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self._session = requests.Session()
        self._session.hooks["response"].append(cap_body_hook(max_body_bytes, timeout))
        self._session.trust_env = False  # a CI's proxy variables must not reroute a local server

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
        # Only the headers we chose: requests' defaults (Accept-Encoding, User-Agent) stay off the record.
        sent = SentRequest(method, prepared.url or "", headers_from(headers or {}))
        started = utc_now()
        try:
            response = self._session.send(prepared, timeout=self.timeout, stream=True, allow_redirects=False)
        except requests.RequestException as exc:
            if fatal:
                raise ConnectionProblem(f"no usable response from {self.base_url} to {method} {path}: "
                                        f"{_reason(exc)}") from None
            return Exchange(sent, None, started, utc_now(), origin, error=_reason(exc))
        finished = utc_now()
        received = ReceivedResponse(
            status=response.status_code,
            headers=headers_from(response.headers),
            body=response.content or b"",
            elapsed=(finished - started).total_seconds(),
            truncated=was_truncated(response, self.max_body_bytes),
        )
        return Exchange(sent, received, started, finished, origin)

    def raw(self) -> requests.Session:
        return self._session


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "no complete reply before the timeout"
    text = str(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text:
        return "the connection broke in the middle of the body"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, requests.ConnectionError):
        if "Connection refused" in text:
            return "connection refused"
        if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower():
            return "the server closed the connection without a complete response"
        if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
            return "the host name does not resolve"
        return "connection failed"
    return type(exc).__name__

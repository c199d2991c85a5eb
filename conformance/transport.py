"""The one transport: every request the suite sends goes through it, configured once.

Probes, schemathesis's generated cases, its capability probes and the preflight all use sessions
made by :meth:`Transport.session`, which mount one :class:`requests.adapters.HTTPAdapter`. The
adapter, not the caller, decides TLS verification (a CA bundle, ``--insecure``), the client
certificate, the proxy, extra headers, the timeout, the body cap and the pace, and waits out
rate limits (:mod:`conformance.pacing`). So a setting cannot reach one path and miss another, as
it did when probes and generated cases had sessions of their own (httpx's transports are the model).

The environment is read as curl and requests read it, for proxies (``HTTP(S)_PROXY``,
``NO_PROXY``) and CA bundles (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``),
and for nothing else: sessions never read ``~/.netrc``, which would replace ``Authorization``.

Its parts live beside it, one concern each: :mod:`conformance.transport_settings` (what the
adapter is configured with), :mod:`conformance.body_reading` (the capped, timed read of each body)
and :mod:`conformance.transport_failures` (the errors that end a run, and a failure in the user's
words). The names callers import are re-exported here, so ``conformance.transport`` stays their one
import path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from conformance.body_reading import UNDECODABLE, read_capped, undecodable, was_truncated
from conformance.pacing import (
    FIRST_BACKOFF_S,
    MAX_RETRIES,
    MAX_WAIT_S,
    Pacer,
    RateLimitReport,
    is_refusal,
    parse_retry_after,
)
from conformance.transport_failures import ConnectionProblem, TokenRejected, WrongTarget, failure_reason
from conformance.transport_settings import (
    CA_BUNDLE_VARIABLES,
    DEFAULT_MAX_BODY_BYTES,
    TransportSettings,
    check_base_url,
)

__all__ = [
    "CA_BUNDLE_VARIABLES", "DEFAULT_MAX_BODY_BYTES", "UNDECODABLE", "ConnectionProblem", "TokenRejected", "Transport",
    "TransportSettings", "WrongTarget", "check_base_url", "failure_reason", "read_capped", "undecodable",
    "was_truncated",
]

_ELAPSED = "_crosmos_attempt_elapsed"


class Transport:
    """The suite's connection to one server: sessions that share one adapter, one pace and one deadline."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        if settings.insecure:  # asked for: the CLI and the plugin say it once, not urllib3 per request
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.pacer = Pacer(settings.rate_limit)
        self.deadline: Callable[[], float] | None = None  # no wait for a refusal may end after it (monotonic)
        self._adapter = _BoundedAdapter(self)
        self._sent = 0
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        """A session for any caller (probes, schemathesis): configured by the adapter, not by itself."""
        session = _NoRedirectsSession()
        session.trust_env = False  # the adapter reads the environment, and never ~/.netrc
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # every request stands alone
        session.hooks["response"].append(_attempt_elapsed)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        return session

    @property
    def stopped(self) -> bool:
        """The server asked for a wait the budget cannot hold: nothing more is worth sending."""
        return self.pacer.beyond_budget is not None

    @property
    def sent(self) -> int:
        """Requests that went out on the wire, retries included."""
        return self._sent

    def rate_limits(self) -> RateLimitReport:
        return self.pacer.report()

    def close(self) -> None:
        self._adapter.close()

    def _count(self) -> None:
        with self._lock:
            self._sent += 1


class _NoRedirectsSession(requests.Session):
    """Redirects are judged, never followed: a redirect to another host must not take the token there
    (schemathesis's capability probes, for one, would follow them)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


class _BoundedAdapter(HTTPAdapter):
    """Every request: the transport's TLS, proxy, headers and timeout; the body read, capped;
    refusals waited out and asked again."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(pool_connections=4, pool_maxsize=16, max_retries=0)
        self._transport = transport
        settings = transport.settings
        self._verify = settings.verify()
        self._cert = settings.client_cert()
        self._proxy_cache: dict[str, dict[str, str]] = {}

    def _proxies(self, url: str) -> dict[str, str]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        cached = self._proxy_cache.get(key)
        if cached is None:
            cached = self._proxy_cache[key] = self._transport.settings.proxies_for(url)
        return cached

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        transport = self._transport
        settings = transport.settings
        for name, value in settings.headers:
            if name not in request.headers:
                request.headers[name] = value
        proxies = self._proxies(request.url or "")
        attempt = 0
        while True:
            wait = transport.pacer.reserve()
            if wait > 0:
                time.sleep(wait)
            transport._count()
            started = time.monotonic()
            response = super().send(request, stream=True, timeout=settings.timeout, verify=self._verify,
                                    cert=self._cert, proxies=proxies)
            read_capped(response, settings.max_body_bytes, settings.timeout)
            setattr(response, _ELAPSED, time.monotonic() - started)
            retry_after = response.headers.get("Retry-After")
            if not is_refusal(response.status_code, retry_after):
                transport.pacer.answered()
                return response
            asked = parse_retry_after(retry_after)
            delay = min(asked if asked is not None else FIRST_BACKOFF_S * 2 ** attempt, MAX_WAIT_S)
            deadline = transport.deadline
            if deadline is not None and time.monotonic() + delay > deadline():
                transport.pacer.refused(0.0)
                transport.pacer.gave_up(beyond_budget=asked if asked is not None else delay)
                return response
            transport.pacer.refused(delay)
            if attempt >= MAX_RETRIES:
                transport.pacer.gave_up()
                return response
            transport.pacer.record_wait(delay, retried=True)
            attempt += 1


def _attempt_elapsed(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """``elapsed`` as the answering attempt took, body included: requests would count the pace,
    the refusals waited out and the retries, and STATUS-008 would blame the server for our waiting."""
    seconds = getattr(response, _ELAPSED, None)
    if seconds is not None:
        response.elapsed = timedelta(seconds=seconds)
    return response

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
"""

from __future__ import annotations

import os
import shlex
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from conformance.pacing import (
    FIRST_BACKOFF_S,
    MAX_RETRIES,
    MAX_WAIT_S,
    Pacer,
    RateLimitReport,
    is_refusal,
    parse_retry_after,
)

DEFAULT_MAX_BODY_BYTES = 256 * 1024  # a usage body is a few hundred bytes
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")  # requests' order, then OpenSSL's
_CAPPED = "_crosmos_body_capped"
_ELAPSED = "_crosmos_attempt_elapsed"
UNDECODABLE = "_crosmos_undecodable"  # set on a response whose body could not be decoded: why


class ConnectionProblem(Exception):
    """The server cannot be reached at all: a usage error (exit 2), not a conformance finding."""


class TokenRejected(ConnectionProblem):
    """The server refused the token it was given: a wrong or expired secret, not a finding about it."""


class WrongTarget(ConnectionProblem):
    """The usage path answered 404: the base URL points elsewhere, nothing could be certified."""


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, or ValueError saying in one line what is wrong with it."""
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
    if parts.username or parts.password:
        raise ValueError("give credentials with --token or --header, not inside the base URL")
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class TransportSettings:
    """How to reach the server; every field applies to every request."""

    timeout: float = 10.0  # per request, seconds
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cacert: Path | None = None  # trust this CA bundle (curl's --cacert)
    insecure: bool = False  # no certificate verification (curl's --insecure)
    cert: Path | None = None  # client certificate (PEM; may hold the key too)
    key: Path | None = None
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request; the values are secrets
    proxy: str | None = None  # every request through this proxy; None: HTTP(S)_PROXY / NO_PROXY
    rate_limit: float | None = None  # requests per second; None: learn the pace from 429s

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never be printed: the extra headers', a proxy's password."""
        values = [value for _, value in self.headers if value]
        for proxy in (self.proxy, *self._env_proxies().values()):
            password = urlsplit(proxy).password if proxy else None
            if password:
                values.append(password)
        return tuple(values)

    def curl_flags(self) -> str:
        """What a reproducer needs to reach the server as the suite did (never a secret)."""
        flags = []
        if self.insecure:
            flags.append("-k")
        elif self.cacert is not None:
            flags.append(f"--cacert {shlex.quote(str(self.cacert))}")
        if self.cert is not None:
            flags.append(f"--cert {shlex.quote(str(self.cert))}")
        if self.key is not None:
            flags.append(f"--key {shlex.quote(str(self.key))}")
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            shown = self.proxy.replace(f":{parts.password}@", ":[REDACTED]@") if parts.password else self.proxy
            flags.append(f"-x {shlex.quote(shown)}")
        return " ".join(flags)

    def verify(self) -> bool | str:
        """What requests' ``verify`` gets: False, a CA bundle path, or True (certifi's bundle)."""
        if self.insecure:
            return False
        if self.cacert is not None:
            return str(self.cacert)
        from_env = _env_ca_bundle()
        return True if from_env is None else from_env[1]

    def client_cert(self) -> str | tuple[str, str] | None:
        if self.cert is None:
            return None
        return str(self.cert) if self.key is None else (str(self.cert), str(self.key))

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxy for ``url``: --proxy for every request, else the environment's, as requests reads it."""
        if self.proxy is not None:
            return {"http": self.proxy, "https": self.proxy}
        if not self._env_proxies():
            return {}
        return dict(requests.utils.get_environ_proxies(url))

    @staticmethod
    def _env_proxies() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "all_proxy") and v}

    def validate(self) -> None:
        """Refuse, in one line each, what would fail every request later: missing files, a bad
        proxy URL, a key without a certificate, a CA bundle the environment names but that is not there."""
        for flag, path in (("--cacert", self.cacert), ("--cert", self.cert), ("--key", self.key)):
            if path is not None and not path.is_file():
                raise ValueError(f"{flag} {path}: no such file")
        if self.key is not None and self.cert is None:
            raise ValueError("--key needs --cert")
        if self.cacert is not None and self.insecure:
            raise ValueError("--cacert and --insecure contradict each other: give one")
        if self.cacert is not None:
            try:
                ssl.create_default_context(cafile=str(self.cacert))
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"--cacert {self.cacert}: not a PEM CA bundle ({exc})") from None
        if self.cert is not None:
            try:
                key = None if self.key is None else str(self.key)
                ssl.create_default_context().load_cert_chain(str(self.cert), key)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"--cert {self.cert}: cannot be used as a client certificate with "
                                 f"{'--key ' + str(self.key) if self.key else 'its key'} ({exc}); give the key "
                                 "with --key FILE if it is in another file") from None
        from_env = _env_ca_bundle() if not self.insecure and self.cacert is None else None
        if from_env is not None and not Path(from_env[1]).exists():
            raise ValueError(f"${from_env[0]} names {from_env[1]}, which does not exist")
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
                raise ValueError("--proxy: give a URL such as http://proxy.example:3128")
        for where, proxy in (("--proxy", self.proxy), *((f"${k}", v) for k, v in self._env_proxies().items())):
            if proxy and proxy.lower().startswith("socks"):
                import importlib.util

                if importlib.util.find_spec("socks") is None:
                    raise ValueError(f"{where}: a SOCKS proxy needs PySocks (pip install 'requests[socks]')")


def _env_ca_bundle() -> tuple[str, str] | None:
    """(variable, path) of the CA bundle the environment names, read in requests' order, or None."""
    return next(((name, os.environ[name]) for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), None)


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


def read_capped(response: requests.Response, limit: int, seconds: float) -> None:
    """Read at most ``limit`` + 1 bytes of the body, for at most ``seconds``, into the response.

    requests reads a streamed body lazily; reading it here, bounded, means whoever reads it later
    (schemathesis included) sees the capped bytes. One byte over the limit marks truncation. The
    socket timeout bounds each read, not the body: a server dripping a byte a second would pass
    it forever, so the whole body gets a deadline too (a ReadTimeout, as for a silent server).
    A body read to its end hands the connection back for the next request (keep-alive: a TLS
    handshake 150 ms away costs more than the request); a cut one closes it.
    """
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + seconds
    complete = False
    try:
        # read1 returns whatever has arrived, so the deadline is checked after every trickle.
        while True:
            try:
                chunk = _read_some(response, 64 * 1024)
            except requests.exceptions.ContentDecodingError:
                # A body the client cannot decode (its Content-Encoding claims what the bytes are
                # not) is the server's fault, judged under the rule it breaks, not a usage error.
                encoding = response.headers.get("Content-Encoding", "")
                setattr(response, UNDECODABLE, f"a body that cannot be decoded as its Content-Encoding "
                                               f"({encoding or 'none'}) says")
                chunks = []
                break
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(f"the body was not complete within {seconds:g} s",
                                                      response=response)
    finally:
        if complete:
            response.raw.release_conn()
        else:
            response.close()
    response._content = b"".join(chunks)[: limit + 1]
    setattr(response, "_content_consumed", True)  # noqa: B010 (private to requests)
    setattr(response, _CAPPED, size > limit)


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


def undecodable(response: requests.Response) -> str | None:
    """Why the body could not be decoded, or None."""
    return getattr(response, UNDECODABLE, None)


def was_truncated(response: requests.Response, limit: int) -> bool:
    return bool(getattr(response, _CAPPED, False)) or len(response.content or b"") > limit


def failure_reason(exc: BaseException, settings: TransportSettings | None = None) -> str:
    """What went wrong, in the user's terms, with the option that fixes it where there is one."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, requests.exceptions.SSLError):
        if "certificate_verify_failed" in lowered:
            detail = _after(text, "certificate verify failed:")
            if "hostname mismatch" in lowered or "ip address mismatch" in lowered:
                return f"the server's TLS certificate is not valid for this host ({detail})"
            if settings is not None and settings.cacert is not None:
                return (f"the server's TLS certificate is not trusted by the CA bundle given with --cacert "
                        f"({detail or 'CERTIFICATE_VERIFY_FAILED'}): give the CA that signed it (not the server's "
                        "own certificate), or skip verification with --insecure")
            return (f"the server's TLS certificate is not trusted ({detail or 'CERTIFICATE_VERIFY_FAILED'}): "
                    "give its CA with --cacert FILE (or $REQUESTS_CA_BUNDLE), or skip verification with --insecure")
        if "certificate required" in lowered or "handshake failure" in lowered:
            hint = "" if settings is None or settings.cert is None else " (the one given was not accepted)"
            return f"the server requires a client certificate{hint}: give --cert FILE [--key FILE]"
        if "bad certificate" in lowered or "unknown ca" in lowered or "certificate unknown" in lowered:
            return "the server refused the client certificate given with --cert"
        if "wrong version number" in lowered or "record layer failure" in lowered:
            return "TLS failed: the server does not speak TLS on this port (try http://)"
        return f"TLS failed ({_after(text, 'SSLError(') or type(exc).__name__})"
    if isinstance(exc, requests.exceptions.ProxyError):
        where = _proxy_named(exc, settings)
        if "tunnel connection failed" in lowered:
            return f"the proxy{where} refused the connection ({_after(text, 'Tunnel connection failed:')})"
        if "refused" in lowered:
            return f"the proxy{where} cannot be reached (connection refused)"
        return f"the proxy{where} failed (check --proxy or $HTTP(S)_PROXY)"
    if isinstance(exc, requests.Timeout):
        return "no complete reply before the timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text:
        return "the connection broke in the middle of the body"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the body could not be decoded (its Content-Encoding)"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, requests.ConnectionError):
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in lowered \
                or "nodename nor servname" in text:
            return "the host name does not resolve (DNS)"
        if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in lowered:
            reason = "the server closed the connection without a complete response"
            request = getattr(exc, "request", None)
            https = bool(request is not None and str(request.url or "").startswith("https://"))
            if request is not None and str(request.url or "").startswith("http://"):
                reason += "; if the server speaks HTTPS on this port, use an https:// base URL"
            if https and (settings is None or settings.cert is None):
                # Under TLS 1.3 a server that requires a client certificate checks it after the
                # handshake and just closes the connection: the alert seldom reaches the client.
                reason += ("; over TLS this is how a server that requires a client certificate refuses: "
                           "if it does, give --cert FILE [--key FILE]")
            return reason
        if "Network is unreachable" in text or "No route to host" in text:
            return "the network is unreachable"
        return "connection failed"
    return type(exc).__name__


def _proxy_named(exc: BaseException, settings: TransportSettings | None) -> str:
    """``http://proxy:3128 (from $HTTPS_PROXY)``: which proxy, and where it came from."""
    request = getattr(exc, "request", None)
    url = str(getattr(request, "url", "") or "")
    if settings is None or not url:
        return ""
    proxies = settings.proxies_for(url)
    proxy = proxies.get(urlsplit(url).scheme)
    if not proxy:
        return ""
    parts = urlsplit(proxy)
    shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if settings.proxy is not None:
        return f" {shown} (--proxy)"
    source = next((f"${k}" for k, v in os.environ.items() if v == proxy and k.lower().endswith("_proxy")),
                  "the environment")
    return f" {shown} (from {source})"


def _after(text: str, marker: str) -> str:
    """The words after ``marker`` in an exception's text, up to the next parenthesis or quote."""
    index = text.lower().find(marker.lower())
    if index < 0:
        return ""
    rest = text[index + len(marker):].strip()
    for stop in ("(_ssl", "'))", "')", '")', "\n"):
        rest = rest.split(stop, 1)[0]
    return rest.strip(" ,'\"()")[:200]

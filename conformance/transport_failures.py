"""When the server cannot be reached: the errors that end a run, and a failed request in the user's terms.

A connection problem is a usage error (exit 2), not a conformance finding, so it has its own
exceptions; :func:`failure_reason` turns requests' errors into one line naming the cause and,
where there is one, the option that fixes it (``--cacert``, ``--cert``, ``--proxy``).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import requests

from conformance.transport_settings import TransportSettings


class ConnectionProblem(Exception):
    """The server cannot be reached at all: a usage error (exit 2), not a conformance finding."""


class TokenRejected(ConnectionProblem):
    """The server refused the token it was given: a wrong or expired secret, not a finding about it."""


class WrongTarget(ConnectionProblem):
    """The usage path answered 404: the base URL points elsewhere, nothing could be certified."""


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

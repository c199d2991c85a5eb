"""How to reach the server: the base URL and the transport's settings, checked before any request.

Every field of :class:`TransportSettings` applies to every request (the adapter in
:mod:`conformance.transport` reads them), and :meth:`TransportSettings.validate` refuses in one
line what would otherwise fail each request later. The environment is read as curl and requests
read it, for proxies and CA bundles only.
"""

from __future__ import annotations

import os
import shlex
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

DEFAULT_MAX_BODY_BYTES = 256 * 1024  # a usage body is a few hundred bytes
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")  # requests' order, then OpenSSL's


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

"""One request and its response, as the checks see them, however it was sent.

Probes send with our own HTTP client and generated cases go through schemathesis; both become an
:class:`Exchange`, so every rule judges the bytes that actually crossed the wire (the query the
server parsed, not the values a generator meant to send).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REDACTED = "[REDACTED]"
# Headers a client library adds on its own; a reproducer without them is shorter and identical.
_NOISE_HEADERS = frozenset({
    "user-agent", "accept-encoding", "connection", "content-length", "x-schemathesis-testcaseid",
})
NOT_JSON: Any = object()



def find_header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), as HTTP header names are."""
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)

@dataclass(frozen=True)
class SentRequest:
    """The request as sent. ``headers`` may hold the token: render it only through :meth:`curl`."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    # Read once when the request is made: the judge reads both of every request it judges.
    query_pairs: list[tuple[str, str]] = field(init=False, repr=False, compare=False)
    authorization: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "query_pairs", parse_qsl(urlsplit(self.url).query, keep_blank_values=True))
        object.__setattr__(self, "authorization", find_header(self.headers, "Authorization"))

    @property
    def path_and_query(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def header(self, name: str) -> str | None:
        return find_header(self.headers, name)

    def curl(self, secret: str | None = None) -> str:
        """A one-paste reproducer; the user's credential is replaced by [REDACTED].

        Credentials a probe made up (a garbage token, an unsigned JWT) are shown: they are no
        secret, and the reproducer needs them. With ``secret`` unknown, every credential is hidden.
        """
        parts = ["curl", "-sS", "-i"]
        if self.method.upper() != "GET":
            parts += ["-X", self.method.upper()]
        parts.append(self.url)
        for key, value in self.headers:
            if key.lower() in _NOISE_HEADERS or (key.lower() == "accept" and value == "*/*"):
                continue
            parts += ["-H", f"{key}: {redact_authorization(key, value, secret)}"]
        return " ".join(shlex.quote(part) for part in parts)

    def describe(self, secret: str | None = None) -> str:
        """``GET /api/v1/usage?… (Authorization: Bearer [REDACTED])`` for one-line messages."""
        auth = self.header("Authorization")
        shown = ("no Authorization" if auth is None
                 else f"Authorization: {redact_authorization('Authorization', auth, secret)}")
        return f"{self.method.upper()} {self.path_and_query} ({shown})"


def redact_authorization(name: str, value: str, secret: str | None = None) -> str:
    """Keep the scheme (it is part of what a probe tests) and hide the user's credential, and
    every credential the probes derived from it (a character changed, its case flipped, inside
    Basic): each of those would give most of the secret away."""
    if name.lower() != "authorization":
        return redact(value, secret)
    if secret is not None and not derived_from(value, secret):
        return value
    scheme, _, credential = value.partition(" ")
    if not credential.strip():
        return value if value.strip().lower() in {"bearer", "basic", ""} else REDACTED
    return f"{scheme} {REDACTED}"


def derived_from(value: str, secret: str) -> bool:
    """Whether ``value`` (an Authorization header) carries ``secret`` or something close to it, or a
    segment of it (a JWT's header, claims or signature reused in a tampered token)."""
    if any(len(part) >= 16 and part in value for part in secret.split(".")[1:] if "." in secret):
        return True
    for word in {value, *value.split()}:
        candidates = [word]
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            candidates.append(base64.b64decode(word + "=" * (-len(word) % 4), validate=True).decode())
        for text in candidates:
            if secret in text or secret.lower() in text.lower():
                return True
            if len(secret) >= 8 and abs(len(text) - len(secret)) <= 2 and _close(text, secret):
                return True
    return False


def _close(text: str, secret: str) -> bool:
    """At most two characters apart (changed, added or removed), ignoring case."""
    a, b = text.lower(), secret.lower()
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    a, b = a[prefix:], b[prefix:]
    suffix = 0
    while suffix < min(len(a), len(b)) and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    return max(len(a), len(b)) - suffix <= 2


def printable(text: str) -> str:
    """Control characters shown as escapes: a server's bytes must not drive the reader's terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def redact(text: str, secret: str | None) -> str:
    """The last line of defence: the user's token never reaches a report, whatever echoed it."""
    if not secret:
        return text
    return text.replace(secret, REDACTED)


@dataclass(frozen=True)
class ReceivedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed: float  # seconds from sending to the full (capped) body
    truncated: bool = False  # the body was longer than the size cap and was cut
    undecodable: str | None = None  # why the body could not be decoded (its Content-Encoding lied), if so

    def header(self, name: str) -> str | None:
        return find_header(self.headers, name)

    def json(self) -> Any:
        """The parsed body, or :data:`NOT_JSON` (a body that is not JSON is a schema finding, not a crash).

        Parsed once: a judgement reads it several times. Callers only read what it returns."""
        return self.parsed

    @functools.cached_property
    def parsed(self) -> Any:
        """:meth:`json`'s value, as an attribute once read (the schema check reads the judge's)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return NOT_JSON

    def excerpt(self, limit: int = 300) -> str:
        text = self.body.decode("utf-8", errors="replace")
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Exchange:
    """A request, and what came back: a response, or the transport error that stood in for one."""

    request: SentRequest
    response: ReceivedResponse | None
    sent_at: datetime  # our clock, UTC
    received_at: datetime
    origin: str  # "probe:<name>" or "generated:<phase>"
    error: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int | None:
        return self.response.status if self.response is not None else None


def headers_from(items: Iterable[tuple[str, str]] | Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Flatten a header mapping (values may be lists, as schemathesis keeps them) into pairs."""
    pairs = items.items() if isinstance(items, Mapping) else items
    flat: list[tuple[str, str]] = []
    for key, value in pairs:
        if isinstance(value, list | tuple):
            flat.extend((str(key), str(item)) for item in value)
        else:
            flat.append((str(key), str(value)))
    return tuple(flat)


def utc_now() -> datetime:
    return datetime.now(UTC)


def backdate(moment: datetime, seconds: float) -> datetime:
    return moment - timedelta(seconds=seconds)

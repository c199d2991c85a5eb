"""Credentials as users pass them, checked before any library can quote them.

A CI secret often ends in a newline; requests would refuse it with an ``InvalidHeader`` whose
message holds the whole value, and the traceback would print it. So every credential the CLI
or the plugin takes (the token, each ``--header`` value) is checked here first: surrounding
whitespace is stripped (with one note), a control character inside is a usage error, and no
message here ever contains the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from crosmos_contract.exchange import REDACTED

# RFC 9110 §5.1: a field name is a token.
_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the suite itself decides: a user's value would silently undo a probe or break framing.
_RESERVED = {"authorization": "give the token with --token", "host": "the base URL decides it",
             "content-length": "the request decides it", "transfer-encoding": "the request decides it",
             "connection": "the transport decides it"}
SHORTEST_SECRET = 4  # shorter values are not searched for in free text: they would blank out ordinary words


class CredentialError(ValueError):
    """A credential that cannot be sent as given; the message never holds its value."""


def clean_token(value: str, source: str = "--token") -> tuple[str, str | None]:
    """The token to send and a note when whitespace around it was stripped."""
    token = value.strip()
    if not token:
        raise CredentialError(f"{source} is empty")
    _refuse_control_characters(token, source)
    if any(ch.isspace() for ch in token):
        raise CredentialError(f"{source} contains a space; a bearer token is one word (give the token alone, "
                              "without 'Bearer ')")
    note = None
    if token != value:
        note = f"{source}: whitespace around the token was removed (a secret saved with its newline?)"
    return token, note


def parse_headers(texts: Iterable[str]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """``Name: value`` strings as header pairs, and notes; CredentialError for one that cannot be sent."""
    headers: list[tuple[str, str]] = []
    notes: list[str] = []
    for number, text in enumerate(texts, start=1):
        label = f"--header #{number}"
        name, colon, raw_value = text.partition(":")
        name = name.strip()
        if not colon or not name:
            raise CredentialError(f"{label} is not 'Name: value'")
        if not _FIELD_NAME.match(name):
            raise CredentialError(f"{label}: the header name is not a valid HTTP field name")
        reason = _RESERVED.get(name.lower())
        if reason is not None:
            raise CredentialError(f"{label}: {name} cannot be set with --header ({reason})")
        value = raw_value.strip()
        _refuse_control_characters(value, f"{label} ({name})")
        if raw_value != raw_value.rstrip() or raw_value.lstrip(" \t") != raw_value.lstrip():
            notes.append(f"{label} ({name}): whitespace around the value was removed")
        headers.append((name, value))
    return tuple(headers), notes


def _refuse_control_characters(value: str, label: str) -> None:
    for ch in value:
        if ch in "\r\n":
            raise CredentialError(f"{label} contains a line break (CR/LF): a header value cannot carry one; "
                                  "check how the secret was stored")
        if not ch.isprintable() and ch != "\t":
            raise CredentialError(f"{label} contains a control character (U+{ord(ch):04X}); it cannot be sent")


def redact_all(text: str, secrets: Sequence[str]) -> str:
    """Every secret value replaced by [REDACTED], longest first (one may contain another)."""
    for secret in sorted({s for s in secrets if len(s) >= SHORTEST_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text

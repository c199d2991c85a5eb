"""Credential probes: every ``Authorization`` a server must refuse, and the real token it must accept.

Invented credentials (no header, other schemes, garbage, JWTs no server signed, malformed ones) and
the user's own token misused (in the wrong place, a character off, its JWT claims altered) must be
refused (AUTH-001..004); the real token under ``bearer``/``BEARER`` must be accepted. Variants built
from the user's token carry parts of it, so reports hide them as they hide the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from conformance.probes.protocol import ProbeSession


def _jwt(header: Mapping[str, str], signature: str = "") -> str:
    def part(data: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part({'sub': 'crosmos-conformance-probe', 'org': 'probe'})}.{signature}"


CREDENTIAL_PROBES: tuple[tuple[str, str | None], ...] = (
    ("auth:none", None),
    ("auth:basic-scheme", "Basic " + base64.b64encode(b"crosmos:probe").decode()),
    ("auth:bearer-without-token", "Bearer"),
    ("auth:garbage-token", "Bearer this-is-not-a-token"),
    ("auth:jwt-alg-none", "Bearer " + _jwt({"alg": "none", "typ": "JWT"})),
    ("auth:jwt-empty-signature", "Bearer " + _jwt({"alg": "HS256", "typ": "JWT"})),
)


def real_token_variants(token: str) -> tuple[tuple[str, str], ...]:
    """The user's own token, in the wrong place or nearly right: a server that takes the last word
    of any header, matches keys on a prefix or case-folds them passes every invented credential.
    ``bearer``/``BEARER`` are valid (RFC 9110 §11.1: the scheme is case-insensitive) and must get 200."""
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    variants = [
        ("auth:real-token-basic-scheme", f"Basic {token}"),
        ("auth:real-token-token-scheme", f"Token {token}"),
        ("auth:real-token-without-scheme", token),
        ("auth:real-token-in-basic-user", "Basic " + base64.b64encode(f"{token}:".encode()).decode()),
        ("auth:real-token-last-character-changed", f"Bearer {changed}"),
        ("auth:real-token-character-appended", f"Bearer {token}0"),
        ("auth:real-token-last-character-removed", f"Bearer {token[:-1]}"),
        ("auth:real-token-lower-case-scheme", f"bearer {token}"),
        ("auth:real-token-upper-case-scheme", f"BEARER {token}"),
    ]
    if token.swapcase() != token:
        variants.append(("auth:real-token-case-flipped", f"Bearer {token.swapcase()}"))
    return tuple(variants)


def credentials(session: ProbeSession) -> None:
    for name, authorization in (*CREDENTIAL_PROBES, *real_token_variants(session.token)):
        session.get(name, authorization=authorization)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(data: Mapping[str, Any]) -> str:
    return _b64(json.dumps(data, separators=(",", ":")).encode())


def _hs256(header: Mapping[str, Any], claims: Mapping[str, Any], key: bytes) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(header, claims, signature) when ``token`` is a JWT, else None: how the suite tells a server
    that issues JWTs (the user's token is one) from one that issues only API keys."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                          for part in parts[:2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or "alg" not in header:
        return None
    return header, claims, parts[2]


NOT_YOUR_KEY = b"crosmos-conformance: a key no server was given"
PROBE_CLAIMS = {"sub": "crosmos-conformance-probe", "org": "probe", "iat": 1_767_225_600, "exp": 4_102_444_800}


def jwt_variants(token: str) -> tuple[tuple[str, str], ...]:
    """JWTs the server never issued, as ``Authorization`` values: any of them accepted is AUTH-003.

    Always: signed with a key the server cannot have (HS256), an RS256 header over garbage, ``alg``
    spelled ``None``/``NONE``, and malformed ones (two segments, four, a header that is not JSON,
    bytes that are not base64url). When the user's token is itself a JWT, also its own claims
    altered under its kept signature, its claims with ``alg: none`` and no signature, its
    signature stripped, and its claims re-signed with another key. Those carry parts of the
    user's token, so reports hide them as they hide the token.
    """
    variants = [
        ("auth:jwt-signed-with-another-key", _hs256({"alg": "HS256", "typ": "JWT"}, PROBE_CLAIMS, NOT_YOUR_KEY)),
        ("auth:jwt-rs256-garbage-signature",
         f"{_segment({'alg': 'RS256', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}.{_b64(b'x' * 256)}"),
        ("auth:jwt-alg-None-capitalised", f"{_segment({'alg': 'None', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}."),
        ("auth:jwt-alg-NONE", f"{_segment({'alg': 'NONE', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}."),
        ("auth:jwt-two-segments", f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(PROBE_CLAIMS)}"),
        ("auth:jwt-four-segments", _hs256({"alg": "HS256"}, PROBE_CLAIMS, NOT_YOUR_KEY) + ".e30"),
        ("auth:jwt-header-not-json", f"{_b64(b'{alg:HS256')}.{_segment(PROBE_CLAIMS)}.{_b64(b'sig')}"),
        ("auth:jwt-not-base64url", "eyJ%%%.eyJ!!!.c2ln"),
    ]
    decoded = decode_jwt(token)
    if decoded is not None:
        header, claims, signature = decoded
        altered = {**claims, "sub": f"{claims.get('sub', '')}-other", "org": f"{claims.get('org', '')}-other",
                   "exp": 4_102_444_800}
        signing = token.rsplit(".", 1)[0]
        variants += [
            ("auth:real-jwt-claims-altered-signature-kept", f"{_segment(header)}.{_segment(altered)}.{signature}"),
            ("auth:real-jwt-alg-none", f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}."),
            ("auth:real-jwt-signature-stripped", f"{signing}."),
            ("auth:real-jwt-resigned-with-another-key", _hs256({**header, "alg": "HS256"}, claims, NOT_YOUR_KEY)),
        ]
    return tuple((name, f"Bearer {value}") for name, value in variants)


def unissued_jwts(session: ProbeSession) -> None:
    for name, authorization in jwt_variants(session.token):
        session.get(name, authorization=authorization)

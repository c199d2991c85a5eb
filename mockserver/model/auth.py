"""Bearer authentication as the reference does it, and the org a token belongs to.

The mock has no user database: any well-formed credential is accepted, so frontend teams can
use whatever token their app holds (``csk_test`` and ``csk_demo`` included). Well-formed means
an API key ``csk_`` + at least one of ``[A-Za-z0-9_-]`` (the contract says only "API key
(csk_…)"), or a JWT with three base64url segments, a JSON header naming a real ``alg`` (never
``none``) and a non-empty signature. Everything else is refused exactly as production refuses
it, and every refusal carries a reason for the access log, journal and dashboard: a reason
never quotes the token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

_API_KEY = re.compile(r"^csk_[A-Za-z0-9_-]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,19}$")  # short enough to be a scheme, not a token
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_ORG_CLAIMS = ("org_id", "org", "organization_id", "sub")


class AuthOutcome(Enum):
    OK = "ok"
    NOT_AUTHENTICATED = "not-authenticated"  # missing, malformed or non-Bearer header
    INVALID_TOKEN = "invalid-token"  # Bearer, but not a credential this API issues


@dataclass(frozen=True)
class Credential:
    outcome: AuthOutcome
    org_key: str = ""  # stable org identity: a JWT's org claim, else a digest of the token
    reason: str = ""  # why a credential was refused, in words that never quote the token

    @property
    def ok(self) -> bool:
        return self.outcome is AuthOutcome.OK


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, as FastAPI's HTTPBearer splits it."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(header: str | None, only: frozenset[str] = frozenset()) -> Credential:
    """The credential ``header`` carries; with ``only``, just those exact tokens are valid."""
    token = bearer_token(header)
    if token is None:
        return Credential(AuthOutcome.NOT_AUTHENTICATED, reason=_header_problem(header))
    if only and token not in only:
        return Credential(AuthOutcome.INVALID_TOKEN, reason="not one of the tokens the mock was started with (--token)")
    if _API_KEY.match(token):
        return Credential(AuthOutcome.OK, _digest(token))
    if token.startswith("csk_"):
        # Worded without the prefix itself: the token "csk_" would be redacted out of its own reason.
        reason = "an API key needs at least one character after its prefix" if token == "csk_" else \
            "an API key has only A-Z, a-z, 0-9, _ and - after its prefix"
        return Credential(AuthOutcome.INVALID_TOKEN, reason=reason)
    claims = _jwt_claims(token)
    if isinstance(claims, str):
        return Credential(AuthOutcome.INVALID_TOKEN, reason=claims)
    org = next((str(claims[c]) for c in _ORG_CLAIMS if isinstance(claims.get(c), (str, int))), None)
    return Credential(AuthOutcome.OK, f"org:{org}" if org else _digest(token))


def _header_problem(header: str | None) -> str:
    """Why an Authorization header carries no Bearer token (HTTPBearer's "Not authenticated")."""
    if header is None:
        return "no Authorization header"
    scheme, space, _ = header.strip().partition(" ")
    if not header.strip():
        return "an empty Authorization header"
    if not space:
        if scheme.lower() == "bearer":
            return "Bearer without a token"
        return "the Authorization header has no scheme: send 'Bearer <token>'"
    if scheme.lower() == "bearer":
        return "Bearer without a token"
    named = f"scheme {scheme!r}" if _SCHEME.match(scheme) else "a scheme"
    return f"{named} is not Bearer: send 'Bearer <token>'"


def _jwt_claims(token: str) -> dict[str, Any] | str:
    """The payload of a JWT-shaped token, or why it is none (the signature is not verified: the
    mock holds no keys)."""
    not_a_credential = "neither a csk_ API key nor a JWT (three base64url segments)"
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL.match(p) for p in parts[:2]):
        return not_a_credential
    if not parts[2] or not _B64URL.match(parts[2]):
        return "a JWT without a signature segment"
    header, payload = _b64json(parts[0]), _b64json(parts[1])
    if header is None or payload is None:
        return "a JWT whose header or payload is not base64url JSON"
    alg = header.get("alg")
    if not isinstance(alg, str):
        return "a JWT header without alg"
    if alg.lower() == "none":
        return "a JWT with alg 'none' (unsigned)"
    return payload


def _b64json(segment: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _digest(token: str) -> str:
    return "key:" + hashlib.blake2b(token.encode(), digest_size=12).hexdigest()


_SECRET_SHAPES = re.compile(
    r"csk_[A-Za-z0-9_-]+"  # API keys
    r"|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"  # JWTs
    r"|(?<=[?&])((?:access_)?token|api_?key|key|secret|password|auth(?:orization)?)=[^&\s]*",
    re.IGNORECASE,
)


def credential_of(header: str | None) -> str:
    """The credential an ``Authorization`` header carries, whatever its scheme (for masking; ``""``
    for none). :func:`bearer_token` is the one authentication reads."""
    return (header or "").partition(" ")[2].strip()


def mask_credentials(text: str, token: str | None = None) -> str:
    """``text`` without ``token`` or anything shaped like a credential, for logs and journals.

    Not :func:`crosmos_contract.exchange.redact`, which hides one known secret: the mock's logs
    also hold credentials nobody named (an API key in a query string, a JWT in a path)."""
    if token:
        text = text.replace(token, "[REDACTED]")
    return _SECRET_SHAPES.sub(_mask, text)


def mask_request(text: str, authorization: str | None) -> str:
    """:func:`mask_credentials` for text about a request (its target, a problem found with it):
    the credential its ``Authorization`` header carries is masked too, whatever its scheme."""
    return mask_credentials(text, credential_of(authorization))


def _mask(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"{name}=[REDACTED]" if name else "[REDACTED]"

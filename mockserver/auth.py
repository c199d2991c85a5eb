"""Bearer authentication as the reference does it, and the org a token belongs to.

The mock has no user database: any well-formed credential is accepted, so frontend teams can
use whatever token their app holds. Well-formed means an API key ``csk_`` + at least 8 of
``[A-Za-z0-9_-]``, or a JWT with three base64url segments, a JSON header naming a real ``alg``
(never ``none``) and a non-empty signature. Everything else is refused exactly as production
refuses it.
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

_API_KEY = re.compile(r"^csk_[A-Za-z0-9_-]{8,}$")
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


def authenticate(header: str | None) -> Credential:
    token = bearer_token(header)
    if token is None:
        return Credential(AuthOutcome.NOT_AUTHENTICATED)
    if _API_KEY.match(token):
        return Credential(AuthOutcome.OK, _digest(token))
    claims = _jwt_claims(token)
    if claims is None:
        return Credential(AuthOutcome.INVALID_TOKEN)
    org = next((str(claims[c]) for c in _ORG_CLAIMS if isinstance(claims.get(c), (str, int))), None)
    return Credential(AuthOutcome.OK, f"org:{org}" if org else _digest(token))


def _jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT-shaped token (signature not verified: the mock holds no keys)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL.match(p) for p in parts[:2]) or not parts[2]:
        return None
    if not _B64URL.match(parts[2]):
        return None
    header, payload = _b64json(parts[0]), _b64json(parts[1])
    if header is None or payload is None:
        return None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        return None
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


def redact(text: str, token: str | None = None) -> str:
    """``text`` without ``token`` or anything shaped like a credential, for logs and journals."""
    if token:
        text = text.replace(token, "[REDACTED]")
    return _SECRET_SHAPES.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"{name}=[REDACTED]" if name else "[REDACTED]"

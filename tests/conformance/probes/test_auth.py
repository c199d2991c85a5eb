"""The credential probes, as data: JWTs never issued, derived from the token's shape."""

from __future__ import annotations

from conformance.probes.auth import decode_jwt, jwt_variants


def test_jwts_never_issued_for_a_key_and_tampered_ones_for_a_jwt() -> None:
    for_key = dict(jwt_variants("csk_live_0123456789"))
    assert len(for_key) == 8 and all(value.startswith("Bearer ") for value in for_key.values())
    token = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwib3JnIjoiYWNtZSJ9."
             "c2lnbmF0dXJlLW9mLXRoZS1yZWFsLXRva2Vu")
    assert decode_jwt(token) is not None and decode_jwt("csk_live_0123456789") is None
    for_jwt = dict(jwt_variants(token))
    assert len(for_jwt) == 12
    altered = for_jwt["auth:real-jwt-claims-altered-signature-kept"].removeprefix("Bearer ")
    assert altered.split(".")[2] == token.split(".")[2] and altered.split(".")[1] != token.split(".")[1]
    assert token not in for_jwt.values()

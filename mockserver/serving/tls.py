"""``--tls-cert``/``--tls-key``: the files checked before any server starts.

granian loads the certificate with Python's ``ssl`` in its constructor (a traceback for a bad
file) and again with rustls in every worker: a key rustls cannot use (DSA, Ed448, RSA-PSS, an
elliptic curve other than P-256 or P-384) makes every worker panic until granian gives up on a
"crash loop", a Rust backtrace and no word about the key. Everything a user can get wrong is
therefore checked here first and named in one line: a missing or unreadable file, one option
without the other, a file that is not PEM, an encrypted key, a key of a kind the server cannot
use, a key that belongs to another certificate.
"""

from __future__ import annotations

import base64
import binascii
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

CERT_OPTION = "--tls-cert"
KEY_OPTION = "--tls-key"

# What rustls (granian's TLS) signs with, by the OIDs of a PKCS#8 or SEC1 key (checked against granian 2.8)
RSA = "1.2.840.113549.1.1.1"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
ED25519 = "1.3.101.112"
USABLE_CURVES = {"1.2.840.10045.3.1.7": "P-256", "1.3.132.0.34": "P-384"}
KEY_KINDS = {
    "1.2.840.10040.4.1": "DSA", "1.2.840.113549.1.1.10": "RSA-PSS", "1.3.101.113": "Ed448",
    "1.3.101.110": "X25519", "1.3.101.111": "X448", "1.3.132.0.35": "ECDSA P-521", "1.3.132.0.10": "ECDSA secp256k1",
}
USABLE = "RSA, ECDSA P-256/P-384 or Ed25519"
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*PRIVATE KEY)-----(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class TlsSettings:
    """A certificate chain and its private key, both PEM, already checked to belong together."""

    cert: Path
    key: Path


class TlsFileError(ValueError):
    """A TLS option the server cannot use; ``option`` is the one to blame (``None``: their combination)."""

    def __init__(self, option: str | None, message: str) -> None:
        super().__init__(message)
        self.option = option


def load_tls_settings(cert: Path | None, key: Path | None) -> TlsSettings | None:
    """``None`` for plain HTTP (neither option); the checked pair, or :class:`TlsFileError`."""
    if cert is None and key is None:
        return None
    if key is None:
        raise TlsFileError(None, f"{CERT_OPTION} needs {KEY_OPTION} (the certificate's private key)")
    if cert is None:
        raise TlsFileError(None, f"{KEY_OPTION} needs {CERT_OPTION} (the certificate the key belongs to)")
    cert_text = _read(cert, CERT_OPTION)
    key_text = _read(key, KEY_OPTION)
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        raise TlsFileError(CERT_OPTION, f"{cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if b"ENCRYPTED" in key_text:
        raise TlsFileError(KEY_OPTION, f"{key} is encrypted; give an unencrypted key "
                                       f"(openssl pkey -in {key} -out key-plain.pem)")
    if b"PRIVATE KEY-----" not in key_text:
        raise TlsFileError(KEY_OPTION, f"{key} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    unusable = unusable_key_kind(key_text)
    if unusable is not None:
        raise TlsFileError(KEY_OPTION, f"{key}: the server's TLS (rustls) cannot use {unusable} keys; "
                                       f"give an {USABLE} key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # the password callback answers instead of a terminal prompt, should a key still be encrypted
        context.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            raise TlsFileError(KEY_OPTION, f"the key in {key} does not belong to the certificate in {cert}") from None
        raise TlsFileError(CERT_OPTION, f"cannot use {cert} with {key}: {reason}") from None
    except OSError as exc:  # a file removed or replaced since it was read
        raise TlsFileError(CERT_OPTION, f"cannot read {cert} or {key}: {exc.strerror or exc}") from None
    return TlsSettings(cert=cert.resolve(), key=key.resolve())


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsFileError(option, f"{path}: no such file") from None
    except IsADirectoryError:
        raise TlsFileError(option, f"{path} is a directory, not a PEM file") from None
    except OSError as exc:
        raise TlsFileError(option, f"cannot read {path}: {exc.strerror or exc}") from None


def unusable_key_kind(pem: bytes) -> str | None:
    """The kind of the PEM key if rustls cannot sign with it (e.g. ``"DSA"``), else ``None``.

    ``None`` too when the key cannot be read here: the stdlib's check that follows names that.
    """
    found = _PEM_KEY.search(pem)
    if found is None:
        return None
    label = found.group(1).decode("ascii")
    if label == "RSA PRIVATE KEY":  # PKCS#1
        return None
    try:
        der = base64.b64decode(b"".join(found.group(2).split()), validate=True)
        if label == "EC PRIVATE KEY":  # SEC1: SEQUENCE {version, key, [0] curve OPTIONAL, ...}
            fields = _children(_children(der)[0][1])
            curve = _oids(fields[2][1]) if len(fields) > 2 and fields[2][0] == 0xA0 else []
            return None if curve and curve[0] in USABLE_CURVES else _curve_name(curve)
        if label == "DSA PRIVATE KEY":
            return "DSA"
        if label != "PRIVATE KEY":  # PKCS#8: SEQUENCE {version, SEQUENCE {algorithm, parameters}, key}
            return None
        algorithm = _oids(_children(_children(der)[0][1])[1][1])
    except (binascii.Error, IndexError, ValueError):
        return None
    if not algorithm:
        return None
    if algorithm[0] in (RSA, ED25519):
        return None
    if algorithm[0] == EC_PUBLIC_KEY:
        return None if algorithm[1:2] and algorithm[1] in USABLE_CURVES else _curve_name(algorithm[1:])
    return KEY_KINDS.get(algorithm[0], f"unsupported ({algorithm[0]})")


def _curve_name(oids: list[str]) -> str:
    if not oids:
        return "ECDSA (curve not named)"
    return KEY_KINDS.get(oids[0], f"ECDSA {oids[0]}")


def _children(der: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) of each DER element in ``der``, one level deep."""
    items = []
    i = 0
    while i < len(der):
        tag, length = der[i], der[i + 1]
        i += 2
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 4:
                raise ValueError("unsupported DER length")
            length = int.from_bytes(der[i:i + size], "big")
            i += size
        if i + length > len(der):
            raise ValueError("truncated DER")
        items.append((tag, der[i:i + length]))
        i += length
    return items


def _oids(der: bytes) -> list[str]:
    """The OBJECT IDENTIFIERs among the elements of ``der``, dotted, in order."""
    oids = []
    for tag, content in _children(der):
        if tag != 0x06 or not content:
            continue
        numbers = []
        value = 0
        for byte in content:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                numbers.append(value)
                value = 0
        if not numbers:
            continue
        head = min(numbers[0] // 40, 2)
        oids.append(".".join(map(str, [head, numbers[0] - 40 * head, *numbers[1:]])))
    return oids

"""The TLS test helpers work: ``make_tls_files`` writes a usable CA, server and client certificate;
``serve_app(..., tls=...)`` serves HTTPS that a client trusting the private CA accepts and any other
client refuses; ``require_client_cert`` demands a client certificate from that CA."""

from __future__ import annotations

import ipaddress
import ssl
import time

import pytest
import requests
from cryptography import x509

from tests.servers.reference import REFERENCE_TOKEN, create_app
from tests.servers.running import serve_app
from tests.servers.tls import TlsFiles

AUTH = {"Authorization": f"Bearer {REFERENCE_TOKEN}"}
USAGE = "/api/v1/usage"


def test_the_files_are_pem_and_each_key_matches_its_certificate(tls_files: TlsFiles) -> None:
    for path in (tls_files.ca, tls_files.server_cert, tls_files.client_cert, tls_files.client_combined):
        assert b"-----BEGIN CERTIFICATE-----" in path.read_bytes()
    for path in (tls_files.server_key, tls_files.client_key, tls_files.client_combined):
        assert b"PRIVATE KEY-----" in path.read_bytes()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files.server_cert, tls_files.server_key)  # raises on a mismatched key
    context.load_cert_chain(tls_files.client_cert, tls_files.client_key)
    context.load_cert_chain(tls_files.client_combined)


def test_the_server_certificate_names_127_0_0_1_and_localhost(tls_files: TlsFiles) -> None:
    leaf = x509.load_pem_x509_certificates(tls_files.server_cert.read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_https_is_trusted_with_the_ca_and_refused_without_it(tls_files: TlsFiles) -> None:
    with serve_app(create_app(), tls=tls_files) as base_url:
        assert base_url.startswith("https://127.0.0.1:")
        reply = requests.get(base_url + USAGE, headers=AUTH, verify=str(tls_files.ca), timeout=5)
        assert reply.status_code == 200
        assert reply.json()["plan"] == "pro"
        by_name = base_url.replace("127.0.0.1", "localhost")
        assert requests.get(by_name + USAGE, headers=AUTH, verify=str(tls_files.ca), timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base_url + USAGE, headers=AUTH, timeout=5)  # the system's CAs do not know ours
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(base_url.replace("https://", "http://") + USAGE, headers=AUTH, timeout=5)


def test_plain_serve_app_still_yields_http() -> None:
    with serve_app(create_app()) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert requests.get(base_url + USAGE, headers=AUTH, timeout=5).status_code == 200


def test_require_client_cert_refuses_a_client_without_one(tls_files: TlsFiles) -> None:
    with serve_app(create_app(), tls=tls_files, require_client_cert=True) as base_url:
        # TLS 1.3 delivers the refusal after the client considers the handshake done, so it may come
        # as an SSLError or as a closed connection: both are ConnectionErrors to requests.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(base_url + USAGE, headers=AUTH, verify=str(tls_files.ca), timeout=5)
        pair = (str(tls_files.client_cert), str(tls_files.client_key))
        assert requests.get(base_url + USAGE, headers=AUTH, verify=str(tls_files.ca), cert=pair,
                            timeout=5).status_code == 200
        assert requests.get(base_url + USAGE, headers=AUTH, verify=str(tls_files.ca),
                            cert=str(tls_files.client_combined), timeout=5).status_code == 200


def test_a_tls_server_stops_promptly_while_a_client_keeps_its_connection(tls_files: TlsFiles) -> None:
    """asyncio's TLS close waits for the client's close_notify; a session kept open must not make
    the server thread outlive the ``with`` block by uvicorn's whole graceful timeout."""
    with requests.Session() as session:
        with serve_app(create_app(), tls=tls_files) as base_url:
            # verify per request: a session's own ``verify`` loses to REQUESTS_CA_BUNDLE when set
            reply = session.get(base_url + USAGE, headers=AUTH, verify=str(tls_files.ca), timeout=5)
            assert reply.status_code == 200
            leaving = time.monotonic()
        assert time.monotonic() - leaving < 2.5


def test_require_client_cert_without_tls_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="needs tls"), serve_app(create_app(), require_client_cert=True):
        pass

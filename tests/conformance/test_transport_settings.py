"""The transport's settings, checked without a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.transport_settings import TransportSettings, check_base_url
from tests.servers.tls import TlsFiles


def test_cacert_wins_over_the_environment_and_the_environment_over_the_default(
        tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets $REQUESTS_CA_BUNDLE override a session's verify; here --cacert decides, as in curl."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert TransportSettings().verify() is True
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/hostname")
    assert TransportSettings().verify() == "/etc/hostname"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.server_cert))
    assert TransportSettings().verify() == str(tls_files.server_cert)
    assert TransportSettings(cacert=tls_files.ca).verify() == str(tls_files.ca)
    assert TransportSettings(insecure=True).verify() is False


def test_settings_that_cannot_work_are_refused_before_any_request(tls_files: TlsFiles, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="contradict"):
        TransportSettings(cacert=tls_files.ca, insecure=True).validate()
    with pytest.raises(ValueError, match="not a PEM CA bundle"):
        (tmp_path / "empty.pem").write_text("nothing here\n")
        TransportSettings(cacert=tmp_path / "empty.pem").validate()
    with pytest.raises(ValueError, match="give the key with --key"):
        TransportSettings(cert=tls_files.client_cert).validate()  # its key is in another file
    TransportSettings(cert=tls_files.client_combined).validate()  # key and chain in one file
    TransportSettings(cert=tls_files.client_cert, key=tls_files.client_key).validate()


def test_a_proxy_with_a_password_keeps_it_secret() -> None:
    settings = TransportSettings(proxy="http://user:pr0xy-pass@127.0.0.1:3128", headers=(("X-Key", "abcdef"),))
    assert set(settings.secrets) == {"pr0xy-pass", "abcdef"}


def test_credentials_in_the_base_url_are_refused() -> None:
    with pytest.raises(ValueError, match="not inside the base URL"):
        check_base_url("https://user:secret@staging.example.com")

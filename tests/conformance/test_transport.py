"""The transport's settings and its account of failures, without a network."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from conformance.transport import TransportSettings, check_base_url, failure_reason
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


def _error(kind: type[requests.RequestException], text: str, url: str = "https://staging.example") -> Exception:
    return kind(text, request=requests.Request("GET", url).prepare())


@pytest.mark.parametrize(("error", "says"), [
    (_error(requests.exceptions.SSLError, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
            "certificate in certificate chain (_ssl.c:1006)"), "not trusted (self-signed certificate in certificate "
                                                               "chain): give its CA with --cacert"),
    (_error(requests.exceptions.SSLError, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname "
            "mismatch, certificate is not valid for 'x'"), "not valid for this host"),
    (_error(requests.exceptions.SSLError, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate "
            "required"), "requires a client certificate: give --cert FILE"),
    (_error(requests.exceptions.SSLError, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "does not speak TLS"),
    (_error(requests.exceptions.ProxyError, "Unable to connect to proxy: Tunnel connection failed: 403 Forbidden"),
     "the proxy refused the connection (403 Forbidden"),
    (_error(requests.exceptions.ProxyError, "Unable to connect to proxy: Connection refused"),
     "the proxy cannot be reached"),
    (_error(requests.ConnectionError, "Failed to resolve 'staging.example' ([Errno -2] Name or service not known)"),
     "does not resolve (DNS)"),
    (_error(requests.ConnectionError, "[Errno 111] Connection refused"), "connection refused"),
    (_error(requests.ConnectionError, "('Connection aborted.', RemoteDisconnected('closed'))"),
     "if it does, give --cert FILE"),
    (_error(requests.ConnectionError, "('Connection aborted.', RemoteDisconnected('closed'))", "http://x"),
     "without a complete response"),
])
def test_failures_name_the_cause_and_the_fix(error: requests.RequestException, says: str) -> None:
    assert says in failure_reason(error)

"""The transport's account of failures, without a network."""

from __future__ import annotations

import pytest
import requests

from conformance.transport_failures import failure_reason


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

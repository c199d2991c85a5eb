"""Certificates for the TLS tests: a private CA, a server certificate for 127.0.0.1 and localhost,
and a client certificate, all written as PEM files (what uvicorn, granian, requests and curl read).

Made with ``trustme`` in memory, in milliseconds: no ``openssl`` binary, no network, nothing
trusted outside the test that asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    """PEM files in one directory, all signed by one private CA."""

    ca: Path  # the CA's certificate: what a client trusts (requests ``verify=``, curl ``--cacert``)
    server_cert: Path  # chain for IP:127.0.0.1 and DNS:localhost (leaf first)
    server_key: Path
    client_cert: Path  # a client certificate signed by the same CA (chain, leaf first)
    client_key: Path
    client_combined: Path  # client key + chain in one file (requests ``cert=path``, curl ``--cert``)


def make_tls_files(directory: Path) -> TlsFiles:
    """Make a fresh CA, a server and a client certificate; write them under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="crosmos-contract-kit tests")
    server = ca.issue_cert("127.0.0.1", "localhost", common_name="localhost")
    client = ca.issue_cert("client@crosmos.test", common_name="crosmos test client")
    files = TlsFiles(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        client_combined=directory / "client-combined.pem",
    )
    ca.cert_pem.write_to_path(str(files.ca))
    _write_chain(server, files.server_cert)
    server.private_key_pem.write_to_path(str(files.server_key))
    _write_chain(client, files.client_cert)
    client.private_key_pem.write_to_path(str(files.client_key))
    client.private_key_and_cert_chain_pem.write_to_path(str(files.client_combined))
    return files


def _write_chain(leaf: trustme.LeafCert, path: Path) -> None:
    path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))

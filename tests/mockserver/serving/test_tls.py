"""``crosmos-mock --tls-cert FILE --tls-key FILE``: the mock over HTTPS, and one clear line for every
way the two files can be wrong (never a traceback, never granian's crash loop of Rust panics)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from crosmos_contract import rules
from mockserver.cli import main
from mockserver.serving.launch import running_mock
from mockserver.serving.server import READY_LINE
from mockserver.serving.tls import TlsFileError, load_tls_settings, unusable_key_kind
from tests.servers.tls import TlsFiles

TOKEN = "csk_test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def tls_args(files: TlsFiles) -> list[str]:
    return ["--tls-cert", str(files.server_cert), "--tls-key", str(files.server_key)]


@pytest.fixture(scope="module")
def https_url(tls_files: TlsFiles) -> Iterator[str]:
    with running_mock(seed=4, extra_args=tls_args(tls_files)) as url:
        yield url


def test_the_mock_announces_and_serves_https(https_url: str, tls_files: TlsFiles) -> None:
    assert https_url.startswith("https://127.0.0.1:")
    reply = requests.get(f"{https_url}/api/v1/usage", headers=AUTH, verify=str(tls_files.ca), timeout=5)
    assert reply.status_code == 200
    server_day = datetime.now(UTC).date()
    assert rules.check_usage_body(reply.json(), today_candidates=[server_day, server_day - timedelta(days=1)],
                                  start_param=None, end_param=None) == []
    dashboard = requests.get(f"{https_url}/__mock/", verify=str(tls_files.ca), timeout=5)
    assert dashboard.status_code == 200


def test_the_certificate_is_checked_by_clients(https_url: str, tls_files: TlsFiles) -> None:
    with pytest.raises(requests.exceptions.SSLError):  # the system's CAs do not know the test CA
        requests.get(f"{https_url}/api/v1/usage", headers=AUTH, timeout=5)
    by_name = https_url.replace("127.0.0.1", "localhost")  # the certificate names localhost too
    assert requests.get(f"{by_name}/api/v1/usage", headers=AUTH, verify=str(tls_files.ca),
                        timeout=5).status_code == 200


def test_plain_http_to_the_https_port_gets_no_reply(https_url: str) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(https_url.replace("https://", "http://") + "/api/v1/usage", headers=AUTH, timeout=5)


def test_tls_1_2_clients_are_served(https_url: str, tls_files: TlsFiles) -> None:
    """granian's own minimum is TLS 1.3; the mock lowers it to 1.2, as browsers, curl and Python accept."""
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    port = int(https_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() == "TLSv1.2"


def test_the_gunicorn_engine_serves_https_too(tls_files: TlsFiles) -> None:
    script = ("import sys; from pathlib import Path; from mockserver.app import create_app; "
              "from mockserver.serving.server import ServerOptions, serve; "
              "from mockserver.serving.tls import load_tls_settings; "
              "serve(create_app(), ServerOptions(port=0, workers=1, threads=2, engine='gunicorn', "
              "tls=load_tls_settings(Path(sys.argv[1]), Path(sys.argv[2]))))")
    process = subprocess.Popen([sys.executable, "-c", script, str(tls_files.server_cert), str(tls_files.server_key)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"{READY_LINE}https://"), line
        url = line.split(READY_LINE, 1)[1].strip()
        reply = requests.get(f"{url}/api/v1/usage", headers=AUTH, verify=str(tls_files.ca), timeout=5)
        assert reply.status_code == 200 and reply.headers["Server"] == "gunicorn"
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


# --- keys of every kind, for the checks ------------------------------------------------------------------

def _self_signed(directory: Path, name: str, key: Any, key_format: serialization.PrivateFormat,
                 encryption: serialization.KeySerializationEncryption | None = None) -> tuple[Path, Path]:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, algorithm))
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, key_format,
                                           encryption or serialization.NoEncryption()))
    return cert_path, key_path


PKCS8 = serialization.PrivateFormat.PKCS8
TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1 for RSA, SEC1 for EC
KEYS: dict[str, tuple[Callable[[], Any], serialization.PrivateFormat, str | None]] = {
    "rsa-pkcs1": (lambda: rsa.generate_private_key(65537, 2048), TRADITIONAL, None),
    "rsa-pkcs8": (lambda: rsa.generate_private_key(65537, 2048), PKCS8, None),
    "p256-sec1": (lambda: ec.generate_private_key(ec.SECP256R1()), TRADITIONAL, None),
    "p384-pkcs8": (lambda: ec.generate_private_key(ec.SECP384R1()), PKCS8, None),
    "ed25519": (ed25519.Ed25519PrivateKey.generate, PKCS8, None),
    "p521-pkcs8": (lambda: ec.generate_private_key(ec.SECP521R1()), PKCS8, "ECDSA P-521"),
    "p521-sec1": (lambda: ec.generate_private_key(ec.SECP521R1()), TRADITIONAL, "ECDSA P-521"),
    "secp256k1": (lambda: ec.generate_private_key(ec.SECP256K1()), PKCS8, "ECDSA secp256k1"),
    "ed448": (ed448.Ed448PrivateKey.generate, PKCS8, "Ed448"),
    "dsa": (lambda: dsa.generate_private_key(2048), PKCS8, "DSA"),
}
# cryptography deprecates DSA; the test makes a DSA key on purpose, to see it refused
ALLOW_DSA = pytest.mark.filterwarnings("ignore:DSA is deprecated")


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=[ALLOW_DSA] if kind == "dsa" else []) for kind in KEYS])
def test_keys_rustls_cannot_use_are_named(kind: str, tmp_path: Path) -> None:
    make, key_format, expected = KEYS[kind]
    _cert, key = _self_signed(tmp_path, kind, make(), key_format)
    assert unusable_key_kind(key.read_bytes()) == expected


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "p384-pkcs8", "ed25519"])
def test_every_key_kind_passed_as_usable_really_serves(kind: str, tmp_path: Path) -> None:
    """The other side of the check above: granian's workers start with these (P-256 SEC1: trustme's)."""
    make, key_format, _ = KEYS[kind]
    cert, key = _self_signed(tmp_path, kind, make(), key_format)
    with running_mock(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]) as url:
        reply = requests.get(f"{url}/api/v1/usage", headers=AUTH, verify=str(cert), timeout=5)
    assert reply.status_code == 200


# --- wrong options: exit 2, one line ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def wrong_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("wrong-tls")
    _ed448_cert, ed448_key = _self_signed(directory, "ed448", ed448.Ed448PrivateKey.generate(), PKCS8)
    _enc_cert, encrypted = _self_signed(directory, "encrypted", ec.generate_private_key(ec.SECP256R1()), PKCS8,
                                        serialization.BestAvailableEncryption(b"secret"))
    (directory / "garbage.pem").write_text("not a certificate\n")
    return {"ed448_key": ed448_key, "encrypted": encrypted, "garbage": directory / "garbage.pem",
            "directory": directory}


def _cases(files: TlsFiles, wrong: dict[str, Path]) -> dict[str, tuple[list[str], str]]:
    cert, key = str(files.server_cert), str(files.server_key)
    return {
        "cert only": (["--tls-cert", cert], "--tls-cert needs --tls-key"),
        "key only": (["--tls-key", key], "--tls-key needs --tls-cert"),
        "missing cert": (["--tls-cert", "/no/such/cert.pem", "--tls-key", key], "/no/such/cert.pem: no such file"),
        "missing key": (["--tls-cert", cert, "--tls-key", "/no/such/key.pem"], "/no/such/key.pem: no such file"),
        "directory": (["--tls-cert", str(wrong["directory"]), "--tls-key", key], "is a directory"),
        "not a certificate": (["--tls-cert", str(wrong["garbage"]), "--tls-key", key], "holds no PEM certificate"),
        "key as cert": (["--tls-cert", key, "--tls-key", key], "holds no PEM certificate"),
        "cert as key": (["--tls-cert", cert, "--tls-key", cert], "holds no PEM private key"),
        "another key": (["--tls-cert", cert, "--tls-key", str(files.client_key)], "does not belong to the certificate"),
        "encrypted key": (["--tls-cert", cert, "--tls-key", str(wrong["encrypted"])], "is encrypted"),
        "unusable key": (["--tls-cert", cert, "--tls-key", str(wrong["ed448_key"])], "cannot use Ed448 keys"),
    }


CASE_NAMES = ["cert only", "key only", "missing cert", "missing key", "directory", "not a certificate",
              "key as cert", "cert as key", "another key", "encrypted key", "unusable key"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_wrong_tls_options_are_one_error_line_and_exit_2(case: str, tls_files: TlsFiles,
                                                        wrong_files: dict[str, Path]) -> None:
    args, message = _cases(tls_files, wrong_files)[case]
    result = CliRunner().invoke(main, ["--port", "0", *args])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", ["missing key", "another key"])
def test_the_installed_command_says_it_in_one_line_too(case: str, tls_files: TlsFiles,
                                                       wrong_files: dict[str, Path]) -> None:
    args, message = _cases(tls_files, wrong_files)[case]
    result = subprocess.run([sys.executable, "-m", "mockserver", "--port", "0", *args], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert READY_LINE not in result.stdout


def test_an_unreadable_file_is_named(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path == tls_files.server_key:
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(TlsFileError, match=f"cannot read {tls_files.server_key}: Permission denied") as caught:
        load_tls_settings(tls_files.server_cert, tls_files.server_key)
    assert caught.value.option == "--tls-key"


def test_neither_option_is_plain_http() -> None:
    assert load_tls_settings(None, None) is None

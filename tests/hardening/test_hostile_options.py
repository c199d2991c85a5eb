"""Hostile option values: every credential the CLI and the plugin take, however it arrives.

A CI secret with its newline, a header with CR/LF, a control character, a file that is not
there: each is exit 2 (pytest's 4) with one line, never a traceback, and never the value.
Whitespace around a token is stripped with one note, and the run goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.serving.launch import running_mock
from tests.servers.reference import REFERENCE_TOKEN
from tests.servers.tls import TlsFiles

CLI = shutil.which("crosmos-conformance", path=str(Path(sys.executable).parent)) or "crosmos-conformance"
SECRET = "csk_hostile_SECRET_0a1b2c3d4e"
HEADER_SECRET = "gwkey_SECRET_9z8y7x"


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CROSMOS_TOKEN"}
    environment.update(env or {})
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, env=environment, check=False)


def assert_refused(done: subprocess.CompletedProcess[str], words: str, code: int = 2) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == code, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert SECRET not in output and HEADER_SECRET not in output, output[-2000:]
    assert words in output, output[-2000:]


# The base URL is never reached: every value is refused before a request is made.
BASE = ("run", "--base-url", "http://127.0.0.1:9", "--profile", "smoke", "--no-progress")


@pytest.mark.parametrize(("args", "env", "words"), [
    ((), {"CROSMOS_TOKEN": f"{SECRET[:8]}\n{SECRET[8:]}"}, "$CROSMOS_TOKEN contains a line break"),
    (("--token", f"{SECRET}\r\nX-Evil: 1"), {}, "--token contains a line break"),
    (("--token", f"{SECRET}\x07"), {}, "control character (U+0007)"),
    (("--token", f"\x1b[2J{SECRET}"), {}, "control character (U+001B)"),
    (("--token", f"Bearer {SECRET}"), {}, "one word"),
    (("--token", "csk_first_key_0000", "--token", f"{SECRET[:6]}\n{SECRET[6:]}"), {},
     "--token #2 contains a line break"),
    (("--token", SECRET, "-H", f"X-Gateway-Key: {HEADER_SECRET}\nX-Evil: 1"), {}, "--header #1 (X-Gateway-Key)"),
    (("--token", SECRET, "-H", f"X-Gateway-Key {HEADER_SECRET}"), {}, "--header #1 is not 'Name: value'"),
    (("--token", SECRET, "-H", "X-Ok: 1", "-H", f"Authorization: Bearer {HEADER_SECRET}"), {},
     "--header #2: Authorization cannot be set"),
    (("--token", SECRET, "--cacert", "/nonexistent/ca.pem"), {}, "--cacert /nonexistent/ca.pem: no such file"),
    (("--token", SECRET, "--key", "/etc/hostname"), {}, "--key needs --cert"),
    (("--token", SECRET, "--proxy", "not a proxy"), {}, "--proxy: give a URL"),
    (("--token", SECRET, "--rate-limit", "fast"), {}, "is not a rate"),
    (("--token", SECRET), {"REQUESTS_CA_BUNDLE": "/nonexistent/bundle.pem"}, "$REQUESTS_CA_BUNDLE names"),
])
def test_hostile_values_are_one_line_exit_2_without_the_secret(args: tuple[str, ...], env: dict[str, str],
                                                               words: str) -> None:
    done = run_cli(*BASE, *args, env=env)
    assert_refused(done, words)
    assert len(done.stderr.strip().splitlines()) <= 2, done.stderr


def test_a_cert_file_that_is_not_a_certificate_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text(f"-----BEGIN CERTIFICATE-----\n{SECRET}\n-----END CERTIFICATE-----\n")
    assert_refused(run_cli(*BASE, "--token", SECRET, "--cert", str(junk)), "cannot be used as a client certificate")


def test_a_ci_secret_with_its_newline_certifies_with_one_note(tmp_path: Path) -> None:
    """What used to print a 41-line traceback with the token, and exit 1."""
    report = tmp_path / "r.json"
    with running_mock(seed=3, extra_args=["--token", REFERENCE_TOKEN]) as url:
        done = run_cli("run", "--base-url", url, "--profile", "smoke", "--no-progress", "--json", str(report),
                       env={"CROSMOS_TOKEN": f"{REFERENCE_TOKEN}\n"})
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert "whitespace around the token was removed" in done.stdout
    data = json.loads(report.read_text())
    assert data["verdict"] == "conformant" and any("whitespace" in note for note in data["notes"])
    assert REFERENCE_TOKEN not in done.stdout + done.stderr + report.read_text()


def test_the_mock_over_https_is_certified_through_the_suites_tls_path(tls_files: TlsFiles, tmp_path: Path) -> None:
    """End to end, no outside server: the mock serves HTTPS, the suite trusts its CA with --cacert."""
    tls = ["--tls-cert", str(tls_files.server_cert), "--tls-key", str(tls_files.server_key)]
    with running_mock(seed=3, extra_args=["--token", REFERENCE_TOKEN, *tls]) as url:
        assert url.startswith("https://")
        untrusted = run_cli("run", "--base-url", url, "--profile", "smoke", "--no-progress",
                            "--junit-xml", str(tmp_path / "untrusted.xml"), env={"CROSMOS_TOKEN": REFERENCE_TOKEN})
        trusted = run_cli("run", "--base-url", url, "--profile", "smoke", "--no-progress", "--cacert",
                          str(tls_files.ca), env={"CROSMOS_TOKEN": REFERENCE_TOKEN})
    assert_refused(untrusted, "certificate is not trusted")
    assert "--cacert" in untrusted.stderr
    junit = (tmp_path / "untrusted.xml").read_text()
    assert 'errors="1"' in junit and "cannot certify" in junit  # no CI reads it as green
    assert trusted.returncode == 0, (trusted.stdout + trusted.stderr)[-2000:]
    assert "CONFORMANT" in trusted.stdout


def test_insecure_says_so_once(tls_files: TlsFiles) -> None:
    tls = ["--tls-cert", str(tls_files.server_cert), "--tls-key", str(tls_files.server_key)]
    with running_mock(seed=3, extra_args=["--token", REFERENCE_TOKEN, *tls]) as url:
        done = run_cli("run", "--base-url", url, "--profile", "smoke", "--no-progress", "--insecure",
                       env={"CROSMOS_TOKEN": REFERENCE_TOKEN})
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert done.stderr.count("not verified") == 1 and "InsecureRequestWarning" not in done.stderr


def run_pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    environment = {k: v for k, v in os.environ.items() if k != "CROSMOS_TOKEN"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir",
                           str(tmp_path), *args], capture_output=True, text=True, timeout=300, env=environment,
                          cwd=tmp_path, check=False)


@pytest.mark.parametrize(("args", "env", "words"), [
    ((), {"CROSMOS_TOKEN": f"{SECRET[:8]}\n{SECRET[8:]}"}, "$CROSMOS_TOKEN contains a line break"),
    (("--crosmos-token", SECRET, "--crosmos-header", f"X-Key: {HEADER_SECRET}\r\nX-Evil: 1"), {},
     "--crosmos-header #1 (X-Key) contains a line break"),
    (("--crosmos-token", SECRET, "--crosmos-cacert", "/nonexistent/ca.pem"), {}, "--crosmos-cacert"),
    (("--crosmos-token", SECRET, "--crosmos-rate-limit", "lots"), {}, "is not a rate"),
])
def test_the_plugin_refuses_hostile_values_the_same_way(tmp_path: Path, args: tuple[str, ...], env: dict[str, str],
                                                        words: str) -> None:
    done = run_pytest(tmp_path, "--crosmos-base-url", "http://127.0.0.1:9", *args, env=env)
    assert_refused(done, words, code=pytest.ExitCode.USAGE_ERROR)


def test_a_usage_error_still_writes_every_report_with_the_reason(tmp_path: Path) -> None:
    done = run_cli(*BASE, "--token", SECRET, "--cacert", "/nonexistent/ca.pem", "--json", str(tmp_path / "r.json"),
                   "--junit-xml", str(tmp_path / "r.xml"))
    assert_refused(done, "no such file")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["verdict"] == "cannot certify" and "--cacert /nonexistent/ca.pem" in data["problem"]
    assert 'errors="1"' in (tmp_path / "r.xml").read_text()
    assert SECRET not in (tmp_path / "r.json").read_text() + (tmp_path / "r.xml").read_text()


def test_without_a_base_url_a_token_in_the_environment_is_set_aside_for_the_mocks_own() -> None:
    """`CROSMOS_TOKEN=… make certify`, as README suggests for real servers, still certifies the mock."""
    done = run_cli("run", "--profile", "smoke", "--no-progress", env={"CROSMOS_TOKEN": SECRET})
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert "its own token; the one given is not used" in done.stderr
    assert SECRET not in done.stdout + done.stderr

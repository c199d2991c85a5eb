"""``crosmos-conformance`` as users run it: a real process, real HTTP, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.engine import kit_version
from crosmos_contract.catalogue import CATALOGUE
from tests.conformance.conftest import serve
from tests.servers.hostile import refused_url
from tests.servers.reference import REFERENCE_TOKEN
from tests.servers.zoo import FAULTY

CLI = shutil.which("crosmos-conformance", path=str(Path(sys.executable).parent)) or "crosmos-conformance"


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CROSMOS_TOKEN"}
    environment.update(env or {})
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, env=environment,
                          check=False)


@pytest.fixture(scope="module")
def faulty_url() -> Iterator[str]:
    with serve(FAULTY["remaining_not_clamped"].create_app()) as url:
        yield url


def test_a_conformant_server_exits_0_and_writes_every_report(reference_url: str, tmp_path: Path) -> None:
    done = run_cli("run", "--base-url", reference_url, "--token", REFERENCE_TOKEN, "--profile", "smoke",
                   "--level", "full", "--seed", "7", "--junit-xml", str(tmp_path / "r.xml"),
                   "--json", str(tmp_path / "reports" / "r.json"), "--html", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CONFORMANT at level full" in done.stdout
    report = json.loads((tmp_path / "reports" / "r.json").read_text())
    assert (report["verdict"], report["seed"], report["profile"]) == ("conformant", 7, "smoke")
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(len(CATALOGUE)) and suite.get("failures") == "0"
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert REFERENCE_TOKEN not in done.stdout + done.stderr


def test_a_defect_exits_1_naming_the_check_with_a_redacted_curl(faulty_url: str) -> None:
    done = run_cli("run", "--base-url", faulty_url, "--profile", "smoke",
                   env={"CROSMOS_TOKEN": REFERENCE_TOKEN})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "METRIC-004 Remaining within limit" in done.stdout
    assert "Received " in done.stdout and "Expected " in done.stdout
    assert "Authorization: Bearer [REDACTED]" in done.stdout
    assert REFERENCE_TOKEN not in done.stdout + done.stderr


@pytest.mark.parametrize(("args", "says"), [
    (("run", "--base-url", "http://127.0.0.1:9"), "--token (or $CROSMOS_TOKEN) is required"),
    (("run", "--profile", "nope"), "'nope' is not one of"),
    (("run", "--base-url", "{refused}", "--token", "t"), "connection refused"),
    (("run", "--base-url", "{refused}", "--token", "t", "--timezone", "Mars/Olympus"),
     "unknown time zone 'Mars/Olympus'"),
    (("run", "--base-url", "{refused}", "--token", "t", "--contract", "/nonexistent/openapi.json"),
     "/nonexistent/openapi.json: no such file"),
    (("run", "--base-url", "not-a-url", "--token", "t"), "'not-a-url' is not an http:// or https:// URL"),
    (("run", "--base-url", "http://[::1", "--token", "t"), "is not a valid URL"),
    (("run", "--base-url", "http://127.0.0.1:99999", "--token", "t"), "Port out of range"),
    (("run", "--base-url", "ftp://127.0.0.1/", "--token", "t"), "'ftp://127.0.0.1/' is not an http://"),
])
def test_usage_and_connection_errors_exit_2(args: tuple[str, ...], says: str) -> None:
    """Each case is refused for its own reason (the option is checked, not just the refused URL)."""
    refused = refused_url()
    done = run_cli(*(arg.replace("{refused}", refused) for arg in args))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 4, done.stderr
    assert says in done.stderr, done.stderr


@pytest.mark.parametrize("suffix", ["/api/v1/usage", "/no/such/prefix"])
def test_a_base_url_where_the_usage_path_is_404_exits_2_not_1(reference_url: str, suffix: str) -> None:
    """The endpoint's own URL given as the base (or any wrong prefix) is a usage error, not a verdict."""
    done = run_cli("run", "--base-url", reference_url + suffix, "--profile", "smoke",
                   env={"CROSMOS_TOKEN": REFERENCE_TOKEN})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "answered 404 to GET /api/v1/usage: check --base-url" in done.stderr
    assert "CONFORMANT" not in done.stdout
    if suffix == "/api/v1/usage":
        assert f"give the server's base URL ({reference_url})" in done.stderr


def test_a_token_the_server_refuses_exits_2_not_1(reference_url: str) -> None:
    """A wrong or expired CI secret must not read as "the vendor's server is not conformant"."""
    done = run_cli("run", "--base-url", reference_url, "--profile", "smoke", env={"CROSMOS_TOKEN": "csk_not_theirs_1"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "answered 401" in done.stderr and "check that it is a valid token" in done.stderr
    assert "csk_not_theirs_1" not in done.stdout + done.stderr


def test_an_unwritable_report_path_exits_2_before_the_run(reference_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_cli("run", "--base-url", reference_url, "--token", REFERENCE_TOKEN, "--profile", "smoke",
                   "--json", str(blocker / "r.json"))
    assert done.returncode == 2
    assert "cannot be written" in done.stderr and "CONFORMANT" not in done.stdout  # refused before any request


@pytest.mark.parametrize("args", [("list-checks",), ("run", "--list-checks")])
def test_the_catalogue_is_listed_one_check_per_line_when_piped(args: tuple[str, ...]) -> None:
    """A CI log is no terminal: no table wrapped at 80 columns, one greppable line per check."""
    done = run_cli(*args, env={"COLUMNS": "80"})
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [spec.id for spec in CATALOGUE]
    for line, spec in zip(lines, CATALOGUE, strict=True):
        assert line == f"{spec.id}\t{spec.level.value}\t{spec.title}: {spec.rule}"


@pytest.mark.parametrize("command", ["crosmos-conformance", "crosmos-mock"])
def test_both_commands_tell_their_version(command: str) -> None:
    found = shutil.which(command, path=str(Path(sys.executable).parent))
    assert found is not None
    done = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"{command}, version {kit_version()}"


def test_without_a_base_url_it_certifies_the_embedded_mock(tmp_path: Path) -> None:
    done = run_cli("run", "--profile", "smoke", "--level", "full", "--json", str(tmp_path / "mock.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "mock.json").read_text())
    assert report["target"] == "embedded mock"
    assert report["verdict"] == "conformant"
    # the embedded mock shows limited, exhausted and unlimited metrics: every METRIC rule had its chance to fail
    metric = {check["id"]: check for check in report["checks"] if check["id"].startswith("METRIC-")}
    assert len(metric) == 8 and all(c["outcome"] == "pass" and c["exercised"] > 0 for c in metric.values()), metric


def test_list_checks_piped_into_head_exits_0() -> None:
    """A CI step with ``set -o pipefail`` must not fail because ``head`` stopped reading."""
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"'{CLI}' list-checks | head -1"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("STATUS-001\tMUST")

"""``pytest --crosmos-base-url URL --crosmos-token TOKEN`` in a CI's own pytest (a real subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crosmos_contract.catalogue import CATALOGUE
from tests.conformance.conftest import serve
from tests.servers.hostile import refused_url
from tests.servers.reference import REFERENCE_TOKEN
from tests.servers.zoo import FAULTY


def run_pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """pytest in an empty project: only the installed entry point can bring the plugin in."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    environment = {k: v for k, v in os.environ.items() if k not in ("CROSMOS_TOKEN", "PYTEST_ADDOPTS")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs", "--durations=2", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=environment, check=False)


def test_one_passing_test_per_check_against_a_conformant_server(reference_url: str, tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--crosmos-base-url", reference_url, "--crosmos-token", REFERENCE_TOKEN,
                      "--crosmos-profile", "smoke", "--crosmos-level", "full", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(CATALOGUE)} passed" in done.stdout
    for spec in CATALOGUE:
        assert f"crosmos::{spec.id} PASSED" in done.stdout


def test_a_defect_fails_exactly_its_check_with_the_reproducer(tmp_path: Path) -> None:
    with serve(FAULTY["no_www_authenticate"].create_app()) as url:
        done = run_pytest(tmp_path, "--crosmos-base-url", url, "--crosmos-profile", "smoke",
                          "--crosmos-level", "full", env={"CROSMOS_TOKEN": REFERENCE_TOKEN})
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.findall(r"FAILED (\S+)", done.stdout) == ["crosmos::AUTH-004"]
    assert "Received 401 with no WWW-Authenticate header" in done.stdout
    assert "curl -sS -i" in done.stdout
    assert REFERENCE_TOKEN not in done.stdout + done.stderr


def test_a_should_failure_is_skipped_at_level_core(tmp_path: Path) -> None:
    with serve(FAULTY["no_www_authenticate"].create_app()) as url:
        done = run_pytest(tmp_path, "--crosmos-base-url", url, "--crosmos-token", REFERENCE_TOKEN,
                          "--crosmos-profile", "smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SHOULD rule does not decide level core" in done.stdout


def test_without_options_the_plugin_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    done = run_pytest(tmp_path)
    assert done.returncode == 0
    assert "1 passed" in done.stdout and "collected 1 item" in done.stdout  # no check items added
    assert "--crosmos-base-url" in run_pytest(tmp_path, "--help").stdout  # yet the plugin is loaded


def test_a_server_that_cannot_be_reached_is_one_usage_error_without_the_token(tmp_path: Path) -> None:
    """Not 33 identical failures with rc 1 (which reads as "not conformant"): one line, rc 4."""
    token = "csk_plugin_secret_4242"
    done = run_pytest(tmp_path, "--crosmos-base-url", refused_url(), "--crosmos-profile", "smoke",
                      env={"CROSMOS_TOKEN": token})
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
    assert "failed" not in done.stdout.splitlines()[-1]
    assert done.stdout.count("cannot certify: ConnectionProblem") == 1, done.stdout[-2000:]
    assert "connection refused" in done.stdout
    assert "Traceback" not in done.stdout and len(done.stdout) < 50_000  # was 19 MB: one traceback per item, growing
    assert token not in done.stdout + done.stderr


@pytest.mark.parametrize(("args", "words"), [
    (("--crosmos-base-url", "not-a-url", "--crosmos-token", "t"), "not an http:// or https:// URL"),
    (("--crosmos-base-url", "http://127.0.0.1:9", "--crosmos-token", "t", "--crosmos-profile", "bogus"),
     "invalid choice: 'bogus'"),
])
def test_bad_plugin_options_are_usage_errors(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    done = run_pytest(tmp_path, *args)
    assert done.returncode == 4, done.stdout + done.stderr
    assert words in done.stderr


def test_the_profile_names_are_the_engines() -> None:
    from conformance.engine import PROFILES
    from conformance.pytest_plugin import PROFILE_NAMES

    assert set(PROFILE_NAMES) == set(PROFILES)


def test_a_base_url_without_a_token_is_a_usage_error(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--crosmos-base-url", "http://127.0.0.1:9")
    assert done.returncode == 4  # pytest's usage error
    assert "--crosmos-token" in done.stderr


def test_a_run_cut_short_ends_the_session_as_a_usage_error_not_green(reference_url: str, tmp_path: Path) -> None:
    """20 ms per reply, a one-second budget: nothing decided, so no check may read as passed."""
    from tests.servers.gateway import reverse_proxy

    with reverse_proxy(reference_url, delay=0.02) as gateway:
        done = run_pytest(tmp_path, "--crosmos-base-url", gateway.url, "--crosmos-token", REFERENCE_TOKEN,
                          "--crosmos-profile", "smoke", "--crosmos-budget", "1", "--crosmos-workers", "1")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
    assert "incomplete (budget spent on probes)" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]


def test_the_transport_options_carry_the_plugins_prefix(reference_url: str, tmp_path: Path) -> None:
    """A gateway's key given with --crosmos-header reaches the server with every request."""
    from tests.servers.gateway import reverse_proxy

    key = "gw_plugin_SECRET_77aa"
    with reverse_proxy(reference_url, required_header=("X-Gateway-Key", key)) as gateway:
        done = run_pytest(tmp_path, "--crosmos-base-url", gateway.url, "--crosmos-token", REFERENCE_TOKEN,
                          "--crosmos-profile", "smoke", "--crosmos-header", f"X-Gateway-Key: {key}")
    assert done.returncode == 0, done.stdout[-2000:]
    assert gateway.refused_403 == 0 and gateway.forwarded > 100
    assert key not in done.stdout + done.stderr

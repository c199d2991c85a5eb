"""The bearer token never appears in anything the kit writes.

Everything runs with one distinctive token: the mock (its logs and journal, control API calls
that name the token), the conformance CLI (console, JSON, JUnit and HTML reports, curl
reproductions, the token given by flag and by environment variable) and the pytest plugin.
Then every byte written is searched for the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from mockserver.serving.launch import running_mock

TOKEN = "csk_SECRET_needle_9f8e7d6c5b4a"


def _leaks(path: Path) -> list[str]:
    return [str(p) for p in path.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def test_the_token_is_never_written(tmp_path: Path) -> None:
    mock_log = tmp_path / "mock.log"
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with running_mock(seed=1, output=mock_log, extra_args=["--token", TOKEN]) as url:  # certifiable: one valid token
        requests.get(f"{url}/api/v1/usage", headers=auth, timeout=10)
        requests.get(f"{url}/api/v1/usage?start_date=not-a-date", headers=auth, timeout=10)
        requests.get(f"{url}/api/v1/usage?access_token={TOKEN}&token={TOKEN}", timeout=10)
        requests.get(f"{url}/api/v1/usage", headers={"Authorization": f"Basic {TOKEN}"}, timeout=10)
        requests.get(f"{url}/api/v1/usage", headers={"Authorization": TOKEN}, timeout=10)
        requests.put(f"{url}/__mock/tokens/scenario", json={"token": TOKEN, "scenario": "exhausted"}, timeout=10)
        requests.get(f"{url}/api/v1/usage", headers={**auth, "Prefer": "scenario=near-limit"}, timeout=10)
        journal = requests.get(f"{url}/__mock/journal", timeout=10)
        tokens = requests.get(f"{url}/__mock/tokens", timeout=10)
        (outputs / "journal.json").write_bytes(journal.content)
        (outputs / "tokens.json").write_bytes(tokens.content)
        assert journal.status_code == 200 and journal.json()

        cli = [sys.executable, "-m", "conformance.cli", "run", "--base-url", url, "--profile", "smoke",
               "--level", "full", "--no-progress"]
        by_flag = subprocess.run(
            [*cli, "--token", TOKEN, "--json", str(outputs / "r.json"), "--junit-xml", str(outputs / "r.xml"),
             "--html", str(outputs / "r.html")], capture_output=True, timeout=180, check=False)
        by_env = subprocess.run(
            [*cli, "--json", str(outputs / "env.json")], capture_output=True, timeout=180, check=False,
            env={**os.environ, "CROSMOS_TOKEN": TOKEN})
        plugin = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path),
             "--crosmos-base-url", url, "--crosmos-token", TOKEN, "--crosmos-profile", "smoke",
             "--junitxml", str(outputs / "pytest.xml")],
            capture_output=True, timeout=300, check=False, cwd=tmp_path)
    for name, run in (("cli", by_flag), ("env", by_env), ("plugin", plugin)):
        (outputs / f"{name}.out").write_bytes(run.stdout + run.stderr)
        assert run.returncode == 0, (name, (run.stdout + run.stderr)[-1500:])
    assert (outputs / "r.html").stat().st_size > 1000 and b"[REDACTED]" in (outputs / "r.json").read_bytes() + (
        outputs / "r.html").read_bytes()
    assert mock_log.stat().st_size > 0 and b"mockserver.access" in mock_log.read_bytes()
    assert _leaks(tmp_path) == []

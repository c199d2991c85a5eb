"""``crosmos-mock export``: fixtures byte for byte as served, and MSW handlers run in node.

The node test uses msw from ``.cache/msw`` (``make msw-deps``, which ``.ci/run`` runs; or
``$CROSMOS_MSW_DIR``): the test itself installs nothing and talks to no network, since msw
intercepts every fetch it makes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from crosmos_contract import rules
from mockserver.model.scenarios import SCENARIOS
from mockserver.serving.launch import running_mock

TOKEN = "csk_export_fixtures"
SEED = 21
ROOT = Path(__file__).resolve().parents[2]
MSW_DIR = Path(os.environ.get("CROSMOS_MSW_DIR", ROOT / ".cache" / "msw"))
NODE = shutil.which("node")


def _export(out: Path, today: date) -> list[str]:
    command = [sys.executable, "-m", "mockserver", "export", "--out", str(out), "--today", today.isoformat(),
               "--seed", str(SEED), "--token", TOKEN]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return done.stdout.split()


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with running_mock(seed=SEED) as url:
        yield url


def test_the_export_tree(tmp_path: Path) -> None:
    written = _export(tmp_path, date(2026, 12, 1))
    relative = sorted(str(Path(path).relative_to(tmp_path)) for path in written)
    assert relative == sorted([*(f"fixtures/usage/{name}.json" for name in SCENARIOS),
                               *(f"fixtures/errors/{name}.json" for name in
                                 ("unauthorized", "bad-date", "inverted-window", "rate-limited")),
                               "msw/handlers.js", "msw/handlers.d.ts"])
    assert "export type Scenario = " in (tmp_path / "msw" / "handlers.d.ts").read_text()


def test_fixtures_are_byte_for_byte_what_the_mock_serves(mock_url: str, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    served = {name: requests.get(f"{mock_url}/api/v1/usage", headers={**auth, "X-Mock-Scenario": name}, timeout=10)
              for name in SCENARIOS}
    days = {parsedate_to_datetime(reply.headers["Date"]).astimezone(UTC).date() for reply in served.values()}
    if len(days) > 1:  # the run straddled midnight: the mock's day is ambiguous, ask again
        pytest.skip("the requests straddled midnight UTC")
    today = days.pop()
    _export(tmp_path, today)
    for name, reply in served.items():
        fixture = (tmp_path / "fixtures" / "usage" / f"{name}.json").read_bytes()
        assert reply.status_code == 200 and fixture == reply.content, name
        body = json.loads(fixture)
        assert rules.check_usage_body(body, today_candidates=[today], start_param=None, end_param=None) == [], name
    errors = {
        "unauthorized": requests.get(f"{mock_url}/api/v1/usage", timeout=10),
        "bad-date": requests.get(f"{mock_url}/api/v1/usage?start_date=not-a-date", headers=auth, timeout=10),
        "inverted-window": requests.get(f"{mock_url}/api/v1/usage?start_date=2026-03-10&end_date=2026-03-01",
                                        headers=auth, timeout=10),
        "rate-limited": requests.get(f"{mock_url}/api/v1/usage", headers={**auth, "Prefer": "code=429"}, timeout=10),
    }
    for name, reply in errors.items():
        assert (tmp_path / "fixtures" / "errors" / f"{name}.json").read_bytes() == reply.content, name
    assert [errors[n].status_code for n in errors] == [401, 422, 422, 429]


def test_a_token_the_mock_refuses_is_a_clear_error_without_the_token(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mockserver", "export", "--out", str(tmp_path), "--token",
                           "not_a_SECRET_token"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: the mock answered 401") and "Traceback" not in done.stderr
    assert "not_a_SECRET_token" not in done.stderr


NODE_SCRIPT = """
import { setupServer } from "msw/node";
import { readFileSync } from "node:fs";
import { handlers, handlersFor, errors, scenarios } from "./out/msw/handlers.js";

const URL = "http://127.0.0.1:9/api/v1/usage";  // never reached: msw answers, unhandled ones are errors
const auth = { Authorization: "Bearer csk_from_the_app" };
const server = setupServer(...handlers);
server.listen({ onUnhandledRequest: "error" });
const seen = { byPrefer: {}, byHeader: {}, byQuery: {}, fixtures: {} };
async function get(url, headers) {
  const r = await fetch(url, { headers });
  return { status: r.status, text: await r.text(), headers: Object.fromEntries(r.headers.entries()) };
}
for (const name of scenarios) {
  seen.fixtures[name] = readFileSync(`./out/fixtures/usage/${name}.json`, "utf8");
  seen.byPrefer[name] = await get(URL, { ...auth, Prefer: `scenario=${name}` });
  seen.byHeader[name] = await get(URL, { ...auth, "X-Mock-Scenario": name });
  seen.byQuery[name] = await get(`${URL}?__scenario=${name}`, auth);
}
seen.plain = await get(URL, auth);
seen.lowerBearer = await get(URL, { Authorization: "bearer csk_x" });
seen.noAuth = await get(URL, {});
seen.basic = await get(URL, { Authorization: "Basic abc" });
seen.unknown = await get(URL, { ...auth, Prefer: "scenario=nope" });
server.use(...handlersFor("exhausted"));
seen.pinned = await get(URL, { ...auth, "X-Mock-Scenario": "fresh" });
server.resetHandlers(errors["rate-limited"]);
seen.rateLimited = await get(URL, auth);
server.close();
console.log(JSON.stringify(seen));
"""


@pytest.mark.skipif((not NODE or not (MSW_DIR / "node_modules" / "msw").is_dir()) and not os.environ.get("CI"),
                    reason="node or msw missing: `make msw-deps` installs msw into .cache/msw (.ci/run does)")
def test_the_msw_handlers_answer_like_the_mock_in_node(tmp_path: Path) -> None:
    assert NODE is not None, "node is required under CI (.ci/run installs it)"
    assert (MSW_DIR / "node_modules" / "msw").is_dir(), f"msw is not installed in {MSW_DIR} (make msw-deps)"
    _export(tmp_path / "out", date(2026, 12, 1))
    (tmp_path / "node_modules").symlink_to(MSW_DIR / "node_modules", target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "check.mjs").write_text(NODE_SCRIPT)
    done = subprocess.run([NODE, "check.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for name, fixture in seen["fixtures"].items():
        for way in ("byPrefer", "byHeader", "byQuery"):
            reply = seen[way][name]
            assert (reply["status"], reply["text"]) == (200, fixture), (way, name)
            assert reply["headers"]["content-type"] == "application/json"
    assert (seen["plain"]["status"], seen["plain"]["text"]) == (200, seen["fixtures"]["default"])
    assert seen["lowerBearer"]["status"] == 200  # the scheme is case-insensitive (RFC 9110 §11.1)
    for refused in (seen["noAuth"], seen["basic"]):
        assert refused["status"] == 401 and json.loads(refused["text"]) == {"detail": "Not authenticated"}
        assert refused["headers"]["www-authenticate"] == "Bearer"
    assert seen["unknown"]["status"] == 400 and "nope" in json.loads(seen["unknown"]["text"])["detail"]
    assert seen["pinned"]["text"] == seen["fixtures"]["exhausted"]  # handlersFor wins over the request's choice
    limited = seen["rateLimited"]
    assert limited["status"] == 429 and int(limited["headers"]["retry-after"]) > 0
    assert json.loads(limited["text"])["detail"].startswith("Rate limit exceeded")
    print(f"\nnode + msw: {len(seen['fixtures'])} scenarios x 3 ways of choosing, 401s, 400, pinned, 429: ok")


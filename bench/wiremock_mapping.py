"""WireMock's stubs for the benchmark: the mock's own default usage body, made by ``crosmos-mock export``.

    python -m bench.wiremock_mapping              # rewrite bench/wiremock/mappings/*.json (FIXTURE_DAY)
    python -m bench.wiremock_mapping --check      # exit 1 if the committed stubs differ from a fresh export

The 200 body is ``fixtures/usage/default.json`` of ``crosmos-mock export --today FIXTURE_DAY --token
<the bench token>`` (seed 0, as the bench starts the mock), i.e. byte for byte what the mock serves
that token on that day. It is committed with a fixed day so that the stub does not change daily; on
the day of a run the mock's body differs only in its dates and counts (same keys, same plan, a
few bytes at most). WireMock answers it, as ``body`` (a string, sent as is, not re-serialised
like ``jsonBody``), to ``GET /api/v1/usage`` with an ``Authorization`` header matching
``Bearer .+``; without one, a lower-priority stub answers the mock's own 401.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bench import servers

FIXTURE_DAY = date(2026, 11, 30)
MAPPINGS = servers.WIREMOCK_ROOT / "mappings"
USAGE_MAPPING = MAPPINGS / "usage.json"
UNAUTHORIZED_MAPPING = MAPPINGS / "unauthorized.json"
EXPORT_TIMEOUT_S = 120.0


def exported_fixtures(today: date = FIXTURE_DAY, token: str = servers.TOKEN) -> dict[str, bytes]:
    """``crosmos-mock export`` of this tree (``python -m mockserver export``): default body and 401 body."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "mockserver", "export", "--out", tmp, "--today", today.isoformat(),
                   "--token", token]
        done = subprocess.run(command, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, check=False,
                              cwd=servers.ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"crosmos-mock export failed ({done.returncode}): {done.stderr.strip()}")
        fixtures = Path(tmp) / "fixtures"
        return {"default": (fixtures / "usage" / "default.json").read_bytes(),
                "unauthorized": (fixtures / "errors" / "unauthorized.json").read_bytes()}


def usage_stub(body: bytes) -> dict[str, Any]:
    """The 200 stub: the body as the mock's bytes, for a Bearer credential of any value."""
    return {
        "priority": 1,
        "request": {"method": "GET", "urlPath": servers.USAGE_PATH,
                    "headers": {"Authorization": {"matches": "Bearer .+"}}},
        "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": body.decode()},
    }


def unauthorized_stub(body: bytes) -> dict[str, Any]:
    """The fallback stub: the mock's 401 (as the FastAPI reference sends it) when no Bearer credential matched."""
    return {
        "priority": 10,
        "request": {"method": "GET", "urlPath": servers.USAGE_PATH},
        "response": {"status": 401, "headers": {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
                     "body": body.decode()},
    }


def rendered(stub: dict[str, Any]) -> str:
    return json.dumps(stub, indent=2, ensure_ascii=False) + "\n"


def stubs(today: date = FIXTURE_DAY) -> dict[Path, str]:
    """Each mapping file's text as it should be committed."""
    bodies = exported_fixtures(today)
    return {USAGE_MAPPING: rendered(usage_stub(bodies["default"])),
            UNAUTHORIZED_MAPPING: rendered(unauthorized_stub(bodies["unauthorized"]))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wiremock_mapping", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the committed stubs with a fresh export")
    parser.add_argument("--today", type=date.fromisoformat, default=FIXTURE_DAY,
                        help=f"the day of the default window (default {FIXTURE_DAY}, the committed one)")
    args = parser.parse_args(argv)
    wanted = stubs(args.today)
    if args.check:
        stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
        for path in stale:
            print(f"stale: {path.relative_to(servers.ROOT)}")
        return 1 if stale else 0
    MAPPINGS.mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text)
        print(path.relative_to(servers.ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

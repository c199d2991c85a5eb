"""The suite where its users run it: wall time at 150 and 400 ms per reply, the 429 share at 10 req/s.

    python -m bench.field                       # every condition, quick profile, default options
    python -m bench.field --conditions 150ms    # one of: local, 150ms, 400ms, 10rps
    python -m bench.field --profile standard

Each condition puts the FastAPI reference (tests/servers/reference.py, uvicorn on 127.0.0.1)
behind the test gateway (tests/servers/gateway.py: a delay before every reply, or a token bucket
answering 429 + Retry-After: 1), then runs ``crosmos-conformance run`` as a user would, in its own
process, with default options. Printed: exit code, verdict, wall time against the budget the run
derived, requests, workers, and what the gateway saw (refused share). JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import servers
from tests.servers.gateway import reverse_proxy
from tests.servers.reference import REFERENCE_TOKEN, create_app
from tests.servers.running import serve_app

RESULTS = servers.ROOT / "bench" / "results"
CONDITIONS: dict[str, dict[str, Any]] = {
    "local": {},
    "150ms": {"delay": 0.150},
    "400ms": {"delay": 0.400},
    "10rps": {"rate_per_s": 10.0, "burst": 10, "retry_after": "1"},
}
HARD_LIMIT_S = 1800  # no condition may hang the script


@dataclass
class Outcome:
    condition: str
    profile: str
    exit_code: int
    verdict: str
    stop_reason: str
    wall_s: float
    budget_s: float
    requests: int
    generated_cases: int
    workers: int
    gateway_requests: int
    refused_429: int
    refused_share: float
    rate_limits: dict[str, Any]


@contextmanager
def behind(condition: str) -> Iterator[Any]:
    with serve_app(create_app()) as upstream, reverse_proxy(upstream, **CONDITIONS[condition]) as gateway:
        yield gateway


def run_condition(condition: str, profile: str, seed: int) -> Outcome:
    cli = shutil.which("crosmos-conformance", path=str(Path(sys.executable).parent)) or "crosmos-conformance"
    with behind(condition) as gateway, tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        started = time.monotonic()
        done = subprocess.run([cli, "run", "--base-url", gateway.url, "--profile", profile, "--seed", str(seed),
                               "--no-progress", "--json", str(report)],
                              env={**_env(), "CROSMOS_TOKEN": REFERENCE_TOKEN}, capture_output=True, text=True,
                              timeout=HARD_LIMIT_S, check=False)
        wall = time.monotonic() - started
        data = json.loads(report.read_text()) if report.exists() else {}
        seen = len(gateway.requests)
        refused = gateway.refused_429
    if not data:
        print(done.stderr[-2000:], file=sys.stderr)
    return Outcome(condition, profile, done.returncode, data.get("verdict", "?"), data.get("stop_reason", "?"),
                   round(wall, 1), data.get("budget_s", 0.0), data.get("requests", 0),
                   data.get("generated_cases", 0), data.get("workers", 0), seen, refused,
                   round(refused / seen, 4) if seen else 0.0, data.get("rate_limits", {}))


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "CROSMOS_TOKEN"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated: " + ", ".join(CONDITIONS))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args(argv)
    outcomes = []
    for condition in args.conditions.split(","):
        outcome = run_condition(condition.strip(), args.profile, args.seed)
        outcomes.append(outcome)
        limits = outcome.rate_limits
        print(f"{outcome.condition:>6}  exit {outcome.exit_code}  {outcome.verdict:<14} {outcome.stop_reason:<10} "
              f"wall {outcome.wall_s:6.1f} s (budget {outcome.budget_s:g} s)  requests {outcome.requests} "
              f"({outcome.generated_cases} generated)  workers {outcome.workers}  "
              f"429s {outcome.refused_429}/{outcome.gateway_requests} = {outcome.refused_share:.1%}"
              + (f"  waited {limits.get('waited_s')} s, paced at {limits.get('paced_at')} req/s"
                 if limits.get("refusals") else ""), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"field-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

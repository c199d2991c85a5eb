"""Cold start alone: process start of the mock to its first 200 of ``GET /api/v1/usage``, median of 5.

    python -m bench.coldstart              # 5 counted starts (and 5 with --no-contract-cache beside)
    python -m bench.coldstart --starts 9

The same measurement as ``python -m bench.run --suite certify`` (``bench.certify.cold_starts``),
without the certification runs: ``python -m mockserver --token <bench token>`` (what the
``crosmos-mock`` console script runs) spawned on a free port, ``GET /api/v1/usage`` polled every
5 ms (bounded: 30 s) until it answers 200; one uncounted start first (the OS's file cache, the
contract verdict cache); each counted start followed by one with ``--no-contract-cache``,
reported beside. Target: median < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import certify, servers

RESULTS = servers.ROOT / "bench" / "results"


def render(cold: dict[str, Any]) -> str:
    met = "met" if cold["median_s"] < cold["target_s"] else "NOT met"
    return "\n".join([
        f"cold start to the first 200: median {cold['median_s']:.3f} s of {len(cold['runs_s'])} "
        f"({', '.join(f'{t:.3f}' for t in cold['runs_s'])}); target < {cold['target_s']:g} s: {met}",
        f"  with --no-contract-cache (the contract validated): median {cold['uncached_median_s']:.3f} s "
        f"({', '.join(f'{t:.3f}' for t in cold['uncached_runs_s'])})"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="counted starts (the median of these is quoted)")
    parser.add_argument("--out", type=Path, default=None, help="JSON (default: bench/results/coldstart-<time>.json)")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error("--starts must be 1 or more")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    from bench.run import environment

    env = environment()
    print(f"cold start × {args.starts}, load average {', '.join(f'{x:.2f}' for x in env['loadavg'])}", flush=True)
    cold = certify.cold_starts(args.starts, RESULTS / "logs" / stamp)
    out = args.out or RESULTS / f"coldstart-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"environment": env, "cold_start": cold}, indent=2, default=str))
    print(render(cold))
    print(f"wrote {out.relative_to(servers.ROOT) if out.is_relative_to(servers.ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

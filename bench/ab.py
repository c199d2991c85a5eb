"""The mock's CPU per request at two revisions, alternated, with an A/A pair for the noise.

    python -m bench.ab BEFORE [AFTER]       # AFTER defaults to the working tree; e.g. bench.ab 65919bc
    python -m bench.ab BEFORE --pairs 8 --rounds 3

Each revision is checked out in a temporary worktree (the working tree itself for AFTER when it is
not given). One child process per measurement imports that tree's mock in process and measures the
CPU time (``time.process_time``) of two workloads, as the rest of bench/ names them:

- **distinct**: every request a window never asked before (no cache can answer: the pipeline);
- **repeat**: one request repeated (the replay cache answers).

Logging is set up as ``crosmos-mock`` sets it up (the access line written, to /dev/null). The
children run A, B, A' in turn, ``--pairs`` times; the figures are medians, and the ratios are
paired (B/A and A'/A from the same turn), so a noisy minute moves one pair, not the verdict. A'/A
is the noise: a B/A inside its range is no difference. The harness is this file, whatever the
revision: only the mock under it changes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("distinct_us", "repeat_us")
DISTINCT_EPOCH = date(2001, 1, 1)


def distinct_query(n: int) -> str:
    """The n-th window (n >= 1): every n gives a pair never given for another n."""
    start = DISTINCT_EPOCH + timedelta(days=n % 5000)
    end = start + timedelta(days=1 + n // 5000)
    return f"start_date={start.isoformat()}&end_date={end.isoformat()}"


def measure(root: Path, rounds: int, distinct: int, repeat: int) -> dict[str, float]:
    """CPU µs per request of the mock under ``root``, both workloads, medians of ``rounds``."""
    sys.path.insert(0, str(root))
    from werkzeug.test import EnvironBuilder

    import mockserver
    from mockserver.app import create_app

    if not Path(mockserver.__file__ or "").resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"bench.ab: imported {mockserver.__file__}, not the mock under {root}")

    try:
        from mockserver.store.access_log import configure_logging
    except ImportError:  # before the mock's rooms
        from mockserver.server import configure_logging  # type: ignore[import-not-found,no-redef]
    sink = open(os.devnull, "w")  # noqa: SIM115 - the access log's stream for the whole run
    logging.getLogger().handlers.clear()
    configure_logging("info", sink)
    app = create_app(access_log=True, seed=1)
    base = EnvironBuilder(path="/api/v1/usage", headers={"Authorization": "Bearer csk_ab_bench_token_01"}).get_environ()

    def call(query: str) -> None:
        environ = dict(base)
        environ["QUERY_STRING"] = query
        reply = app(environ, lambda status, headers, exc_info=None: None)
        b"".join(reply)
        close: Callable[[], None] | None = getattr(reply, "close", None)
        if close is not None:
            close()

    call("start_date=2026-01-01&end_date=2026-01-31")  # lazily built parts built
    served = 0
    distinct_us, repeat_us = [], []
    for _ in range(rounds):
        queries = [distinct_query(served + i) for i in range(1, distinct + 1)]
        served += distinct
        started = time.process_time()
        for query in queries:
            call(query)
        distinct_us.append((time.process_time() - started) / distinct * 1e6)
        call("start_date=2026-02-01&end_date=2026-02-20")
        started = time.process_time()
        for _ in range(repeat):
            call("start_date=2026-02-01&end_date=2026-02-20")
        repeat_us.append((time.process_time() - started) / repeat * 1e6)
    return {"distinct_us": statistics.median(distinct_us), "repeat_us": statistics.median(repeat_us)}


@dataclass
class Comparison:
    before: list[dict[str, float]]
    after: list[dict[str, float]]
    again: list[dict[str, float]]  # the before revision measured again: A/A

    def summary(self, workload: str) -> dict[str, float]:
        a = [m[workload] for m in self.before]
        b = [m[workload] for m in self.after]
        a2 = [m[workload] for m in self.again]
        ratios = [y / x for x, y in zip(a, b, strict=True)]
        noise = [y / x for x, y in zip(a, a2, strict=True)]
        return {"before": statistics.median(a), "after": statistics.median(b),
                "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                "aa": statistics.median(noise), "aa_min": min(noise), "aa_max": max(noise)}


def render(comparison: Comparison, before: str, after: str) -> str:
    lines = [f"CPU µs per request, {before} (A) against {after} (B), {len(comparison.before)} alternated turns "
             "(medians; ratios paired per turn, min-max in brackets):"]
    for workload in WORKLOADS:
        s = comparison.summary(workload)
        lines.append(f"  {workload[:-3]:9s} A {s['before']:8.1f}  B {s['after']:8.1f}  "
                     f"B/A {s['ratio']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]  "
                     f"A'/A {s['aa']:.3f} [{s['aa_min']:.3f}-{s['aa_max']:.3f}]")
    return "\n".join(lines)


def _child(root: Path, rounds: int, distinct: int, repeat: int) -> dict[str, float]:
    output = subprocess.run([sys.executable, "-m", "bench.ab", "--child", str(root), "--rounds", str(rounds),
                             "--distinct", str(distinct), "--repeat", str(repeat)],
                            cwd=ROOT, capture_output=True, text=True, check=True, timeout=600).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def compare(before_root: Path, after_root: Path, pairs: int, rounds: int, distinct: int,
            repeat: int) -> Comparison:
    comparison = Comparison([], [], [])
    for _ in range(pairs):
        comparison.before.append(_child(before_root, rounds, distinct, repeat))
        comparison.after.append(_child(after_root, rounds, distinct, repeat))
        comparison.again.append(_child(before_root, rounds, distinct, repeat))
    return comparison


def _worktree(revision: str, into: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(into), revision], cwd=ROOT, check=True)
    return into


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("before", nargs="?", help="the revision to compare against (A)")
    parser.add_argument("after", nargs="?", help="the revision measured (B; default: the working tree)")
    parser.add_argument("--pairs", type=int, default=8, help="alternated turns of A, B, A' (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement, their median kept (default 3)")
    parser.add_argument("--distinct", type=int, default=2000, help="requests per distinct round (default 2000)")
    parser.add_argument("--repeat", type=int, default=20000, help="requests per repeat round (default 20000)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    args = parser.parse_args(argv)
    for name in ("pairs", "rounds", "distinct", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.child is not None:
        print(json.dumps(measure(args.child, args.rounds, args.distinct, args.repeat)))
        return 0
    if args.before is None:
        parser.error("name the revision to compare against, e.g. python -m bench.ab HEAD~3")
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as scratch:
        trees: list[Path] = []
        try:
            before_root = _worktree(args.before, Path(scratch) / "a")
            trees.append(before_root)
            after_root = ROOT
            if args.after is not None:
                after_root = _worktree(args.after, Path(scratch) / "b")
                trees.append(after_root)
            comparison = compare(before_root, after_root, args.pairs, args.rounds, args.distinct, args.repeat)
        except subprocess.CalledProcessError as error:
            print(f"bench.ab: {' '.join(map(str, error.cmd))} failed: {(error.stderr or '').strip()[-500:]}",
                  file=sys.stderr)
            return 1
        finally:
            for tree in trees:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    after = args.after or "the working tree"
    print(render(comparison, args.before, after))
    if args.json is not None:
        report: dict[str, Any] = {"before": args.before, "after": after,
                                  **{w: comparison.summary(w) for w in WORKLOADS}}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

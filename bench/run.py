"""Benchmark the mock against Prism 5.16, WireMock 3.13 and a bare WSGI app; time certification and cold start.

    python -m bench.run                 # the full run (about an hour on 2 cores: 8 servers, warm-ups of 30-90 s)
    python -m bench.run --smoke         # 2 s runs, one repeat: checks the script, not the numbers
    python -m bench.run --suite servers # our app under each candidate WSGI server (the server choice)
    python -m bench.run --suite load --servers mock,wiremock,prism   # some servers only
    python -m bench.run --suite load --workload distinct              # distinct windows only (default: both)

Each server is started fresh for every repeat (servers interleave, so a noisy minute hurts all of
them alike; each repeat starts one server later in the list, so none always follows the same
one), warmed up until stable (rounds of 5 s of wrk at 16 connections until three in a row agree
within 5 %, 30 s at least and 90 s at most: WireMock's JIT needs about 30 s to reach its
rate), then loaded with wrk (2 threads) at each connection count under each workload: *distinct*
windows (bench/distinct.lua: every request a start_date/end_date pair never asked before, so the
mock's replay cache never answers) and *repeat* (one URL again and again: the replay figures).
Medians of the repeats are quoted, and ratios as the median of the repeats' pairs (the mock and
a baseline in the same repeat); everything, the warm-up rounds too, is written as JSON under
bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import certify, servers, sidebyside, stats
from bench.load import WORKLOADS, LoadResult, ensure_wrk, run_workload, tree_rss_mb
from bench.variants import SERVERS as WSGI_SERVERS

RESULTS = servers.ROOT / "bench" / "results"
DEFAULT_SERVERS = ("mock", "mock-1x1", "prism", "prism-silent", "prism-dynamic", "wiremock", "hello", "flask-hello")
BASELINES = ("mock-baseline", "prism", "prism-silent", "prism-dynamic", "wiremock", "hello")
DEFAULT_WARMUP_S = 30.0  # the least warm-up (the issue asks for 10 s at least; WireMock's JIT takes ~30 s)
DEFAULT_WARMUP_MAX_S = 90.0  # the most, stable or not
DEFAULT_WARMUP_ROUND_S = 5  # one warm-up round of wrk (whole seconds: wrk's -d)
DEFAULT_WARMUP_TOLERANCE = 0.05  # three rounds in a row this close: warm
WARMUP_CONNECTIONS = 16


@dataclass(frozen=True)
class WarmupPolicy:
    """How each fresh server is warmed: rounds of ``round_s`` until stable, ``min_s`` at least, ``max_s`` at most."""

    min_s: float = DEFAULT_WARMUP_S
    max_s: float = DEFAULT_WARMUP_MAX_S
    round_s: float = DEFAULT_WARMUP_ROUND_S
    tolerance: float = DEFAULT_WARMUP_TOLERANCE

    def as_dict(self) -> dict[str, float]:
        return {"min_s": self.min_s, "max_s": self.max_s, "round_s": self.round_s, "tolerance": self.tolerance,
                "connections": WARMUP_CONNECTIONS}


def warm_up(wrk: str, spec: servers.ServerSpec, running: servers.Running, policy: WarmupPolicy,
            repeat: int, workload: str = "repeat") -> dict[str, Any]:
    """Rounds of wrk at 16 connections (under ``workload``) until :func:`stats.warmup_state` says done."""
    rates: list[float] = []
    state = stats.warmup_state(rates, policy.round_s, policy.min_s, policy.max_s, policy.tolerance)
    for _ in range(int(policy.max_s // policy.round_s) + 1):  # bounded even if the state never said done
        if state.done:
            break
        result = run_workload(wrk, workload, running.url, spec.headers, WARMUP_CONNECTIONS, policy.round_s,
                              running.process.pid)
        rates.append(result.rps)
        state = stats.warmup_state(rates, policy.round_s, policy.min_s, policy.max_s, policy.tolerance)
        change = f"  ({(rates[-1] / rates[-2] - 1) * 100:+.1f} %)" if len(rates) > 1 and rates[-2] else ""
        print(f"  [{repeat + 1}] {spec.name:<28} warm-up round {len(rates):<2} {result.rps:>9.0f} req/s{change}",
              flush=True)
    verdict = ("stable" if state.stable else "NOT stable") + f" after {state.seconds:g} s"
    if not state.stable and rates:
        verdict += f" (cap {policy.max_s:g} s)"
    print(f"  [{repeat + 1}] {spec.name:<28} warm-up {verdict}: "
          + (", ".join(f"{r:,.0f}" for r in rates) or "no rounds"), flush=True)
    return {"repeat": repeat + 1, "rounds_rps": rates, "round_s": policy.round_s, "seconds": state.seconds,
            "stable": state.stable, "workload": workload}


def measure(specs: Sequence[servers.ServerSpec], connections: Sequence[int], duration: float, repeats: int,
            warmup: WarmupPolicy, log_dir: Path, workloads: Sequence[str] = ("repeat",)) -> dict[str, Any]:
    """Every spec × connection count × workload × repeat; raw runs, warm-ups, medians, idle RSS per server.

    ``runs`` and ``medians`` are keyed by workload, then server, then connections; each run says
    its ``workload`` and ``repeat``. The warm-up runs under the first workload (distinct windows
    when both are measured: the pipeline, not the replay cache, is what must be warm); at each
    connection count the workloads run one after the other, their order alternating (:func:`in_turn`).
    """
    wrk = ensure_wrk()
    raw: dict[str, dict[str, dict[int, list[dict[str, Any]]]]] = {
        workload: {spec.name: {c: [] for c in connections} for spec in specs} for workload in workloads}
    idle: dict[str, list[float]] = {spec.name: [] for spec in specs}
    ready: dict[str, list[float]] = {spec.name: [] for spec in specs}
    warmups: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in specs}
    failures: dict[str, list[str]] = {}
    for repeat in range(repeats):
        for spec in rotated(specs, repeat):
            try:
                with servers.started(spec, log_dir) as running:
                    ready[spec.name].append(running.ready_after_s)
                    time.sleep(0.5)
                    idle[spec.name].append(tree_rss_mb(running.process.pid))
                    warmups[spec.name].append(warm_up(wrk, spec, running, warmup, repeat, workloads[0]))
                    for index, conns in enumerate(connections):
                        for workload in in_turn(workloads, repeat + index):
                            result = run_workload(wrk, workload, running.url, spec.headers, conns, duration,
                                                  running.process.pid)
                            raw[workload][spec.name][conns].append({**result.as_dict(), "repeat": repeat + 1})
                            _progress(repeat, spec.name, result)
            except RuntimeError as exc:  # one broken server must not lose the others' numbers
                print(f"  [{repeat + 1}] {spec.name}: {exc}", flush=True)
                failures.setdefault(spec.name, []).append(str(exc))
    medians = {workload: {name: {c: stats.summarise(runs) for c, runs in by_conns.items() if runs}
                          for name, by_conns in by_name.items() if any(by_conns.values())}
               for workload, by_name in raw.items()}
    return {"workloads": list(workloads), "runs": raw, "warmup": warmups, "medians": medians,
            "pairs": sidebyside.pairs_report(raw, [spec.name for spec in specs], connections), "failures": failures,
            "idle_rss_mb": {name: _median(values) for name, values in idle.items() if values},
            "ready_s": {name: _median(values) for name, values in ready.items() if values}}


def in_turn(workloads: Sequence[str], turn: int) -> list[str]:
    """The workloads in the order of ``turn``: reversed every other one, so that neither always runs first
    (a server still warming up would favour whichever runs second)."""
    return list(workloads) if turn % 2 == 0 else list(reversed(workloads))


def rotated(specs: Sequence[servers.ServerSpec], repeat: int) -> list[servers.ServerSpec]:
    """The servers in the order of ``repeat``: each repeat starts one later, so no server always follows the same."""
    if not specs:
        return []
    shift = repeat % len(specs)
    return [*specs[shift:], *specs[:shift]]


def load_specs(names: Sequence[str]) -> list[servers.ServerSpec]:
    """The named load servers, installing what they need (Prism, WireMock and Java) first."""
    unknown = [n for n in names if n not in servers.LOAD_SERVERS]
    if unknown:
        raise SystemExit(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(servers.LOAD_SERVERS)}")
    if any(n.startswith("prism") for n in names):
        servers.ensure_prism()
    if any(n.startswith("wiremock") for n in names):
        servers.ensure_java()
        servers.ensure_wiremock()
    return [servers.LOAD_SERVERS[n] for n in names]


def java_version() -> str:
    """``java -version``'s first line, or why there is none."""
    java = shutil.which("java")
    if java is None:
        return "not installed"
    done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else f"java -version exited {done.returncode}"


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _progress(repeat: int, name: str, result: LoadResult) -> None:
    errors = f" errors={result.non_2xx + result.socket_errors}" if result.non_2xx or result.socket_errors else ""
    print(f"  [{repeat + 1}] {name:<19} {result.workload:<8} c={result.connections:<3} {result.rps:>9.0f} req/s"
          f"  p50 {result.p50_ms:6.2f} ms"
          f"  p99 {result.p99_ms:7.2f} ms  rss {result.peak_rss_mb:6.1f} MB{errors}", flush=True)


def table(medians: dict[str, dict[int, dict[str, float]]], baselines: Iterable[str]) -> str:
    """Markdown: one row per server × connections, ratios of req/s against each baseline present."""
    present = [b for b in baselines if b in medians]
    header = ["server", "conns", "req/s", "p50 ms", "p99 ms", "peak RSS MB", "peak PSS MB",
              *[f"× {b}" for b in present]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    conns_all = sorted({c for by_conns in medians.values() for c in by_conns})
    for conns in conns_all:
        for name, by_conns in medians.items():
            row = by_conns.get(conns)
            if row is None:
                continue
            cells = [name, str(conns), f"{row['rps']:,.0f}", f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}",
                     f"{row['peak_rss_mb']:.0f}", f"{row['peak_pss_mb']:.0f}"]
            for base in present:
                value = stats.ratio(row["rps"], medians[base].get(conns, {}).get("rps"))
                cells.append("n/a" if value is None else f"{value:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def warmup_lines(warmups: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown list: per server, each repeat's warm-up rounds (req/s) and whether they stabilised."""
    lines = []
    for name, runs in warmups.items():
        if not runs:
            continue
        stable = sum(1 for run in runs if run["stable"])
        per_repeat = "; ".join(
            f"[{run['repeat']}] " + (", ".join(f"{r:,.0f}" for r in run["rounds_rps"]) or "none")
            + ("" if run["stable"] else " (not stable)") for run in runs)
        lines.append(f"- {name}: stable in {stable}/{len(runs)} — {per_repeat}")
    return "\n".join(lines)


def targets_table(targets: Iterable[stats.Target]) -> str:
    lines = ["| target | wanted | measured | met |", "|---|---|---|---|"]
    for target in targets:
        met = {True: "yes", False: "**no**", None: stats.NOT_MEASURED}[target.met]
        lines.append(f"| {target.name} | {target.wanted} | {target.measured} | {met} |")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """What a reader needs to judge the numbers: machine, load, versions, commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=servers.ROOT,
                            check=False).stdout.strip() or "unknown (not a git checkout)"
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(), "python": platform.python_version(), "platform": platform.platform(),
            "commit": commit, "prism": servers.PRISM_VERSION, "wiremock": servers.WIREMOCK_VERSION,
            "java": java_version()}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("all", "load", "certify", "servers"), default="all",
                        help="load: servers under wrk; certify: certification and cold start; servers: the mock "
                             "and the bare app under each candidate WSGI server; all: load then certify")
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                        help=f"comma-separated, of {', '.join(servers.LOAD_SERVERS)}")
    parser.add_argument("--wsgi", default=",".join(s for s in WSGI_SERVERS if s != "production"),
                        help="candidate WSGI servers for --suite servers")
    parser.add_argument("--apps", default="mock,hello", help="apps for --suite servers (mock, hello, flask-hello)")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--workload", choices=("distinct", "repeat", "both"), default=None,
                        help="distinct: every request a window never asked before (bench/distinct.lua), which the "
                             "mock's replay cache cannot answer; repeat: one URL again and again (replay); both: "
                             "each in turn at every connection count (default for --suite load and all; "
                             "--suite servers defaults to repeat)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S,
                        help="least seconds of warm-up wrk (16 connections) before measuring each fresh server "
                             "(JIT, caches); rounds go on until three in a row agree within --warmup-tolerance")
    parser.add_argument("--warmup-max", type=float, default=DEFAULT_WARMUP_MAX_S,
                        help="most seconds of warm-up per fresh server, stable or not (0 with --warmup 0: none)")
    parser.add_argument("--warmup-round", type=int, default=DEFAULT_WARMUP_ROUND_S,
                        help="seconds per warm-up round of wrk")
    parser.add_argument("--warmup-tolerance", type=float, default=DEFAULT_WARMUP_TOLERANCE,
                        help="three consecutive rounds within this fraction of the largest of them: stable")
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--profiles", default="quick,standard", help="certification profiles to time")
    parser.add_argument("--smoke", action="store_true",
                        help="2 s runs, 1 repeat, warm-up of 1 s rounds for 1 to 3 s, 2 cold starts, quick profile")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: bench/results/<suite>-<time>.json)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of an earlier commit: adds server mock-baseline (its mock, started alike)")
    args = parser.parse_args(argv)
    if args.baseline is not None:
        spec = servers.baseline_mock(args.baseline)
        servers.LOAD_SERVERS[spec.name] = spec
    if args.smoke:
        args.duration, args.repeats, args.warmup, args.cold_starts, args.profiles = 2.0, 1, 1.0, 2, "quick"
        args.warmup_max, args.warmup_round = 3.0, 1
    if args.workload is None:
        args.workload = "repeat" if args.suite == "servers" else "both"
    if args.warmup_round < 1:
        parser.error("--warmup-round must be 1 s or more")
    if not 0 <= args.warmup <= args.warmup_max:
        parser.error("--warmup must be between 0 and --warmup-max")
    if not 0 < args.warmup_tolerance < 1:
        parser.error("--warmup-tolerance must be a fraction between 0 and 1")
    return args


def warmup_policy(args: argparse.Namespace) -> WarmupPolicy:
    return WarmupPolicy(args.warmup, args.warmup_max, args.warmup_round, args.warmup_tolerance)


def workloads_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The workloads to measure, distinct windows first."""
    return WORKLOADS if args.workload == "both" else (args.workload,)


def load_sections(measured: dict[str, Any], names: Sequence[str], connections: Sequence[int]) -> list[str]:
    """The load suite's Markdown: side by side (distinct first, replay beside), each workload's full
    table, idle RSS, warm-ups, this issue's targets and the earlier targets per workload."""
    runs, medians, workloads = measured["runs"], measured["medians"], measured["workloads"]
    sections = ["## Distinct windows and one request repeated, side by side",
                "distinct: distinct windows (every request a start_date/end_date pair never asked before: "
                "the mock's full pipeline); replay: one request repeated (the mock answers from its replay "
                "cache). Medians of the repeats (req/s: min–max of the repeats); × Prism / × WireMock "
                "(static stubs): the median of the ratios of runs paired by repeat (min–max of the pairs).",
                sidebyside.table(runs, medians, names, connections, workloads)]
    for workload in ("distinct", "repeat"):
        if workload in medians:
            sections += [f"## Load, {sidebyside.WORKLOAD_LABELS[workload]} (medians)",
                         table(medians[workload], BASELINES)]
    sections += ["Idle RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in measured["idle_rss_mb"].items()),
                 "## Warm-up (req/s of each round, per repeat)", warmup_lines(measured["warmup"]),
                 "## Targets (distinct windows first)", targets_table(sidebyside.targets(runs, medians))]
    for workload in ("distinct", "repeat"):
        if workload in medians:
            sections += [f"### Earlier targets, {sidebyside.WORKLOAD_LABELS[workload]}",
                         targets_table(stats.load_targets(medians[workload]))]
    return sections


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    connections = [int(c) for c in args.connections.split(",")]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"{args.suite}-{stamp}.json"
    log_dir = RESULTS / "logs" / stamp
    workloads = workloads_of(args)
    report: dict[str, Any] = {"environment": environment(), "settings": {
        "suite": args.suite, "connections": connections, "duration_s": args.duration, "repeats": args.repeats,
        "warmup": warmup_policy(args).as_dict(), "wrk_threads": 2, "workloads": list(workloads),
        "request": f"GET {servers.USAGE_PATH} with a Bearer token",
        "distinct": "bench/distinct.lua: start_date=1900-01-01+(k mod 73000) d, end_date=start+(k div 73000) d, "
                    "k never reused within the process"}}
    sections: list[str] = []

    if args.suite in ("all", "load"):
        names = [n for n in args.servers.split(",") if n]
        specs = load_specs(names)
        print(f"load: {', '.join(names)} at {connections} connections, {'/'.join(workloads)}, "
              f"{args.duration:g} s × {args.repeats}", flush=True)
        report["load"] = measure(specs, connections, args.duration, args.repeats, warmup_policy(args), log_dir,
                                 workloads)
        runs, medians = report["load"]["runs"], report["load"]["medians"]
        report["load"]["targets"] = [t.as_dict() for t in sidebyside.targets(runs, medians)]
        report["load"]["earlier_targets"] = {w: [t.as_dict() for t in stats.load_targets(m)]
                                             for w, m in medians.items()}
        sections += load_sections(report["load"], names, connections)

    if args.suite == "servers":
        names = [n for n in args.wsgi.split(",") if n]
        specs = [servers.variant(app, name) for name in names for app in args.apps.split(",") if app]
        print(f"servers: {', '.join(names)} at {connections} connections, {args.duration:g} s × {args.repeats}",
              flush=True)
        report["servers"] = measure(specs, connections, args.duration, args.repeats, warmup_policy(args), log_dir,
                                    workloads)
        for workload, medians in report["servers"]["medians"].items():
            sections += [f"## Candidate WSGI servers, {sidebyside.WORKLOAD_LABELS[workload]} (medians)",
                         table(medians, ())]
            for name in names:
                for conns in connections:
                    share = stats.ratio(medians.get(f"mock@{name}", {}).get(conns, {}).get("rps"),
                                        medians.get(f"hello@{name}", {}).get(conns, {}).get("rps"))
                    sections.append(f"- {name} @{conns}: mock/hello = {share:.2f}" if share else f"- {name}: n/a")
        sections += ["## Warm-up (req/s of each round, per repeat)", warmup_lines(report["servers"]["warmup"])]

    if args.suite in ("all", "certify"):
        profiles = [p for p in args.profiles.split(",") if p]
        report["certification"] = certify.run_all(profiles, args.cold_starts, log_dir)
        sections += ["## Cold start and certification", certify.render(report["certification"])]

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    env = report["environment"]
    sections.insert(0, f"Run {env['when']} at commit {env['commit']}, {env['cpus']} CPUs, load average before "
                       f"{', '.join(f'{x:.2f}' for x in env['loadavg'])}; wrk -t2, {args.duration:g} s per run, "
                       f"median of {args.repeats}; workloads: {', '.join(workloads)}.")
    markdown = "\n\n".join(sections) + "\n"
    out.with_suffix(".md").write_text(markdown)
    print("\n" + markdown)
    print(f"wrote {out.relative_to(servers.ROOT) if out.is_relative_to(servers.ROOT) else out} (and .md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

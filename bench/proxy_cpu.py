"""Proxy mode's cost: the mock's CPU per reply it judges, and throughput beside the upstream alone.

    python -m bench.proxy_cpu            # 3 repeats of 10 s at 16 connections (about 2 minutes)
    python -m bench.proxy_cpu --smoke    # 2 s runs, 1 repeat: checks the script, not the numbers

The upstream is the FastAPI reference server (tests/servers/reference.py under uvicorn,
``bench.servers.REFERENCE``). Each repeat loads it alone with distinct windows
(bench/distinct.lua), then through ``crosmos-mock --upstream URL`` (this tree's mock, started as
``python -m mockserver``), which forwards every request and judges every reply against the
contract. The target is the mock's CPU: user + system seconds of its whole process tree
(/proc/PID/stat, read just before and just after the wrk run) divided by the replies wrk
received, in µs (≤ 100 µs wanted). Throughput through the mock over the upstream alone is
reported beside it, as context only: the mock, the upstream and wrk share the machine's cores,
so every CPU second the mock spends is one the upstream does not get. Windows are distinct
because the mock replays nothing in proxy mode anyway, and a real frontend's requests vary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import distinct, servers
from bench.load import LoadResult, ensure_wrk, run_workload, tree_cpu_s

RESULTS = servers.ROOT / "bench" / "results"
TARGET_US = 100.0
VIOLATIONS_HEADER = "X-Mock-Violations"


def proxy_spec(upstream: str) -> servers.ServerSpec:
    """The mock in proxy mode in front of ``upstream``, with the reference's credential (forwarded as is)."""
    return servers.ServerSpec(
        "mock-proxy", f"crosmos-mock --upstream {upstream} (this tree: python -m mockserver)",
        lambda port: [*servers.python_module("mockserver")(port), "--upstream", upstream],
        token=servers.REFERENCE.token)


def loaded(wrk: str, spec: servers.ServerSpec, running: servers.Running, connections: int,
           duration_s: float, watch: dict[str, int]) -> tuple[LoadResult, dict[str, float]]:
    """One distinct-window wrk run against ``running``; CPU seconds each process tree in ``watch`` spent during it."""
    before = {name: tree_cpu_s(pid) for name, pid in watch.items()}
    result = run_workload(wrk, "distinct", running.url, spec.headers, connections, duration_s, running.process.pid)
    after = {name: tree_cpu_s(pid) for name, pid in watch.items()}
    return result, {name: after[name] - before[name] for name in watch}


def idle_cpu_per_s(pid: int, seconds: float = 1.0) -> float:
    """CPU seconds per second the tree spends with no request (timers, watchers): context for the figure."""
    before = tree_cpu_s(pid)
    time.sleep(seconds)
    return (tree_cpu_s(pid) - before) / seconds


def judged_headers(spec: servers.ServerSpec, running: servers.Running) -> dict[str, str]:
    """One distinct window through the mock: status and whether it reported violations (a sanity check)."""
    k = distinct.BLOCKS.take(1.0, 1).base
    request = urllib.request.Request(f"{running.url}?{distinct.query(k)}", headers=spec.headers)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return {"status": str(reply.status), "violations": reply.headers.get(VIOLATIONS_HEADER) or "none"}


def measure(connections: int, duration_s: float, repeats: int, warmup_s: float, log_dir: Path) -> dict[str, Any]:
    """Upstream alone then through the mock, ``repeats`` times, each after a warm-up of both."""
    wrk = ensure_wrk()
    upstream_spec = servers.REFERENCE
    rounds: list[dict[str, Any]] = []
    with servers.started(upstream_spec, log_dir) as upstream:
        mock_spec = proxy_spec(upstream.base_url)
        with servers.started(mock_spec, log_dir) as mock:
            sanity = judged_headers(mock_spec, mock)
            print(f"  through the mock: {sanity['status']}, violations: {sanity['violations']}", flush=True)
            idle = idle_cpu_per_s(mock.process.pid)
            if warmup_s > 0:
                run_workload(wrk, "distinct", upstream.url, upstream_spec.headers, connections, warmup_s,
                             upstream.process.pid)
                run_workload(wrk, "distinct", mock.url, mock_spec.headers, connections, warmup_s, mock.process.pid)
            watch = {"mock": mock.process.pid, "upstream": upstream.process.pid}
            for repeat in range(repeats):
                alone, alone_cpu = loaded(wrk, upstream_spec, upstream, connections, duration_s,
                                          {"upstream": upstream.process.pid})
                proxied, proxied_cpu = loaded(wrk, mock_spec, mock, connections, duration_s, watch)
                replies = proxied.requests
                mock_us = proxied_cpu["mock"] / replies * 1e6 if replies else float("nan")
                rounds.append({
                    "repeat": repeat + 1, "upstream_alone": alone.as_dict(), "through_mock": proxied.as_dict(),
                    "upstream_alone_cpu_s": alone_cpu["upstream"], "mock_cpu_s": proxied_cpu["mock"],
                    "upstream_cpu_s_while_proxied": proxied_cpu["upstream"],
                    "mock_cpu_us_per_reply": mock_us,
                    "upstream_cpu_us_per_request_alone": alone_cpu["upstream"] / alone.requests * 1e6
                    if alone.requests else float("nan"),
                    "upstream_alone_rps": alone.rps, "through_mock_rps": proxied.rps,
                    "throughput_ratio": proxied.rps / alone.rps if alone.rps else float("nan")})
                errors = proxied.non_2xx + proxied.socket_errors + alone.non_2xx + alone.socket_errors
                print(f"  [{repeat + 1}] upstream alone {alone.rps:>7.0f} req/s; through the mock {proxied.rps:>7.0f}"
                      f" req/s ({proxied.rps / alone.rps if alone.rps else float('nan'):.2f}x); mock CPU "
                      f"{proxied_cpu['mock']:.2f} s over {replies} replies = {mock_us:.0f} µs/reply"
                      + (f"; errors {errors}" if errors else ""), flush=True)
    return {"rounds": rounds, "sanity": sanity, "mock_idle_cpu_s_per_s": idle, **summary(rounds)}


def summary(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and min–max) of the per-repeat figures; the target judged on the median."""
    def spread(key: str) -> dict[str, float]:
        values = [float(r[key]) for r in rounds]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}
    if not rounds:
        return {}
    cpu = spread("mock_cpu_us_per_reply")
    return {"mock_cpu_us_per_reply": cpu, "throughput_ratio": spread("throughput_ratio"),
            "upstream_alone_rps": spread("upstream_alone_rps"), "through_mock_rps": spread("through_mock_rps"),
            "target_us": TARGET_US, "met": cpu["median"] <= TARGET_US}


def render(report: dict[str, Any]) -> str:
    cpu, ratio = report["mock_cpu_us_per_reply"], report["throughput_ratio"]
    alone, proxied = report["upstream_alone_rps"], report["through_mock_rps"]
    n = len(report["rounds"])
    return "\n".join([
        f"Proxy mode (crosmos-mock --upstream, the FastAPI reference behind it), distinct windows, "
        f"{report['settings']['connections']} connections, {report['settings']['duration_s']:g} s, median of {n}:",
        f"  mock CPU per reply judged: {cpu['median']:.0f} µs (min {cpu['min']:.0f}, max {cpu['max']:.0f}); "
        f"target <= {TARGET_US:.0f} µs: {'met' if report['met'] else 'NOT met'}",
        f"  throughput through the mock / upstream alone: {ratio['median']:.2f}x "
        f"({ratio['min']:.2f}–{ratio['max']:.2f}); {proxied['median']:,.0f} vs {alone['median']:,.0f} req/s "
        f"(context: mock, upstream and wrk share {report['environment']['cpus']} cores)",
        f"  mock idle CPU: {report['mock_idle_cpu_s_per_s'] * 1e3:.1f} ms/s (counted in the figure above)"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of wrk on each server first (0: none)")
    parser.add_argument("--smoke", action="store_true", help="2 s runs, 1 repeat, 1 s warm-up")
    parser.add_argument("--out", type=Path, default=None, help="JSON (default: bench/results/proxy-cpu-<time>.json)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.repeats, args.warmup = 2.0, 1, 1.0
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"proxy-cpu-{stamp}.json"
    from bench.run import environment

    env = environment()
    print(f"proxy mode: {args.connections} connections, {args.duration:g} s × {args.repeats}, load average "
          f"{', '.join(f'{x:.2f}' for x in env['loadavg'])}", flush=True)
    measured = measure(args.connections, args.duration, args.repeats, args.warmup, RESULTS / "logs" / stamp)
    report = {"environment": env, "settings": {"connections": args.connections, "duration_s": args.duration,
                                                "repeats": args.repeats, "warmup_s": args.warmup,
                                                "workload": "distinct", "upstream": servers.REFERENCE.description},
              **measured}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print("\n" + render(report))
    print(f"wrote {out.relative_to(servers.ROOT) if out.is_relative_to(servers.ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

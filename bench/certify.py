"""Time a certification run against local servers, beside plain schemathesis, and the mock's cold start.

The suite's cost over plain ``st run`` is its probes and its own checks; comparing both on the
same server with the same number of generated cases shows that overhead. Each run is bounded
by a timeout, and every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import servers

RUN_TIMEOUT_S = 300.0
SEED = 42
COLD_START_TARGET_S = 0.5


def _script(name: str) -> str:
    """A console script of this virtual environment (``crosmos-conformance``, ``st``)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed in this environment")
    return found


def cold_starts(repeats: int, log_dir: Path) -> dict[str, Any]:
    """Process start to first 200 of ``crosmos-mock`` (imports, contract load, server fork), repeated.

    One start before the counted ones is not counted: it warms the OS's file cache and, on a first
    run, the contract verdict cache (``crosmos_contract.verdicts``), as a user's second start finds
    them. Each counted start is followed by one with ``--no-contract-cache`` (the contract checked by
    openapi-spec-validator, as on a first start or after an edit), reported beside it.
    """
    mock = servers.LOAD_SERVERS["mock"]
    uncached = dataclasses.replace(mock, name="mock-no-contract-cache",
                                   command=lambda port: [*mock.command(port), "--no-contract-cache"])
    times: list[float] = []
    uncached_times: list[float] = []
    for index in range(repeats + 1):
        for spec, into in ((mock, times), (uncached, uncached_times)):
            with servers.started(spec, log_dir, timeout=30.0, poll=0.005) as running:
                if index:
                    into.append(running.ready_after_s)
    return {"runs_s": times, "median_s": _median(times), "target_s": COLD_START_TARGET_S,
            "uncached_runs_s": uncached_times, "uncached_median_s": _median(uncached_times)}


def certify_once(base_url: str, token: str, profile: str) -> dict[str, Any]:
    """One ``crosmos-conformance run``; wall time, exit code and what its JSON report says it did."""
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        # ``crosmos-conformance`` of *this* tree (the console script would import the installed copy)
        command = [sys.executable, "-c", "from conformance.cli import main; main(prog_name='crosmos-conformance')",
                   "run", "--base-url", base_url, "--token", token, "--profile", profile, "--seed", str(SEED),
                   "--json", str(report_path)]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
                              cwd=tmp, env={**os.environ, "PYTHONPATH": str(servers.ROOT)})
        elapsed = time.perf_counter() - began
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
    outcome: dict[str, Any] = {"wall_s": elapsed, "exit_code": done.returncode,
                               "generated_cases": _find(report, "generated_cases"),
                               "requests": _find(report, "requests"), "verdict": _find(report, "verdict")}
    if done.returncode not in (0, 1):
        outcome["error"] = (done.stderr.strip() or done.stdout.strip())[-600:]
    return outcome


def st_once(base_url: str, token: str, max_examples: int) -> dict[str, Any]:
    """Plain ``st run`` (schemathesis' CLI: default phases and checks) with ``max_examples`` cases.

    ``--continue-on-failure``: st stops at its first (false) alarm otherwise, after a handful of
    cases, and the comparison would be empty.
    """
    command = [_script("st"), "run", str(servers.CONTRACT), "--url", base_url, "--header",
               f"Authorization: Bearer {token}", "--max-examples", str(max_examples), "--seed", str(SEED),
               "--continue-on-failure", "--no-color", "--warnings", "off"]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:  # st reads a schemathesis.toml from its working directory
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False, cwd=tmp)
    elapsed = time.perf_counter() - began
    cases = re.search(r"(\d+)\s+generated", done.stdout)
    outcome: dict[str, Any] = {"wall_s": elapsed, "exit_code": done.returncode,
                               "generated_cases": int(cases.group(1)) if cases else None}
    if done.returncode not in (0, 1):
        outcome["error"] = (done.stderr.strip() or done.stdout.strip())[-600:]
    return outcome


def _find(data: Any, key: str) -> Any:
    """The first value under ``key`` anywhere in a JSON document (the report's layout may evolve)."""
    if isinstance(data, Mapping):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find(value, key)
            if found is not None:
                return found
    elif isinstance(data, list):
        for value in data:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def certification(target: servers.ServerSpec, profiles: Sequence[str], log_dir: Path) -> dict[str, Any]:
    """Each profile against ``target`` (freshly started), each followed by ``st run`` with as many cases."""
    results: dict[str, Any] = {}
    with servers.started(target, log_dir) as running:
        for profile in profiles:
            print(f"  certify {target.name} --profile {profile}", flush=True)
            suite = certify_once(running.base_url, target.token, profile)
            entry: dict[str, Any] = {"suite": suite}
            cases = suite.get("generated_cases")
            if isinstance(cases, int) and cases > 0:
                print(f"  st run {target.name} --max-examples {cases}", flush=True)
                entry["st"] = st_once(running.base_url, target.token, cases)
                entry["overhead"] = suite["wall_s"] / entry["st"]["wall_s"]
            results[profile] = entry
    return results


def run_all(profiles: Sequence[str], cold_start_repeats: int, log_dir: Path) -> dict[str, Any]:
    print(f"cold start of the mock × {cold_start_repeats}", flush=True)
    report: dict[str, Any] = {"cold_start": cold_starts(cold_start_repeats, log_dir), "runs": {}}
    for target in (servers.LOAD_SERVERS["mock"], servers.REFERENCE):
        try:
            report["runs"][target.name] = certification(target, profiles, log_dir)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            report["runs"][target.name] = {"error": str(exc)}
    report["targets"] = {"quick_s": 15.0, "standard_s": 60.0, "overhead_vs_st": 1.3}
    return report


def render(report: Mapping[str, Any]) -> str:
    """Markdown lines for the console and docs/performance.md."""
    cold = report["cold_start"]
    lines = [f"Cold start of crosmos-mock (process start to first 200): median {cold['median_s']:.2f} s over "
             f"{len(cold['runs_s'])} (target < {cold['target_s']:g} s: "
             f"{'met' if cold['median_s'] < cold['target_s'] else '**not met**'})"
             + (f"; with --no-contract-cache (the contract validated): median {cold['uncached_median_s']:.2f} s"
                if "uncached_median_s" in cold else ""), "",
             "| target | profile | suite wall s | generated cases | requests | verdict | st run s (same cases) "
             "| suite / st | budget |", "|---|---|---|---|---|---|---|---|---|"]
    budgets = {"quick": 15.0, "standard": 60.0}
    for target, by_profile in report["runs"].items():
        if "error" in by_profile:
            lines.append(f"| {target} | – | error: {by_profile['error']} | | | | | | |")
            continue
        for profile, entry in by_profile.items():
            suite, st = entry["suite"], entry.get("st", {})
            budget = budgets.get(profile)
            met = "" if budget is None else ("met" if suite["wall_s"] < budget and suite["exit_code"] in (0, 1)
                                             else "**not met**")
            suite_cell = f"{suite['wall_s']:.1f}" + (f" (exit {suite['exit_code']})" if suite["exit_code"] else "")
            st_cell = f"{st['wall_s']:.1f} ({st.get('generated_cases')} cases)" if st else "–"
            overhead = f"{entry['overhead']:.2f}" if "overhead" in entry else "–"
            lines.append(f"| {target} | {profile} | {suite_cell} | {suite.get('generated_cases')} | "
                         f"{suite.get('requests')} | {suite.get('verdict')} | {st_cell} | {overhead} | {met} |")
            if "error" in suite:
                lines.append(f"|  | error | {suite['error'][:200]!r} | | | | | | |")
    return "\n".join(lines)

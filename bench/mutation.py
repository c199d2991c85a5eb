"""Mutation benchmark: how many mutants of the FastAPI reference does the conformance suite kill?

    python -m bench.mutation                      # every mutant, 2 jobs (docs/mutation.md)
    python -m bench.mutation --sample 20 --jobs 1 # a quick look at 20 of them
    python -m bench.mutation --out reports/mutation --profile quick --seed 20261125

cosmic-ray's core operators make the mutants of ``tests/servers/reference.py`` (its ``init``
walks the AST; ``mutate_code`` gives each mutant's source). Only mutations inside the bodies of the
reference's domain functions are kept: no imports, decorators, signatures, module-level data or
app wiring (:data:`WIRING`). Each mutant is written to a private temporary directory (the
file in the repository is never touched, so other test runs are unaffected) and tested by a
subprocess of this module (``--run-mutant FILE``) that imports it, serves it with uvicorn on
127.0.0.1 (an ephemeral, pre-bound port, a bounded start wait) and runs ``crosmos-conformance
run --level full`` against it with a fixed profile and seed:

* suite exit 0: the mutant **survived**; exit 1: **killed**;
* suite exit 2 (nothing could be certified), a mutant that fails to import or to start: **incompetent**;
* no verdict within the per-mutant timeout: **timed out** (the whole process group is killed).

Outcomes go to ``OUT/mutation.json`` and ``OUT/mutation.md`` (each survivor with file:line,
operator and diff), and into a cosmic-ray session (``OUT/session.sqlite``) so ``cr-report`` works.
The triage of survivors lives in ``bench/mutation_triage.json``; the score is printed with and
without counting the behaviour changes no catalogue rule forbids as equivalent.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import contextlib
import difflib
import hashlib
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tests" / "servers" / "reference.py"
TRIAGE = ROOT / "bench" / "mutation_triage.json"
DEFAULT_OUT = ROOT / "reports" / "mutation"
DEFAULT_PROFILE = "quick"
DEFAULT_SEED = 20261125
WIRING = frozenset({"create_app", "contract_openapi"})
"""Functions that build the FastAPI app (title, routes, the /openapi.json shape): boilerplate."""

START_TIMEOUT_S = 15.0
SUITE_BUDGET_S = 120
"""Passed as ``--budget``: profiles are counts, and a busy machine must not cut a run short (the
quick profile's own cap is 30 s); each outcome records the run's ``stop_reason``."""
SUITE_TIMEOUT_S = SUITE_BUDGET_S + 30.0  # catches a hang only
MUTANT_TIMEOUT_S = SUITE_TIMEOUT_S + START_TIMEOUT_S + 30.0

EXIT_SURVIVED, EXIT_KILLED, EXIT_USAGE, EXIT_NO_SERVER = 0, 1, 2, 3
KILLED, SURVIVED, TIMED_OUT, INCOMPETENT = "killed", "survived", "timed out", "incompetent"
# Triage verdicts (bench/mutation_triage.json): "equivalent" (no observable behaviour changes, or
# only code the reference never runs), "unforbidden" (observable, but no catalogue rule forbids
# it), "gap" (a rule forbids it; the suite did not send what would show it).
EQUIVALENT, UNFORBIDDEN, GAP = "equivalent", "unforbidden", "gap"


@dataclass(frozen=True)
class Mutant:
    id: str  # function/operator/occurrence: stable while reference.py is unchanged
    operator: str
    occurrence: int
    function: str
    line: int
    original: str  # the mutated line before and after, to spot a stale triage entry
    mutated: str
    diff: str
    job_id: str = field(compare=False)

    @property
    def location(self) -> str:
        return f"tests/servers/reference.py:{self.line}"


@dataclass
class Outcome:
    mutant: Mutant
    status: str
    exit_code: int | None
    seconds: float
    failed_checks: list[str]
    detail: str = ""
    stop_reason: str = ""


# --- mutants -----------------------------------------------------------------------------------

def _domain_spans(source: str) -> list[tuple[str, int, int]]:
    """(name, first body line, last line) of every function whose body is domain code.

    The span starts after the docstring and excludes decorators and the signature, so defaults
    and FastAPI's parameter declarations are never mutated.
    """
    spans = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name in WIRING:
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        if body:
            spans.append((node.name, body[0].lineno, node.end_lineno or body[-1].lineno))
    return spans


def _wired_functions(source: str) -> list[tuple[int, int]]:
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in WIRING:
            spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def generate_mutants(target: Path, session: Path) -> tuple[list[Mutant], int]:
    """cosmic-ray's mutants of ``target`` inside domain function bodies, and how many it made in all.

    The cosmic-ray session is written to ``session`` (every work item; those outside the domain
    are marked skipped).
    """
    from cosmic_ray.commands.init import init
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    source = target.read_text(encoding="utf-8")
    lines = source.splitlines()
    spans = _domain_spans(source)
    wired = _wired_functions(source)
    session.unlink(missing_ok=True)
    mutants: list[Mutant] = []
    with use_db(str(session), WorkDB.Mode.create) as db:
        init([target], db, {})
        items = list(db.work_items)
        for item in items:
            (spec,) = item.mutations
            line = spec.start_pos[0]
            # innermost enclosing domain function; a line inside create_app is wiring
            owners = [s for s in spans if s[1] <= line <= s[2]]
            if not owners or any(a <= line <= b for a, b in wired):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                      output="outside the reference's domain functions"))
                continue
            function = min(owners, key=lambda s: s[2] - s[1])[0]
            mutated = mutate_code(source, get_operator(spec.operator_name)(**spec.operator_args), spec.occurrence)
            if mutated is None:
                continue
            new_lines = mutated.splitlines()
            diff = "".join(difflib.unified_diff(
                [f"{x}\n" for x in lines], [f"{x}\n" for x in new_lines],
                "a/tests/servers/reference.py", "b/tests/servers/reference.py", n=1))
            changed = next((i for i, (a, b) in enumerate(zip(lines, new_lines, strict=False)) if a != b),
                           line - 1)
            mutants.append(Mutant(
                id=f"{function}/{spec.operator_name.removeprefix('core/')}/{spec.occurrence}",
                operator=spec.operator_name, occurrence=spec.occurrence, function=function, line=line,
                original=lines[changed].strip() if changed < len(lines) else "",
                mutated=new_lines[changed].strip() if changed < len(new_lines) else "",
                diff=diff, job_id=item.job_id))
    mutants.sort(key=lambda m: (m.line, m.operator, m.occurrence))
    return mutants, len(items)


def _mutated_source(mutant: Mutant, source: str) -> str:
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    mutated = mutate_code(source, get_operator(mutant.operator)(), mutant.occurrence)
    assert mutated is not None
    return str(mutated)


# --- one mutant (the "test command") -----------------------------------------------------------

def run_mutant(path: Path, profile: str, seed: int, report: Path) -> int:
    """Import the module at ``path``, serve its app on 127.0.0.1, certify it; the suite's exit code.

    3 when the mutant cannot be imported or served.
    """
    from tests.servers.reference import REFERENCE_TOKEN
    from tests.servers.running import ServerStartError, serve_app

    try:
        spec = importlib.util.spec_from_file_location("crosmos_mutant", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        app = module.create_app()
    except Exception as exc:  # any import-time failure makes the mutant incompetent
        print(f"mutant does not import: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_NO_SERVER
    try:
        with serve_app(app, start_timeout=START_TIMEOUT_S) as url:
            env = {**os.environ, "CROSMOS_TOKEN": REFERENCE_TOKEN}  # a test token, kept out of argv anyway
            command = [sys.executable, "-m", "conformance.cli", "run", "--base-url", url, "--profile", profile,
                       "--level", "full", "--seed", str(seed), "--budget", str(SUITE_BUDGET_S), "--json", str(report),
                       "--no-progress"]
            try:
                return subprocess.run(command, env=env, cwd=ROOT, timeout=SUITE_TIMEOUT_S, check=False,
                                      stdout=subprocess.DEVNULL).returncode
            except subprocess.TimeoutExpired:
                print(f"suite gave no verdict within {SUITE_TIMEOUT_S:g} s", file=sys.stderr)
                return 124
    except ServerStartError as exc:
        print(f"mutant does not serve: {exc}", file=sys.stderr)
        return EXIT_NO_SERVER


def test_one(mutant: Mutant | None, source: str, profile: str, seed: int, work: Path) -> Outcome:
    """Write the mutant to ``work``, run ``--run-mutant`` on it in its own process group, classify."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "reference_mutant.py"
    path.write_text(source if mutant is None else _mutated_source(mutant, source), encoding="utf-8")
    report = work / "conformance.json"
    log = work / "log.txt"
    command = [sys.executable, "-m", "bench.mutation", "--run-mutant", str(path), "--profile", profile,
               "--seed", str(seed), "--report", str(report)]
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code: int | None = proc.wait(MUTANT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the server thread and the suite with it
            proc.wait(10)
    seconds = time.monotonic() - started
    failed: list[str] = []
    stop_reason = ""
    if report.exists():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            data = json.loads(report.read_text(encoding="utf-8"))
            failed = sorted(data["failed_ids"])
            stop_reason = str(data.get("stop_reason", ""))
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    if code is None or code == 124:
        status = TIMED_OUT
    elif code == EXIT_SURVIVED:
        status = SURVIVED
    elif code == EXIT_KILLED:
        status = KILLED
    else:
        status = INCOMPETENT
    dummy = Mutant("baseline", "", 0, "", 0, "", "", "", "") if mutant is None else mutant
    return Outcome(dummy, status, code, round(seconds, 1), failed, " / ".join(tail) if status != KILLED else "",
                   stop_reason)


# --- the run -----------------------------------------------------------------------------------

def load_triage(mutants: list[Mutant]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Triage entries that still match their mutant (same id, same mutated line), and stale ids."""
    if not TRIAGE.exists():
        return {}, []
    entries: dict[str, dict[str, str]] = json.loads(TRIAGE.read_text(encoding="utf-8"))
    by_id = {m.id: m for m in mutants}
    fresh, stale = {}, []
    for key, entry in entries.items():
        mutant = by_id.get(key)
        if mutant is not None and entry.get("mutated") == mutant.mutated:
            fresh[key] = entry
        else:
            stale.append(key)
    return fresh, stale


def score(outcomes: list[Outcome], triage: dict[str, dict[str, str]], excluded: set[str]) -> dict[str, Any]:
    counts = Counter(o.status for o in outcomes)
    equivalent = sum(1 for o in outcomes if o.status == SURVIVED and triage.get(o.mutant.id, {}).get("verdict")
                     in excluded)
    denominator = len(outcomes) - counts[INCOMPETENT] - equivalent
    return {"equivalent": equivalent, "denominator": denominator,
            "score": round(counts[KILLED] / denominator, 4) if denominator else None}


def summarise(outcomes: list[Outcome], triage: dict[str, dict[str, str]], meta: dict[str, Any]) -> dict[str, Any]:
    counts = Counter(o.status for o in outcomes)
    return {
        **meta,
        "counts": {k: counts[k] for k in (KILLED, SURVIVED, TIMED_OUT, INCOMPETENT)},
        "total": len(outcomes),
        "score_raw": score(outcomes, triage, set()),
        "score_equivalent_only": score(outcomes, triage, {EQUIVALENT}),
        "score_unforbidden_as_equivalent": score(outcomes, triage, {EQUIVALENT, UNFORBIDDEN}),
        "mutants": [{**asdict(o.mutant), "location": o.mutant.location, "status": o.status,
                     "exit_code": o.exit_code, "seconds": o.seconds, "failed_checks": o.failed_checks,
                     "detail": o.detail, "stop_reason": o.stop_reason, "triage": triage.get(o.mutant.id)}
                    for o in outcomes],
    }


def render_markdown(summary: dict[str, Any]) -> str:
    c = summary["counts"]
    lines = [
        "# Mutation benchmark", "",
        f"`{summary['command']}` at commit {summary['commit']}, {summary['finished']} "
        f"(profile `{summary['profile']}`, seed {summary['seed']}, level full, {summary['jobs']} jobs).", "",
        f"- mutants: {summary['total']} tested of {summary['domain_mutants']} in domain functions "
        f"({summary['all_mutants']} made by cosmic-ray over the whole file)",
        f"- killed {c[KILLED]}, survived {c[SURVIVED]}, timed out {c[TIMED_OUT]}, incompetent {c[INCOMPETENT]}",
    ]
    for key, label in (("score_raw", "no survivor equivalent"),
                       ("score_equivalent_only", "triaged equivalents excluded"),
                       ("score_unforbidden_as_equivalent", "equivalents and unforbidden changes excluded")):
        s = summary[key]
        value = "n/a" if s["score"] is None else f"{s['score']:.1%}"
        lines.append(f"- score ({label}): {c[KILLED]} / {s['denominator']} = {value}")
    lines += [f"- wall time: {summary['wall_seconds']:.0f} s", "", "## Survivors", ""]
    for m in summary["mutants"]:
        if m["status"] != SURVIVED:
            continue
        t = m["triage"] or {}
        lines += [f"### `{m['id']}` — {m['location']}, {m['operator']}", "",
                  f"Triage: **{t.get('verdict', 'untriaged')}**" + (f" — {t['why']}" if t.get("why") else ""), "",
                  "```diff", m["diff"].rstrip(), "```", ""]
    others = [m for m in summary["mutants"] if m["status"] in (TIMED_OUT, INCOMPETENT)]
    if others:
        lines += ["## Timed out and incompetent", ""]
        lines += [f"- `{m['id']}` ({m['location']}): {m['status']}, exit {m['exit_code']}: "
                  f"`{m['mutated']}` — {m['detail'][:300]}" for m in others]
        lines.append("")
    lines += ["## Killed", "", "| mutant | line | mutated line | failed checks |", "|---|---|---|---|"]
    lines += [f"| `{m['id']}` | {m['line']} | `{m['mutated']}` | {', '.join(m['failed_checks'])} |"
              for m in summary["mutants"] if m["status"] == KILLED]
    return "\n".join(lines) + "\n"


def _record(session: Path, outcomes: list[Outcome]) -> None:
    """Results into the cosmic-ray session, so ``cr-report session.sqlite`` shows them too."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    mapping = {KILLED: TestOutcome.KILLED, SURVIVED: TestOutcome.SURVIVED, INCOMPETENT: TestOutcome.INCOMPETENT}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for o in outcomes:
            if o.status == TIMED_OUT:
                result = WorkResult(worker_outcome=WorkerOutcome.ABNORMAL, output="timed out", diff=o.mutant.diff)
            else:
                result = WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=mapping[o.status],
                                    output=", ".join(o.failed_checks) or o.detail, diff=o.mutant.diff)
            db.set_result(o.mutant.job_id, result)


def _commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    return "unknown"


def _write(out: Path, outcomes: list[Outcome], meta: dict[str, Any]) -> None:
    """Apply the triage, write OUT/mutation.json and OUT/mutation.md, print the figures."""
    triage, stale = load_triage([o.mutant for o in outcomes])
    summary = summarise(outcomes, triage, {**meta, "stale_triage": stale})
    (out / "mutation.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "mutation.md").write_text(render_markdown(summary), encoding="utf-8")
    c = summary["counts"]
    print(f"\nkilled {c[KILLED]}, survived {c[SURVIVED]}, timed out {c[TIMED_OUT]}, incompetent {c[INCOMPETENT]} "
          f"(of {len(outcomes)})")
    for key, label in (("score_raw", "untriaged"), ("score_equivalent_only", "equivalents excluded"),
                       ("score_unforbidden_as_equivalent", "equivalents + unforbidden excluded")):
        s = summary[key]
        value = "n/a" if s["score"] is None else f"{s['score']:.1%}"
        print(f"score ({label}): {c[KILLED]} / {s['denominator']} = {value}")
    untriaged = [o.mutant.id for o in outcomes if o.status == SURVIVED and o.mutant.id not in triage]
    if untriaged:
        print(f"{len(untriaged)} survivors not triaged in {TRIAGE.relative_to(ROOT)}")
    if stale:
        print(f"{len(stale)} triage entries match no mutant of this run (reference.py changed, or a --sample run)")
    print(f"wall time {meta['wall_seconds']:.0f} s; reports in {out}/mutation.md and mutation.json")


def rescore(out: Path) -> int:
    """Re-apply bench/mutation_triage.json to a finished run's OUT/mutation.json (no mutant is re-run)."""
    data = json.loads((out / "mutation.json").read_text(encoding="utf-8"))
    names = {f.name for f in Mutant.__dataclass_fields__.values()}
    outcomes = [Outcome(Mutant(**{k: v for k, v in m.items() if k in names}), m["status"], m["exit_code"],
                        m["seconds"], m["failed_checks"], m["detail"], m.get("stop_reason", ""))
                for m in data["mutants"]]
    meta = {k: v for k, v in data.items() if k not in ("counts", "total", "mutants", "stale_triage")
            and not k.startswith("score_")}
    _write(out, outcomes, meta)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, metavar="N", help="test N mutants drawn with --seed (default: all)")
    parser.add_argument("--jobs", type=int, default=2, metavar="J", help="mutants tested at once (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="where reports go")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=("smoke", "quick", "standard"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the suite's seed (and the sample's)")
    parser.add_argument("--rescore", action="store_true",
                        help="re-apply the triage to the run in --out without testing anything")
    parser.add_argument("--run-mutant", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_mutant is not None:
        return run_mutant(args.run_mutant, args.profile, args.seed, args.report)
    if args.rescore:
        return rescore(args.out.resolve())
    if not 1 <= args.jobs <= 8:
        parser.error("--jobs must be between 1 and 8")

    started = time.monotonic()
    commit = _commit()  # at the start: the code that ran, not what HEAD became meanwhile
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = TARGET.read_text(encoding="utf-8")
    session = out / "session.sqlite"
    mutants, made = generate_mutants(TARGET, session)
    domain = len(mutants)
    if args.sample is not None and args.sample < domain:
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: m.line)
    print(f"cosmic-ray made {made} mutants of {TARGET.relative_to(ROOT)}; {domain} in domain functions; "
          f"testing {len(mutants)} with profile {args.profile}, seed {args.seed}, {args.jobs} jobs", flush=True)

    with tempfile.TemporaryDirectory(prefix="crosmos-mutation-") as tmp:
        baseline = test_one(None, source, args.profile, args.seed, Path(tmp) / "baseline")
        if baseline.status != SURVIVED:
            print(f"the unmutated reference is not conformant ({baseline.status}, exit {baseline.exit_code}, "
                  f"{baseline.failed_checks}): {baseline.detail}", file=sys.stderr)
            return 2
        print(f"baseline: the unmutated reference passes in {baseline.seconds:.1f} s", flush=True)
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def one(index: int, mutant: Mutant) -> Outcome:
            outcome = test_one(mutant, source, args.profile, args.seed, Path(tmp) / f"m{index:03d}")
            with lock:
                outcomes.append(outcome)
                print(f"[{len(outcomes):3d}/{len(mutants)}] {outcome.status:11s} {outcome.seconds:5.1f} s  "
                      f"{mutant.location} {mutant.id}: {mutant.mutated}", flush=True)
            return outcome

        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(one, range(len(mutants)), mutants))
    outcomes.sort(key=lambda o: (o.mutant.line, o.mutant.operator, o.mutant.occurrence))
    _record(session, outcomes)

    wall = time.monotonic() - started
    command = "python -m bench.mutation " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {"command": command.strip(), "commit": commit,
            "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "profile": args.profile, "seed": args.seed, "jobs": args.jobs, "sample": args.sample,
            "all_mutants": made, "domain_mutants": domain, "wall_seconds": round(wall, 1),
            "baseline_seconds": baseline.seconds,
            "target_sha256": hashlib.sha256(source.encode()).hexdigest()}
    _write(out, outcomes, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())

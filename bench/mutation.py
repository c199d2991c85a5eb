"""Mutation benchmark: how many mutants of a reference server does the conformance suite kill?

    python -m bench.mutation                          # the FastAPI reference, every mutant, 2 jobs
    python -m bench.mutation --reference independent  # the independent Starlette reference (a seeded sample)
    python -m bench.mutation --reference both         # both, one after the other (what `make mutation` runs)
    python -m bench.mutation --sample 20 --jobs 1     # a quick look at 20 of them
    python -m bench.mutation --out reports/mutation --profile quick --seed 20261125

Two references can be mutated (:data:`TARGETS`, docs/mutation.md): ``tests/servers/reference.py``,
the FastAPI reference written beside the suite, and ``tests/servers/independent.py``, written
from the contract alone. cosmic-ray's core operators make the mutants of the file (its ``init``
walks the AST; ``mutate_code`` gives each mutant's source). Only mutations inside the bodies of
the file's domain functions are kept: no imports, decorators, signatures, module-level data or
app wiring (``Target.wiring``); for the independent reference, only on lines the unmutated server
executed while the suite certified it (traced during the baseline run). Each mutant is written to
a private temporary directory (the file in the repository is never touched, so other test runs
are unaffected) and tested by a subprocess of this module (``--run-mutant FILE``) that imports it,
serves it with uvicorn on 127.0.0.1 (an ephemeral, pre-bound port, a bounded start wait) and runs
``crosmos-conformance run --level full`` against it with a fixed profile and seed:

* suite exit 0: the mutant **survived**; exit 1: **killed**;
* suite exit 2 (nothing could be certified), a mutant that fails to import or to start: **incompetent**;
* no verdict within the per-mutant timeout: **timed out** (the whole process group is killed); a
  verdict the suite wrote before that stands (a mutant's server thread stuck in one long C call
  holds the GIL, and the process cannot end after the suite has).

Outcomes go to ``OUT/mutation.json`` and ``OUT/mutation.md`` (each survivor with file:line,
operator and diff), and into a cosmic-ray session (``OUT/session.sqlite``) so ``cr-report`` works.
The triage of survivors lives in ``bench/mutation_triage.json`` (the FastAPI reference) and
``bench/mutation_triage_independent.json``; the score is printed with and without counting the
behaviour changes no catalogue rule forbids as equivalent.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROFILE = "quick"
DEFAULT_SEED = 20261125
DEFAULT_INDEPENDENT_SAMPLE = 300
"""The independent reference makes several times the FastAPI reference's mutants (its calendar,
JWT and ledger are hand-written): a seeded sample keeps both runs together under ~45 min on 2 cores."""


@dataclass(frozen=True)
class Target:
    """A server file the benchmark mutates, and how."""

    name: str
    path: Path
    token: str  # "module:CONSTANT", read from the unmutated module
    triage: Path
    out: Path  # the default report directory
    wiring: frozenset[str]  # functions that only build the app: boilerplate, never mutated
    executed_only: bool  # keep only mutants on lines the suite made the unmutated server execute
    default_sample: int | None  # mutants drawn with the seed when --sample is not given (None: all)
    title: str
    # Further credentials the server issued, "module:function" called in the unmutated module: the
    # suite is given them as more --token values (an API key and a JWT, as a user with both would).
    more_credentials: tuple[str, ...] = ()

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


TARGETS: dict[str, Target] = {
    "reference": Target(
        "reference", ROOT / "tests" / "servers" / "reference.py", "tests.servers.reference:REFERENCE_TOKEN",
        ROOT / "bench" / "mutation_triage.json", ROOT / "reports" / "mutation",
        # title, routes, the /openapi.json shape
        frozenset({"create_app", "contract_openapi"}), executed_only=False, default_sample=None,
        title="the FastAPI reference"),
    "independent": Target(
        "independent", ROOT / "tests" / "servers" / "independent.py", "tests.servers.independent:INDEPENDENT_TOKEN",
        ROOT / "bench" / "mutation_triage_independent.json", ROOT / "reports" / "mutation-independent",
        frozenset({"create_app"}), executed_only=True, default_sample=DEFAULT_INDEPENDENT_SAMPLE,
        title="the independent Starlette reference",
        more_credentials=("tests.servers.independent:team_jwt",)),
}

START_TIMEOUT_S = 15.0
SUITE_BUDGET_S = 120
"""Passed as ``--budget``: profiles are counts, and a busy machine must not cut a run short (the
quick profile's own cap is 30 s); each outcome records the run's ``stop_reason``."""
SUITE_TIMEOUT_S = SUITE_BUDGET_S + 30.0  # catches a hang only
MUTANT_TIMEOUT_S = SUITE_TIMEOUT_S + START_TIMEOUT_S + 30.0

EXIT_SURVIVED, EXIT_KILLED, EXIT_USAGE, EXIT_NO_SERVER = 0, 1, 2, 3
VERDICT_EXIT = {"conformant": EXIT_SURVIVED, "not conformant": EXIT_KILLED, "cannot certify": EXIT_USAGE,
                "incomplete": EXIT_USAGE}
"""The suite's JSON ``verdict`` and the exit code it stands for (conformance.result.SuiteResult)."""
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
    file: str = field(default="tests/servers/reference.py", compare=False)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


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

def _domain_spans(source: str, wiring: frozenset[str]) -> list[tuple[str, int, int]]:
    """(name, first body line, last line) of every function whose body is domain code.

    The span starts after the docstring and excludes decorators and the signature, so defaults
    and FastAPI's parameter declarations are never mutated.
    """
    spans = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name in wiring:
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        if body:
            spans.append((node.name, body[0].lineno, node.end_lineno or body[-1].lineno))
    return spans


def _wired_functions(source: str, wiring: frozenset[str]) -> list[tuple[int, int]]:
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in wiring:
            spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def generate_mutants(target: Target, session: Path, executed: set[int] | None = None) -> tuple[list[Mutant], int, int]:
    """cosmic-ray's mutants of ``target`` inside domain function bodies (and, given ``executed``,
    on those lines only); how many it made in all; how many were in domain function bodies.

    The cosmic-ray session is written to ``session`` (every work item; those left out are marked
    skipped).
    """
    from cosmic_ray.commands.init import init
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    source = target.path.read_text(encoding="utf-8")
    lines = source.splitlines()
    spans = _domain_spans(source, target.wiring)
    wired = _wired_functions(source, target.wiring)
    session.unlink(missing_ok=True)
    mutants: list[Mutant] = []
    domain = 0
    with use_db(str(session), WorkDB.Mode.create) as db:
        init([target.path], db, {})
        items = list(db.work_items)
        for item in items:
            (spec,) = item.mutations
            line = spec.start_pos[0]
            # innermost enclosing domain function; a line inside create_app is wiring
            owners = [s for s in spans if s[1] <= line <= s[2]]
            if not owners or any(a <= line <= b for a, b in wired):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                      output=f"outside {target.title}'s domain functions"))
                continue
            domain += 1
            if executed is not None and line not in executed:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                      output="a line the suite never made the server execute"))
                continue
            function = min(owners, key=lambda s: s[2] - s[1])[0]
            mutated = mutate_code(source, get_operator(spec.operator_name)(**spec.operator_args), spec.occurrence)
            if mutated is None:
                continue
            new_lines = mutated.splitlines()
            diff = "".join(difflib.unified_diff(
                [f"{x}\n" for x in lines], [f"{x}\n" for x in new_lines],
                f"a/{target.relative}", f"b/{target.relative}", n=1))
            changed = next((i for i, (a, b) in enumerate(zip(lines, new_lines, strict=False)) if a != b),
                           line - 1)
            mutants.append(Mutant(
                id=f"{function}/{spec.operator_name.removeprefix('core/')}/{spec.occurrence}",
                operator=spec.operator_name, occurrence=spec.occurrence, function=function, line=line,
                original=lines[changed].strip() if changed < len(lines) else "",
                mutated=new_lines[changed].strip() if changed < len(new_lines) else "",
                diff=diff, job_id=item.job_id, file=target.relative))
    mutants.sort(key=lambda m: (m.line, m.operator, m.occurrence))
    return mutants, len(items), domain


def _mutated_source(mutant: Mutant, source: str) -> str:
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    mutated = mutate_code(source, get_operator(mutant.operator)(), mutant.occurrence)
    assert mutated is not None
    return str(mutated)


# --- one mutant (the "test command") -----------------------------------------------------------

def _token(target: Target) -> str:
    module, _, name = target.token.partition(":")
    return str(getattr(importlib.import_module(module), name))


class LineTracer:
    """The lines of one file that run, in every thread started after :meth:`start` (the server's)."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: set[int] = set()

    def _local(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        if event == "line":
            self.lines.add(frame.f_lineno)
        return self._local

    def _global(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if frame.f_code.co_filename != self.filename:
            return None
        self.lines.add(frame.f_lineno)
        return self._local

    def start(self) -> None:
        threading.settrace(self._global)
        sys.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)


def run_mutant(path: Path, target: Target, profile: str, seed: int, report: Path,
               trace: Path | None = None) -> int:
    """Import the module at ``path``, serve its app on 127.0.0.1, certify it; the suite's exit code.

    3 when the mutant cannot be imported or served. With ``trace``, the lines of ``path`` the
    server executed are written there (JSON), for the baseline run.
    """
    token = _token(target)  # from the unmutated module
    more = tuple(str(_call(name)) for name in target.more_credentials)
    tracer = LineTracer(str(path)) if trace is not None else None
    if tracer is not None:
        tracer.start()
    try:
        return _serve_and_certify(path, token, profile, seed, report, more)
    finally:
        if tracer is not None and trace is not None:
            tracer.stop()
            trace.write_text(json.dumps(sorted(tracer.lines)), encoding="utf-8")


def _call(name: str) -> object:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)()


def _serve_and_certify(path: Path, token: str, profile: str, seed: int, report: Path,
                       more: tuple[str, ...] = ()) -> int:
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
            env = {**os.environ, "CROSMOS_TOKEN": token}  # a test token, kept out of argv anyway
            command = [sys.executable, "-m", "conformance.cli", "run", "--base-url", url, "--profile", profile,
                       "--level", "full", "--seed", str(seed), "--budget", str(SUITE_BUDGET_S), "--json", str(report),
                       "--no-progress"]
            if more:  # test credentials, no secret: the first as --token too, since --token replaces the env
                command += ["--token", token, *(part for credential in more for part in ("--token", credential))]
            try:
                return subprocess.run(command, env=env, cwd=ROOT, timeout=SUITE_TIMEOUT_S, check=False,
                                      stdout=subprocess.DEVNULL).returncode
            except subprocess.TimeoutExpired:
                print(f"suite gave no verdict within {SUITE_TIMEOUT_S:g} s", file=sys.stderr)
                return 124
    except ServerStartError as exc:
        print(f"mutant does not serve: {exc}", file=sys.stderr)
        return EXIT_NO_SERVER


def test_one(mutant: Mutant | None, source: str, target: Target, profile: str, seed: int, work: Path,
             trace: Path | None = None) -> Outcome:
    """Write the mutant to ``work``, run ``--run-mutant`` on it in its own process group, classify."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{target.name}_mutant.py"
    path.write_text(source if mutant is None else _mutated_source(mutant, source), encoding="utf-8")
    report = work / "conformance.json"
    log = work / "log.txt"
    command = [sys.executable, "-m", "bench.mutation", "--run-mutant", str(path), "--reference", target.name,
               "--profile", profile, "--seed", str(seed), "--report", str(report)]
    if trace is not None:
        command += ["--trace-lines", str(trace)]
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
    verdict = ""
    if report.exists():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            data = json.loads(report.read_text(encoding="utf-8"))
            failed = sorted(data["failed_ids"])
            stop_reason = str(data.get("stop_reason", ""))
            verdict = str(data.get("verdict", ""))
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    if code is None and verdict in VERDICT_EXIT:
        # The suite wrote its verdict, but the process could not end: a mutant's server thread stuck
        # in one long C call (a huge ``**``) holds the GIL, so not even the main thread runs again.
        # The verdict stands; only the server was never going to stop.
        code = VERDICT_EXIT[verdict]
        tail.append(f"the suite's verdict ({verdict}) was written; the server held the process until it was killed")
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

def load_triage(mutants: list[Mutant], target: Target) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Triage entries that still match their mutant (same id, same mutated line), and stale ids."""
    if not target.triage.exists():
        return {}, []
    entries: dict[str, dict[str, str]] = json.loads(target.triage.read_text(encoding="utf-8"))
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
    file = summary.get("file", "tests/servers/reference.py")
    executed = summary.get("executed_mutants")
    on_lines = ("" if executed is None else f"; {executed} of them on lines the suite made the unmutated server run"
                + (", the only ones kept" if summary.get("executed_only") else ""))
    sample = f", a sample of {summary['total']} drawn with seed {summary['seed']}" if summary.get("sample") else ""
    lines = [
        f"# Mutation benchmark: {summary.get('title', 'the FastAPI reference')} (`{file}`)", "",
        f"`{summary['command']}` at commit {summary['commit']}, {summary['finished']} "
        f"(profile `{summary['profile']}`, seed {summary['seed']}, level full, {summary['jobs']} jobs).", "",
        f"- mutants: {summary['total']} tested; {summary['domain_mutants']} in domain functions{on_lines}"
        f"{sample} ({summary['all_mutants']} made by cosmic-ray over the whole file)",
        f"- killed {c[KILLED]}, survived {c[SURVIVED]}, timed out {c[TIMED_OUT]}, incompetent {c[INCOMPETENT]}",
    ]
    for key, label in (("score_raw", "no survivor equivalent"),
                       ("score_equivalent_only", "triaged equivalents excluded"),
                       ("score_unforbidden_as_equivalent", "equivalents and unforbidden changes excluded")):
        s = summary[key]
        value = "n/a" if s["score"] is None else f"{s['score']:.1%}"
        lines.append(f"- score ({label}): {c[KILLED]} / {s['denominator']} = {value}")
    verdicts = Counter((m["triage"] or {}).get("verdict", "untriaged") for m in summary["mutants"]
                       if m["status"] == SURVIVED)
    if verdicts:
        lines.append("- survivors by triage: " + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())))
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
    lines += [f"| `{m['id']}` | {m['line']} | `{_cell(m['mutated'])}` | {', '.join(m['failed_checks'])} |"
              for m in summary["mutants"] if m["status"] == KILLED]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


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


def _uncommitted() -> list[str]:
    """Files of the suite and the contract changed but not committed when the run started (others'
    work in progress runs too: the commit alone does not name the code that ran)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "conformance", "crosmos_contract"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return [line[3:] for line in out.splitlines() if line.strip()]
    return []


def _write(out: Path, outcomes: list[Outcome], meta: dict[str, Any], target: Target) -> dict[str, Any]:
    """Apply the triage, write OUT/mutation.json and OUT/mutation.md, print the figures."""
    triage, stale = load_triage([o.mutant for o in outcomes], target)
    summary = summarise(outcomes, triage, {**meta, "stale_triage": stale})
    (out / "mutation.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "mutation.md").write_text(render_markdown(summary), encoding="utf-8")
    c = summary["counts"]
    print(f"\n{target.title}: killed {c[KILLED]}, survived {c[SURVIVED]}, timed out {c[TIMED_OUT]}, "
          f"incompetent {c[INCOMPETENT]} (of {len(outcomes)})")
    for key, label in (("score_raw", "untriaged"), ("score_equivalent_only", "equivalents excluded"),
                       ("score_unforbidden_as_equivalent", "equivalents + unforbidden excluded")):
        s = summary[key]
        value = "n/a" if s["score"] is None else f"{s['score']:.1%}"
        print(f"score ({label}): {c[KILLED]} / {s['denominator']} = {value}")
    untriaged = [o.mutant.id for o in outcomes if o.status == SURVIVED and o.mutant.id not in triage]
    if untriaged:
        print(f"{len(untriaged)} survivors not triaged in {target.triage.relative_to(ROOT)}")
    if stale:
        print(f"{len(stale)} triage entries match no mutant of this run "
              f"({target.path.name} changed, or a --sample run)")
    print(f"wall time {meta['wall_seconds']:.0f} s; reports in {out}/mutation.md and mutation.json")
    return summary


def rescore(out: Path, target: Target) -> int:
    """Re-apply the target's triage to a finished run's OUT/mutation.json (no mutant is re-run)."""
    data = json.loads((out / "mutation.json").read_text(encoding="utf-8"))
    names = {f.name for f in Mutant.__dataclass_fields__.values()}
    outcomes = [Outcome(Mutant(**{k: v for k, v in m.items() if k in names}), m["status"], m["exit_code"],
                        m["seconds"], m["failed_checks"], m["detail"], m.get("stop_reason", ""))
                for m in data["mutants"]]
    meta = {k: v for k, v in data.items() if k not in ("counts", "total", "mutants", "stale_triage")
            and not k.startswith("score_")}
    _write(out, outcomes, meta, target)
    return 0


def run_target(target: Target, out: Path, args: argparse.Namespace, command: str) -> int:
    """Baseline (traced), mutants, one at a time per job; the reports in ``out``. 2 if the baseline fails."""
    started = time.monotonic()
    commit = _commit()  # at the start: the code that ran, not what HEAD became meanwhile
    uncommitted = _uncommitted()
    out.mkdir(parents=True, exist_ok=True)
    source = target.path.read_text(encoding="utf-8")
    session = out / "session.sqlite"
    with tempfile.TemporaryDirectory(prefix=f"crosmos-mutation-{target.name}-") as tmp:
        trace = Path(tmp) / "executed-lines.json"
        baseline = test_one(None, source, target, args.profile, args.seed, Path(tmp) / "baseline", trace=trace)
        if baseline.status != SURVIVED:
            print(f"{target.title} (unmutated) is not conformant ({baseline.status}, exit {baseline.exit_code}, "
                  f"{baseline.failed_checks}): {baseline.detail}", file=sys.stderr)
            return 2
        executed = set(json.loads(trace.read_text(encoding="utf-8")))
        print(f"baseline: {target.title} (unmutated) passes in {baseline.seconds:.1f} s (traced); "
              f"{len(executed)} lines of {target.relative} executed", flush=True)
        mutants, made, domain = generate_mutants(target, session, executed if target.executed_only else None)
        on_executed = sum(1 for m in mutants if m.line in executed)
        sample = target.default_sample if args.sample is None else (args.sample or None)
        kept = len(mutants)
        if sample is not None and sample < kept:
            mutants = sorted(random.Random(args.seed).sample(mutants, sample),
                             key=lambda m: (m.line, m.operator, m.occurrence))
        print(f"cosmic-ray made {made} mutants of {target.relative}; {domain} in domain functions, "
              f"{on_executed} of them on executed lines{' (kept)' if target.executed_only else ''}; "
              f"testing {len(mutants)}{f' (a sample drawn with seed {args.seed})' if len(mutants) < kept else ''} "
              f"with profile {args.profile}, seed {args.seed}, {args.jobs} jobs", flush=True)
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def one(index: int, mutant: Mutant) -> Outcome:
            outcome = test_one(mutant, source, target, args.profile, args.seed, Path(tmp) / f"m{index:03d}")
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
    meta = {"command": command, "reference": target.name, "title": target.title, "file": target.relative,
            "commit": commit, "uncommitted": uncommitted,
            "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "profile": args.profile, "seed": args.seed, "jobs": args.jobs,
            "sample": len(mutants) if len(mutants) < kept else None,
            "all_mutants": made, "domain_mutants": domain, "executed_mutants": on_executed,
            "executed_only": target.executed_only, "executed_lines": sorted(executed),
            "wall_seconds": round(wall, 1), "baseline_seconds": baseline.seconds,
            "target_sha256": hashlib.sha256(source.encode()).hexdigest()}
    _write(out, outcomes, meta, target)
    return 0


def _targets(choice: str) -> list[Target]:
    return list(TARGETS.values()) if choice == "both" else [TARGETS[choice]]


def _out(target: Target, given: Path | None, several: bool) -> Path:
    if given is None:
        return target.out
    return (given / target.name if several else given).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", choices=(*TARGETS, "both"), default="reference",
                        help="which reference to mutate: the FastAPI one written beside the suite (default), "
                             "the independent one written from the contract alone, or both in turn")
    parser.add_argument("--sample", type=int, metavar="N",
                        help=f"test N mutants drawn with --seed; 0: all (default: all of the FastAPI reference, "
                             f"{DEFAULT_INDEPENDENT_SAMPLE} of the independent one)")
    parser.add_argument("--jobs", type=int, default=2, metavar="J", help="mutants tested at once (default 2)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where reports go (default reports/mutation and reports/mutation-independent; "
                             "with --reference both, DIR/reference and DIR/independent)")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=("smoke", "quick", "standard"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the suite's seed (and the sample's)")
    parser.add_argument("--rescore", action="store_true",
                        help="re-apply the triage to the run in --out without testing anything")
    parser.add_argument("--run-mutant", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace-lines", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    targets = _targets(args.reference)
    if args.run_mutant is not None:
        if len(targets) != 1:
            parser.error("--run-mutant needs one --reference")
        return run_mutant(args.run_mutant, targets[0], args.profile, args.seed, args.report, args.trace_lines)
    several = len(targets) > 1
    if args.rescore:
        return max(rescore(_out(t, args.out, several), t) for t in targets)
    if not 1 <= args.jobs <= 8:
        parser.error("--jobs must be between 1 and 8")
    if args.sample is not None and args.sample < 0:
        parser.error("--sample must be 0 (all) or more")

    started = time.monotonic()
    command = ("python -m bench.mutation " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    codes = [run_target(t, _out(t, args.out, several), args, command) for t in targets]
    if several:
        print(f"\nboth references: wall time {time.monotonic() - started:.0f} s")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())

"""How one uncached ``GET /api/v1/usage`` travels between the project's modules.

    python -m bench.moves                 # the count, the modules, every call into another module, the path
                                          # and its top transitions
    python -m bench.moves --json PATH     # the same, also written as JSON

A *move* is a change of the current project module while the request runs: the sequence of
executed frames (calls, and returns to the caller) is followed with ``sys.settrace``, and the
current project module is the module of the innermost frame on the stack whose code lives in a
project package (``mockserver/`` and ``crosmos_contract/`` under the repository root; not
``.venv``, the standard library, tests or bench). Frames in other code are skipped: a call from
``mockserver.app`` into Flask that calls back into ``mockserver.app`` is no move, one that calls
back into ``mockserver.pipeline.stages`` is one move there and one move back. A generator resumed or
suspended is a call or a return like any other. While no project frame is on the stack (the
driver between calling the app and reading its body) the last project module stays current, so
leaving the project and coming back to the same module is no move.

Module names are dotted paths relative to the repository root (``mockserver/pipeline/stages.py``
is ``mockserver.pipeline.stages``; a package's ``__init__.py`` is the package), so the count
survives modules moving into subpackages.

The request is uncached: one warm-up request with another window first (so lazily built things,
compiled validators, exist), then the traced request names a window never asked before, so no
replayed reply, cached body or cached verdict can answer it. Logging is set up as ``crosmos-mock``
sets it up (its access line written, to /dev/null).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from bench import servers
from bench.profile import _environ, drain

PROJECT_PACKAGES = ("mockserver", "crosmos_contract")
WARMUP_QUERY = "start_date=2026-01-01&end_date=2026-01-31"
TRACED_QUERY = "start_date=2025-03-01&end_date=2025-03-17"
ARROW = " → "


class ProjectModules:
    """Which source files are project modules, and their dotted names (cached per file name)."""

    def __init__(self, root: Path | str, packages: Sequence[str] = PROJECT_PACKAGES) -> None:
        self.root = Path(os.path.realpath(root))
        self.packages = frozenset(packages)
        self._names: dict[str, str | None] = {}

    def name(self, filename: str) -> str | None:
        """``mockserver.stages`` for ``<root>/mockserver/stages.py``; None for any file outside the packages."""
        try:
            return self._names[filename]
        except KeyError:
            name = self._names[filename] = self._name(filename)
            return name

    def _name(self, filename: str) -> str | None:
        if not filename.endswith(".py") or filename.startswith("<"):
            return None  # frozen importlib, exec'd strings, C extensions
        try:
            relative = Path(os.path.realpath(filename)).relative_to(self.root)
        except ValueError:
            return None
        parts = list(relative.with_suffix("").parts)
        if len(parts) < 2 or parts[0] not in self.packages:  # a file in the root itself, or another folder
            return None
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)


@dataclass
class Moves:
    """The path through the project's modules: ``sequence`` has consecutive duplicates folded."""

    sequence: list[str] = field(default_factory=list)
    calls: int = 0  # project calls into a module other than the current one (each move there, not back)
    call_sites: list[tuple[str, str, str]] = field(default_factory=list)  # each such call: from, to, function

    @property
    def count(self) -> int:
        return max(len(self.sequence) - 1, 0)

    @property
    def modules(self) -> list[str]:
        """Distinct modules, in the order first touched."""
        return list(dict.fromkeys(self.sequence))

    @property
    def transitions(self) -> collections.Counter[tuple[str, str]]:
        return collections.Counter(zip(self.sequence, self.sequence[1:], strict=False))

    def report(self) -> dict[str, Any]:
        return {"moves": self.count, "cross_module_calls": self.calls, "distinct_modules": len(self.modules),
                "modules": self.modules,
                "calls": [{"from": a, "to": b, "function": f} for a, b, f in self.call_sites],
                "sequence": self.sequence,
                "transitions": [{"from": a, "to": b, "count": n} for (a, b), n in self.transitions.most_common()]}


def count_moves(call: Callable[[], Any], project: ProjectModules) -> tuple[Any, Moves]:
    """Run ``call()`` under ``sys.settrace`` and return its result and the moves between ``project``'s modules.

    Only this thread is traced. Frames outside the project get no local trace function (no further
    events from them); a project frame's 'call' makes its module current, and its 'return' makes
    current the module of the innermost project frame left below it, found along ``f_back``.
    """
    moves = Moves()
    sequence = moves.sequence
    by_code: dict[Any, str | None] = {}

    def module_of(frame: FrameType) -> str | None:
        code = frame.f_code
        try:
            return by_code[code]
        except KeyError:
            name = by_code[code] = project.name(code.co_filename)
            return name

    def enter(module: str) -> None:
        if not sequence or sequence[-1] != module:
            sequence.append(module)

    def local(frame: FrameType, event: str, _arg: Any) -> Callable[..., Any] | None:
        if event == "return":
            below = frame.f_back
            while below is not None:
                module = module_of(below)
                if module is not None:
                    enter(module)
                    break
                below = below.f_back
        return local

    def global_trace(frame: FrameType, event: str, _arg: Any) -> Callable[..., Any] | None:
        if event != "call":
            return None
        module = module_of(frame)
        if module is None:
            return None
        frame.f_trace_lines = False  # 'return' events only, no per-line ones
        if sequence and sequence[-1] != module:
            moves.calls += 1
            moves.call_sites.append((sequence[-1], module, frame.f_code.co_name))
        enter(module)
        return local

    before = sys.gettrace()
    sys.settrace(global_trace)
    try:
        result = call()
    finally:
        sys.settrace(before)
    return result, moves


def _request(app: Callable[..., Iterable[bytes]], query: str) -> tuple[str, bytes]:
    """One GET of the usage path through the WSGI app: its status line and body (closed after reading)."""
    status: list[str] = []

    def start_response(line: str, _headers: list[tuple[str, str]], _exc_info: Any = None) -> None:
        status.append(line)

    data = drain(app, _environ(servers.USAGE_PATH, query), start_response)
    return (status[-1] if status else ""), data


@dataclass
class RequestMoves:
    moves: Moves
    status: str
    query: str

    def report(self) -> dict[str, Any]:
        return {"request": f"GET {servers.USAGE_PATH}?{self.query}", "status": self.status, **self.moves.report()}


def usage_request_moves(root: Path = servers.ROOT, packages: Sequence[str] = PROJECT_PACKAGES,
                        warmup_query: str = WARMUP_QUERY, query: str = TRACED_QUERY) -> RequestMoves:
    """Build the mock in process, warm it with one request, trace one request for a window never asked before."""
    from mockserver.app import create_app
    from mockserver.store.access_log import configure_logging

    app = create_app(access_log=True, seed=1)
    root_logger = logging.getLogger()
    handlers, level = root_logger.handlers[:], root_logger.level
    with open(os.devnull, "w") as sink:
        root_logger.handlers.clear()
        configure_logging("info", sink)  # as crosmos-mock sets it up: its access line is written
        try:
            warm_status, _ = _request(app, warmup_query)
            if not warm_status.startswith("200"):
                raise RuntimeError(f"warm-up GET {servers.USAGE_PATH}?{warmup_query} answered {warm_status!r}, "
                                   "not 200")
            (status, _body), moves = count_moves(lambda: _request(app, query), ProjectModules(root, packages))
        finally:
            root_logger.handlers[:] = handlers
            root_logger.setLevel(level)
    return RequestMoves(moves, status, query)


def render(result: RequestMoves, top: int = 15) -> str:
    moves = result.moves
    transitions = moves.transitions
    lines = [f"GET {servers.USAGE_PATH}?{result.query} (uncached, after one warm-up request): {result.status}",
             f"moves between project modules: {moves.count}",
             f"of which calls into another module: {moves.calls} (the rest are returns, or a generator suspended)",
             f"distinct modules: {len(moves.modules)}",
             "modules, in the order first touched:", *(f"  {m}" for m in moves.modules),
             "calls into another module, in order (caller → callee.function):",
             *(f"  {i:3d}  {a}{ARROW}{b}.{f}" for i, (a, b, f) in enumerate(moves.call_sites, 1)),
             "module sequence (consecutive duplicates folded):"]
    lines += [f"  {i:3d}  {m}" for i, m in enumerate(moves.sequence)]
    lines.append(f"top transitions ({min(top, len(transitions))} of {len(transitions)} distinct; "
                 "a pair whose reverse is also listed is the path doubling back):")
    for (a, b), n in transitions.most_common(top):
        back = transitions.get((b, a), 0)
        lines.append(f"  {n:3d}  {a}{ARROW}{b}" + (f"   (back {b}{ARROW}{a}: {back})" if back else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.moves",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the result as JSON to PATH")
    parser.add_argument("--top", type=int, default=15, help="how many transitions to print (default 15)")
    args = parser.parse_args(argv)
    try:
        result = usage_request_moves()
    except RuntimeError as error:
        print(f"bench.moves: {error}", file=sys.stderr)
        return 1
    if not result.status.startswith("200"):
        print(f"bench.moves: the traced GET {servers.USAGE_PATH}?{result.query} answered {result.status!r}, "
              "not 200; its path is not the one to count", file=sys.stderr)
        return 1
    print(render(result, args.top))
    if args.json is not None:
        args.json.write_text(json.dumps(result.report(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

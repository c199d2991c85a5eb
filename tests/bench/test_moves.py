"""bench.moves: the move counter on a synthetic package whose path is known, and on the real app.

Nothing here depends on speed. The real app's path has a budget: at most 40 calls into another
module for one uncached usage request (issue 21's bar); a change that needs more says why in docs/design.md.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bench import moves

CALLS_BUDGET = 40  # calls into another module for one uncached GET /api/v1/usage (docs/design.md)


@pytest.fixture
def synthetic(tmp_path: Path) -> Iterator[tuple[str, ModuleType]]:
    """A package ``<name>`` with modules a, b, c and a sibling module ``<name>_outside`` (not in the package,
    standing for third-party code) under ``tmp_path``; yields the package name and module a."""
    name = f"movespkg_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (tmp_path / f"{name}_outside.py").write_text(textwrap.dedent("""
        def call(function):
            return function()
        """))
    (package / "c.py").write_text(textwrap.dedent("""
        def leaf():
            return 1
        """))
    (package / "b.py").write_text(textwrap.dedent(f"""
        from {name} import c

        def one():
            return helper()  # same module: no move

        def helper():
            return 1

        def via_c():
            return c.leaf()

        def gen():
            yield 1
            yield 2
        """))
    (package / "a.py").write_text(textwrap.dedent(f"""
        import {name}_outside as outside
        from {name} import b, c

        def local():
            return 0

        def run():
            b.one()                # a → b → a: 2
            b.one()                # 2
            b.via_c()              # a → b → c → b → a: 4
            outside.call(c.leaf)   # a → (outside, skipped) → c → a: 2
            outside.call(local)    # a → (outside) → a: 0
            return list(b.gen())   # three resumes and three suspensions/returns: 6
        """))
    sys.path.insert(0, str(tmp_path))
    try:
        yield name, importlib.import_module(f"{name}.a")
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith((f"{name}.", f"{name}_"))]:
            del sys.modules[module]


def test_counts_moves_on_a_known_call_pattern(synthetic: tuple[str, ModuleType], tmp_path: Path) -> None:
    name, a = synthetic
    result, counted = moves.count_moves(a.run, moves.ProjectModules(tmp_path, (name,)))
    assert result == [1, 2]
    pa, pb, pc = f"{name}.a", f"{name}.b", f"{name}.c"
    assert counted.count == 16
    assert counted.calls == 8  # b, b, b, c (from b), c (from outside), and the generator's three resumes
    assert counted.modules == [pa, pb, pc]
    assert counted.sequence[:9] == [pa, pb, pa, pb, pa, pb, pc, pb, pa]
    assert counted.transitions == {(pa, pb): 6, (pb, pa): 6, (pb, pc): 1, (pc, pb): 1, (pa, pc): 1, (pc, pa): 1}
    assert counted.call_sites == [(pa, pb, "one"), (pa, pb, "one"), (pa, pb, "via_c"), (pb, pc, "leaf"),
                                  (pa, pc, "leaf"), (pa, pb, "gen"), (pa, pb, "gen"), (pa, pb, "gen")]
    report = counted.report()
    assert report["moves"] == 16 and report["distinct_modules"] == 3
    assert report["transitions"][0] in ({"from": pa, "to": pb, "count": 6}, {"from": pb, "to": pa, "count": 6})


def test_a_top_level_file_is_never_a_project_module(synthetic: tuple[str, ModuleType], tmp_path: Path) -> None:
    name, a = synthetic
    _, counted = moves.count_moves(a.run, moves.ProjectModules(tmp_path, (name, f"{name}_outside")))
    # a top-level file is never a project module (it is in no package folder): the count is unchanged
    assert counted.count == 16


def test_module_names_follow_paths_under_the_root(tmp_path: Path) -> None:
    project = moves.ProjectModules(tmp_path, ("mockserver",))
    assert project.name(str(tmp_path / "mockserver" / "stages.py")) == "mockserver.stages"
    assert project.name(str(tmp_path / "mockserver" / "pipeline" / "stages.py")) == "mockserver.pipeline.stages"
    assert project.name(str(tmp_path / "mockserver" / "__init__.py")) == "mockserver"
    assert project.name(str(tmp_path / "bench" / "moves.py")) is None
    assert project.name(str(tmp_path / ".venv" / "lib" / "flask" / "app.py")) is None
    assert project.name(str(tmp_path / "setup.py")) is None
    assert project.name("<frozen importlib._bootstrap>") is None
    assert project.name("/usr/lib/python3.11/json/__init__.py") is None


def test_tracing_restores_the_previous_trace_function(synthetic: tuple[str, ModuleType], tmp_path: Path) -> None:
    name, a = synthetic
    before = sys.gettrace()
    moves.count_moves(a.run, moves.ProjectModules(tmp_path, (name,)))
    assert sys.gettrace() is before


def _pipeline_module() -> str:
    """The module holding the pipeline's ``run`` (mockserver.pipeline.stages today)."""
    from mockserver import app

    run = getattr(app, "run", None)
    return getattr(run, "__module__", None) or "mockserver.pipeline.stages"


def test_real_usage_request() -> None:
    result = moves.usage_request_moves()
    assert result.status.startswith("200")
    assert result.moves.count > 0
    assert 0 < result.moves.calls <= result.moves.count
    assert _pipeline_module() in result.moves.modules
    assert all(m.split(".")[0] in moves.PROJECT_PACKAGES for m in result.moves.modules)
    assert "moves between project modules" in moves.render(result)
    assert len(result.moves.call_sites) == result.moves.calls
    assert result.moves.calls <= CALLS_BUDGET, "\n".join(f"{a} -> {b}.{f}" for a, b, f in result.moves.call_sites)


def test_main_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "moves.json"
    assert moves.main(["--json", str(out), "--top", "3"]) == 0
    report = json.loads(out.read_text())
    assert report["status"].startswith("200") and report["moves"] > 0
    assert report["distinct_modules"] == len(report["modules"])
    assert sum(t["count"] for t in report["transitions"]) == report["moves"]
    assert len(report["calls"]) == report["cross_module_calls"]
    assert {"from", "to", "function"} <= report["calls"][0].keys()
    assert "top transitions (3 of" in capsys.readouterr().out

"""The mock's rooms import one way: from the door (serving) inward, never back.

    serving → pipeline → produce → model → contract → store → crosmos_contract
    control (the control API) beside the pipeline: it reads model, contract and store

(model sits above contract: the faults it simulates answer with the contract's replies.)

``app``, ``cli``, ``export`` and ``__main__`` sit on top and may import any room; ``settings``,
``state`` and ``context`` are the hubs every room reads (the server's settings, the server's state,
one request's state), and may import what they hold. A room may import its own modules, any room
below it, the hubs and ``crosmos_contract``. The graph is read from the source, lazy imports
included (``tests/test_import_graph.py``).
"""

from __future__ import annotations

from tests.test_import_graph import import_graph

ROOMS_BELOW: dict[str, set[str]] = {
    "serving": {"pipeline", "produce", "contract", "model", "store"},
    "pipeline": {"produce", "contract", "model", "store"},
    "control": {"model", "contract", "store"},
    "produce": {"model", "contract", "store"},
    "model": {"contract", "store"},
    "contract": {"store"},
    "store": set(),
}
HUBS = {"mockserver.settings", "mockserver.state", "mockserver.context"}
TOP = {"mockserver", "mockserver.app", "mockserver.cli", "mockserver.export", "mockserver.__main__"}


def room_of(module: str) -> str | None:
    """``mockserver.pipeline.stages`` → ``pipeline``; None for the top, the hubs and other packages."""
    parts = module.split(".")
    return parts[1] if parts[0] == "mockserver" and len(parts) > 2 and parts[1] in ROOMS_BELOW else None


def _room_package(module: str) -> str | None:
    """``mockserver.pipeline`` (a room's own package) → ``pipeline``."""
    parts = module.split(".")
    return parts[1] if len(parts) == 2 and parts[0] == "mockserver" and parts[1] in ROOMS_BELOW else None


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        room = room_of(module)
        if room is None:
            continue
        for target in sorted(targets):
            if not target.startswith("mockserver") or target in HUBS:
                continue
            other = room_of(target) or _room_package(target)
            if other is not None and (other == room or other in ROOMS_BELOW[room]):
                continue
            found.append(f"{module} → {target}")
    return found


def test_every_module_lives_in_a_room_or_on_top() -> None:
    graph = import_graph()
    loose = sorted(m for m in graph if m.startswith("mockserver") and room_of(m) is None
                   and _room_package(m) is None and m not in HUBS | TOP)
    assert not loose, loose


def test_imports_go_one_way() -> None:
    graph = import_graph()
    assert any(room_of(m) == "pipeline" for m in graph)  # the rooms were read
    assert wrong_way(graph) == []


def test_an_import_against_the_direction_is_found() -> None:
    graph = {"mockserver.store.journal": {"mockserver.pipeline.stages"},
             "mockserver.pipeline.stages": {"mockserver.store.journal", "mockserver.state"},
             "mockserver.control.api": {"mockserver.pipeline.stages"}}
    assert wrong_way(graph) == ["mockserver.control.api → mockserver.pipeline.stages",
                                "mockserver.store.journal → mockserver.pipeline.stages"]


PRODUCERS = {"mockserver.produce.usage", "mockserver.produce.documented", "mockserver.produce.proxy"}


def test_only_the_produce_stage_reaches_the_producers() -> None:
    """The stages refuse, negotiate and judge with what ``produce.negotiation`` and ``produce.prefer``
    decide; the producers themselves are reached through ``produce.dispatch`` alone."""
    graph = import_graph()
    reaching = sorted(module for module, targets in graph.items()
                      if targets & PRODUCERS and not module.startswith("mockserver.produce.")
                      and module not in HUBS | TOP)
    assert reaching == [], reaching
    assert "mockserver.produce.dispatch" in graph["mockserver.pipeline.stages"]
    assert not PRODUCERS & graph["mockserver.produce.negotiation"]

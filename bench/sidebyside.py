"""Distinct windows beside replay: paired ratios, the side-by-side table and this issue's targets (no I/O).

``runs`` is what :func:`bench.run.measure` records: ``runs[workload][server][connections]`` is a
list of wrk results, each with the ``repeat`` it ran in. Within a repeat every server ran once,
in the repeat's (rotated) order, so the mock's run and a baseline's run of the same repeat are a
*pair*: minutes apart on the same machine. A ratio is computed per pair and the pairs' median
quoted, with their spread (min–max): a noisy minute moves one pair, not the median.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import stats

WORKLOAD_LABELS = {"distinct": "distinct windows", "repeat": "one request repeated (replay)"}
COLUMN_LABELS = {"distinct": "distinct", "repeat": "replay"}  # the table's column prefixes (legend above it)
RATIO_BASELINES = ("prism", "wiremock")
LABELS = {"prism": "Prism static", "wiremock": "WireMock static"}
SHORT = {"prism": "Prism", "wiremock": "WireMock"}
WANTED_PAIRS = 3
MOCK = "mock"

Runs = Mapping[str, Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]]]
Medians = Mapping[str, Mapping[str, Mapping[int, Mapping[str, float]]]]


@dataclass(frozen=True)
class Spread:
    """The median of paired ratios, their least and greatest, and how many pairs there were."""

    median: float
    low: float
    high: float
    pairs: int

    def text(self) -> str:
        if self.pairs == 1:
            return f"{self.median:.2f}"
        return f"{self.median:.2f} ({self.low:.2f}–{self.high:.2f})"

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.low, "max": self.high, "pairs": self.pairs}


def paired(runs: Runs, workload: str, server: str, baseline: str, connections: int,
           metric: str = "rps") -> Spread | None:
    """``server``'s ``metric`` over ``baseline``'s, per repeat both ran in; None without a pair."""
    mine = {int(run["repeat"]): float(run[metric])
            for run in runs.get(workload, {}).get(server, {}).get(connections, ())}
    theirs = {int(run["repeat"]): float(run[metric])
              for run in runs.get(workload, {}).get(baseline, {}).get(connections, ())}
    ratios = [mine[r] / theirs[r] for r in sorted(mine.keys() & theirs.keys()) if theirs[r]]
    if not ratios:
        return None
    return Spread(statistics.median(ratios), min(ratios), max(ratios), len(ratios))


def pairs_report(runs: Runs, servers: Sequence[str], connections: Sequence[int]) -> dict[str, Any]:
    """Every server's paired req/s ratio to each baseline present, per workload and connections (for the JSON)."""
    report: dict[str, Any] = {}
    for workload, by_server in runs.items():
        for server in servers:
            for baseline in RATIO_BASELINES:
                if baseline not in by_server:
                    continue
                for conns in connections:
                    spread = paired(runs, workload, server, baseline, conns)
                    if spread is not None:
                        key = f"{server}/{baseline}"
                        report.setdefault(workload, {}).setdefault(key, {})[str(conns)] = spread.as_dict()
    return report


def _rps(row: Mapping[str, float]) -> str:
    low, high = row.get("rps_min"), row.get("rps_max")
    spread = f" ({low:,.0f}–{high:,.0f})" if low is not None and high is not None and row.get("repeats", 1) > 1 else ""
    return f"{row['rps']:,.0f}{spread}"


def table(runs: Runs, medians: Medians, servers: Sequence[str], connections: Sequence[int],
          workloads: Sequence[str]) -> str:
    """Markdown: one row per server × connections; the distinct-window figures first, replay beside.

    Each workload's cells: median req/s (min–max of the repeats), median p99, and the paired ratio
    to Prism static and to WireMock static (median of the pairs, min–max).
    """
    ordered = [w for w in ("distinct", "repeat") if w in workloads]
    baselines = [b for b in RATIO_BASELINES if any(b in medians.get(w, {}) for w in ordered)]
    header = ["server", "conns"]
    for workload in ordered:
        label = COLUMN_LABELS[workload]
        header += [f"{label} req/s (min–max)", f"{label} p99 ms",
                   *[f"{label} × {SHORT[b]}" for b in baselines]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for conns in connections:
        for server in servers:
            rows = {w: medians.get(w, {}).get(server, {}).get(conns) for w in ordered}
            if not any(rows.values()):
                continue
            cells = [server, str(conns)]
            for workload in ordered:
                row = rows[workload]
                if row is None:
                    cells += ["n/a", "n/a", *["n/a" for _ in baselines]]
                    continue
                cells += [_rps(row), f"{row['p99_ms']:.2f}"]
                for baseline in baselines:
                    spread = paired(runs, workload, server, baseline, conns)
                    cells.append("n/a" if spread is None else spread.text())
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _p99(medians: Medians, workload: str, server: str, conns: int) -> float | None:
    row = medians.get(workload, {}).get(server, {}).get(conns)
    return None if row is None else float(row["p99_ms"])


def _ratio_target(runs: Runs, medians: Medians, workload: str, baseline: str, conns: int, factor: float,
                  kind: str) -> stats.Target:
    name = f"{WORKLOAD_LABELS[workload]} @{conns}: req/s vs {LABELS[baseline]} ({kind})"
    wanted = f">= {factor:.1f}x, median of >= {WANTED_PAIRS} pairs"
    spread = paired(runs, workload, MOCK, baseline, conns)
    if spread is None:
        return stats.Target(name, wanted, stats.NOT_MEASURED, None)
    measured = f"{spread.text()}x, {spread.pairs} pair{'s' if spread.pairs != 1 else ''}"
    if spread.pairs < WANTED_PAIRS:
        measured += f" (fewer than {WANTED_PAIRS})"
    mine, theirs = _p99(medians, workload, MOCK, conns), _p99(medians, workload, baseline, conns)
    if mine is not None and theirs is not None:
        measured += f"; p99 {mine:.1f} vs {theirs:.1f} ms"
    return stats.Target(name, wanted, measured, spread.median >= factor)


def targets(runs: Runs, medians: Medians) -> list[stats.Target]:
    """This issue's load targets: distinct windows ≥ 5× Prism static (the floor) and ≥ 1.0× WireMock
    static (the goal) at 16 and 64 connections; one request repeated ≥ 1.0× WireMock at 64. Each
    shows the paired median, its spread and the p99s beside."""
    found = []
    for conns in (16, 64):
        found.append(_ratio_target(runs, medians, "distinct", "prism", conns, 5.0, "floor"))
        found.append(_ratio_target(runs, medians, "distinct", "wiremock", conns, 1.0, "goal"))
    found.append(_ratio_target(runs, medians, "repeat", "wiremock", 64, 1.0, "kept"))
    return found

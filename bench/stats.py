"""Medians, ratios and the issue's targets, as plain functions of recorded runs (no I/O)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

METRICS = ("rps", "p50_ms", "p99_ms", "peak_rss_mb", "peak_pss_mb")


def summarise(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Median of each metric over repeated runs (the quoted figure), plus min/max of req/s for spread."""
    summary = {metric: statistics.median(float(run.get(metric, 0.0)) for run in runs) for metric in METRICS}
    summary["rps_min"] = min(float(run["rps"]) for run in runs)
    summary["rps_max"] = max(float(run["rps"]) for run in runs)
    summary["errors"] = sum(int(run["non_2xx"]) + int(run["socket_errors"]) for run in runs)
    summary["repeats"] = len(runs)
    return summary


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class Target:
    """One line of the issue's targets: what was asked, what was measured, met or not."""

    name: str
    wanted: str
    measured: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "wanted": self.wanted, "measured": self.measured, "met": self.met}


def _fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def load_targets(medians: Mapping[str, Mapping[int, Mapping[str, float]]], connections: int = 16) -> list[Target]:
    """The mock's targets at ``connections`` against Prism default, Prism silent and the bare app."""

    def get(server: str, metric: str) -> float | None:
        row = medians.get(server, {}).get(connections)
        return None if row is None else float(row[metric])

    mock_rps, mock_p99, mock_rss = get("mock", "rps"), get("mock", "p99_ms"), get("mock", "peak_rss_mb")
    targets = []
    for name, other, factor in (("vs Prism default", "prism", 2.0), ("vs Prism silent", "prism-silent", 1.0),
                                ("vs bare WSGI app", "hello", 0.6)):
        value = ratio(mock_rps, get(other, "rps"))
        targets.append(Target(f"req/s {name} @{connections}", f">= {factor:.1f}x", _fmt(value, "{:.2f}x"),
                              None if value is None else value >= factor))
    prism_p99 = get("prism", "p99_ms")
    targets.append(Target(f"p99 vs Prism default @{connections}", "<= Prism's",
                          f"{_fmt(mock_p99, '{:.1f}')} ms vs {_fmt(prism_p99, '{:.1f}')} ms",
                          None if mock_p99 is None or prism_p99 is None else mock_p99 <= prism_p99))
    rss_ratio = ratio(mock_rss, get("prism", "peak_rss_mb"))
    targets.append(Target(f"peak RSS vs Prism default @{connections}", "<= 0.50x", _fmt(rss_ratio, "{:.2f}x"),
                          None if rss_ratio is None else rss_ratio <= 0.5))
    return targets

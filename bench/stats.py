"""Medians, ratios and the issue's targets, as plain functions of recorded runs (no I/O)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NOT_MEASURED = "not measured"
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



def _getter(medians: Mapping[str, Mapping[int, Mapping[str, float]]],
            connections: int) -> Callable[[str, str], float | None]:
    def get(server: str, metric: str) -> float | None:
        row = medians.get(server, {}).get(connections)
        return None if row is None or metric not in row else float(row[metric])
    return get


def _at_most(name: str, wanted: str, mine: float | None, theirs: float | None, unit: str) -> Target:
    """Target ``mine <= theirs``, both shown (``unit`` after each), not measured when either is missing."""
    if mine is None or theirs is None:
        return Target(name, wanted, NOT_MEASURED, None)
    return Target(name, wanted, f"{mine:.1f} {unit} vs {theirs:.1f} {unit}", mine <= theirs)


def _at_least_times(name: str, factor: float, mine: float | None, theirs: float | None) -> Target:
    """Target ``mine >= factor × theirs``, shown as the ratio, not measured when either is missing."""
    value = ratio(mine, theirs)
    if value is None:
        return Target(name, f">= {factor:.1f}x", NOT_MEASURED, None)
    return Target(name, f">= {factor:.1f}x", f"{value:.2f}x", value >= factor)


def wiremock_targets(medians: Mapping[str, Mapping[int, Mapping[str, float]]], connections: int) -> list[Target]:
    """The current issue's targets at ``connections``: the mock against WireMock and 5x Prism static (default flags)."""
    get = _getter(medians, connections)
    mock_rps = get("mock", "rps")
    return [
        _at_least_times(f"req/s vs WireMock @{connections}", 1.0, mock_rps, get("wiremock", "rps")),
        _at_most(f"p99 vs WireMock @{connections}", "<= WireMock's", get("mock", "p99_ms"),
                 get("wiremock", "p99_ms"), "ms"),
        _at_least_times(f"req/s vs Prism static @{connections}", 5.0, mock_rps, get("prism", "rps")),
        _at_most(f"peak RSS vs WireMock @{connections}", "<= WireMock's", get("mock", "peak_rss_mb"),
                 get("wiremock", "peak_rss_mb"), "MB"),
    ]


def prism_targets(medians: Mapping[str, Mapping[int, Mapping[str, float]]], connections: int = 16) -> list[Target]:
    """The earlier targets at ``connections``: against Prism default, Prism silent and the bare app."""
    get = _getter(medians, connections)
    mock_rps, mock_p99, mock_rss = get("mock", "rps"), get("mock", "p99_ms"), get("mock", "peak_rss_mb")
    targets = []
    for name, other, factor in (("vs Prism default", "prism", 2.0), ("vs Prism silent", "prism-silent", 1.0),
                                ("vs bare WSGI app", "hello", 0.6)):
        targets.append(_at_least_times(f"req/s {name} @{connections}", factor, mock_rps, get(other, "rps")))
    targets.append(_at_most(f"p99 vs Prism default @{connections}", "<= Prism's", mock_p99, get("prism", "p99_ms"),
                            "ms"))
    rss_ratio = ratio(mock_rss, get("prism", "peak_rss_mb"))
    name = f"peak RSS vs Prism default @{connections}"
    targets.append(Target(name, "<= 0.50x", NOT_MEASURED, None) if rss_ratio is None
                   else Target(name, "<= 0.50x", f"{rss_ratio:.2f}x", rss_ratio <= 0.5))
    return targets


TARGET_CONNECTIONS = (16, 64)  # the current issue's targets hold at both


def load_targets(medians: Mapping[str, Mapping[int, Mapping[str, float]]]) -> list[Target]:
    """Every target of the issues: the current one's at 16 and 64 connections, then the earlier ones at 16.

    A target whose servers or connection count were not in the run has ``met`` None ("not measured").
    """
    targets = [t for conns in TARGET_CONNECTIONS for t in wiremock_targets(medians, conns)]
    return targets + prism_targets(medians, 16)


@dataclass(frozen=True)
class Warmup:
    """Where a warm-up stands after its rounds so far: go on, or stop (stable, or at the cap)."""

    done: bool
    stable: bool
    seconds: float  # rounds so far × the round's length


def warmup_state(rates: Sequence[float], round_s: float, min_s: float, max_s: float,
                 tolerance: float = 0.05, agree: int = 3) -> Warmup:
    """Whether a warm-up whose rounds (``round_s`` each) gave ``rates`` (req/s) is over.

    Stable: at least ``min_s`` warmed, and the last ``agree`` rounds all within ``tolerance`` of
    the largest of them (a server that answered nothing is never stable). Three, not two: a JVM
    climbs in steps (WireMock held ~6k req/s for three rounds before its JIT took it to ~20k),
    and two rounds on a step looked warm. Done: stable, or another round would pass ``max_s``.
    Times are the rounds' nominal lengths, not clocks.
    """
    if round_s <= 0:
        raise ValueError("a warm-up round must last more than 0 s")
    if agree < 2:
        raise ValueError("at least two rounds must agree")
    seconds = len(rates) * round_s
    stable = False
    if len(rates) >= agree and seconds >= min_s:
        last = rates[-agree:]
        top = max(last)
        stable = top > 0 and top - min(last) < tolerance * top
    return Warmup(stable or seconds + round_s > max_s, stable, seconds)

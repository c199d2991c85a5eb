"""bench.run under both workloads: paired ratios, the side-by-side table (distinct first) and the targets.

Pure functions of recorded runs; the one test of measure() replaces wrk and the servers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import load, run, servers, sidebyside


def result(rps: float, p99: float = 5.0, repeat: int = 1, workload: str = "distinct",
           conns: int = 16) -> dict[str, Any]:
    return {"connections": conns, "duration_s": 10.0, "requests": int(rps * 10), "rps": rps, "p50_ms": 1.0,
            "p99_ms": p99, "non_2xx": 0, "socket_errors": 0, "peak_rss_mb": 100.0, "peak_pss_mb": 50.0,
            "workload": workload, "repeat": repeat}


def runs_of(rates: dict[str, dict[str, list[float]]], conns: int = 16) -> dict[str, Any]:
    """``rates[workload][server]``: req/s per repeat (1, 2, ...) at ``conns``."""
    return {workload: {server: {conns: [result(r, repeat=i + 1, workload=workload, conns=conns)
                                        for i, r in enumerate(values)]}
                       for server, values in by_server.items()}
            for workload, by_server in rates.items()}


def medians_of(runs: dict[str, Any]) -> dict[str, Any]:
    from bench import stats
    return {w: {s: {c: stats.summarise(rs) for c, rs in by_c.items()} for s, by_c in by_s.items()}
            for w, by_s in runs.items()}


def test_ratios_are_taken_per_pair_and_their_median_quoted_with_the_spread() -> None:
    # a noisy second repeat slowed WireMock alone: the ratio of medians would say 1.25, the pairs 1.10
    runs = runs_of({"distinct": {"mock": [11000.0, 10000.0, 12000.0], "wiremock": [10000.0, 8000.0, 10000.0]}})
    spread = sidebyside.paired(runs, "distinct", "mock", "wiremock", 16)
    assert spread == sidebyside.Spread(median=1.2, low=1.1, high=1.25, pairs=3)
    assert spread.text() == "1.20 (1.10–1.25)"
    assert sidebyside.paired(runs, "distinct", "mock", "prism", 16) is None
    assert sidebyside.paired(runs, "repeat", "mock", "wiremock", 16) is None


def test_only_repeats_both_servers_ran_in_are_paired() -> None:
    runs = runs_of({"distinct": {"mock": [10000.0, 20000.0, 30000.0], "wiremock": [10000.0]}})
    runs["distinct"]["wiremock"][16][0]["repeat"] = 3  # wiremock failed to start in repeats 1 and 2
    spread = sidebyside.paired(runs, "distinct", "mock", "wiremock", 16)
    assert spread is not None and (spread.median, spread.pairs) == (3.0, 1)
    assert spread.text() == "3.00"


def test_the_table_puts_distinct_windows_first_and_replay_beside_each_labelled() -> None:
    runs = runs_of({"distinct": {"mock": [6000.0, 6600.0, 5400.0], "prism": [1000.0, 1100.0, 1000.0],
                                 "wiremock": [6000.0, 6000.0, 6000.0]},
                    "repeat": {"mock": [24000.0, 24000.0, 24000.0], "prism": [1200.0, 1200.0, 1200.0],
                               "wiremock": [12000.0, 12000.0, 12000.0]}})
    text = sidebyside.table(runs, medians_of(runs), ["mock", "prism", "wiremock"], [16], ["repeat", "distinct"])
    header, rule, mock, prism, wiremock = text.splitlines()
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == ["server", "conns", "distinct req/s (min–max)", "distinct p99 ms", "distinct × Prism",
                       "distinct × WireMock", "replay req/s (min–max)", "replay p99 ms", "replay × Prism",
                       "replay × WireMock"]
    assert rule.count("---") == len(columns)
    assert mock.startswith("| mock | 16 | 6,000 (5,400–6,600) | 5.00 | 6.00 (5.40–6.00) | 1.00 (0.90–1.10) "
                           "| 24,000 (24,000–24,000) | 5.00 | 20.00 (20.00–20.00) | 2.00 (2.00–2.00) |")
    assert prism.split(" | ")[4] == "1.00 (1.00–1.00)"
    assert wiremock.split(" | ")[5] == "1.00 (1.00–1.00)"


def test_a_single_workload_table_has_only_its_columns() -> None:
    runs = runs_of({"repeat": {"mock": [24000.0], "wiremock": [12000.0]}})
    text = sidebyside.table(runs, medians_of(runs), ["mock", "wiremock"], [16, 64], ["repeat"])
    header, _, mock, _ = text.splitlines()
    assert "distinct" not in header and "× Prism" not in header
    assert mock == "| mock | 16 | 24,000 | 5.00 | 2.00 |"


def test_the_issues_targets_distinct_floor_and_goal_at_16_and_64_and_replay_kept_at_64() -> None:
    rates16 = {"distinct": {"mock": [6000.0, 6100.0, 5900.0], "prism": [1000.0] * 3, "wiremock": [5900.0] * 3}}
    rates64 = {"distinct": {"mock": [5000.0, 5000.0, 5000.0], "prism": [1100.0] * 3, "wiremock": [6000.0] * 3},
               "repeat": {"mock": [25000.0] * 3, "wiremock": [20000.0] * 3}}
    runs = runs_of(rates16, 16)
    for workload, by_server in runs_of(rates64, 64).items():
        for server, by_conns in by_server.items():
            runs.setdefault(workload, {}).setdefault(server, {}).update(by_conns)
    targets = {t.name: t for t in sidebyside.targets(runs, medians_of(runs))}
    assert {name: t.met for name, t in targets.items()} == {
        "distinct windows @16: req/s vs Prism static (floor)": True,  # 6.0x
        "distinct windows @16: req/s vs WireMock static (goal)": True,  # 1.02x
        "distinct windows @64: req/s vs Prism static (floor)": False,  # 4.55x
        "distinct windows @64: req/s vs WireMock static (goal)": False,  # 0.83x
        "one request repeated (replay) @64: req/s vs WireMock static (kept)": True,  # 1.25x
    }
    floor16 = targets["distinct windows @16: req/s vs Prism static (floor)"]
    assert floor16.wanted == ">= 5.0x, median of >= 3 pairs"
    assert floor16.measured == "6.00 (5.90–6.10)x, 3 pairs; p99 5.0 vs 5.0 ms"


def test_targets_without_pairs_say_not_measured_and_few_pairs_say_so() -> None:
    assert all(t.met is None for t in sidebyside.targets({}, {}))
    runs = runs_of({"distinct": {"mock": [6000.0], "wiremock": [5000.0]}})
    goal = {t.name: t for t in sidebyside.targets(runs, medians_of(runs))}[
        "distinct windows @16: req/s vs WireMock static (goal)"]
    assert goal.met is True
    assert "1 pair (fewer than 3)" in goal.measured


def test_the_workload_option_defaults_to_both_for_load_and_repeat_for_the_server_choice() -> None:
    assert run.workloads_of(run.parse_args([])) == ("distinct", "repeat")
    assert run.workloads_of(run.parse_args(["--suite", "load", "--smoke"])) == ("distinct", "repeat")
    assert run.workloads_of(run.parse_args(["--suite", "servers"])) == ("repeat",)
    assert run.workloads_of(run.parse_args(["--workload", "distinct"])) == ("distinct",)
    assert run.workloads_of(run.parse_args(["--suite", "servers", "--workload", "both"])) == ("distinct", "repeat")
    with pytest.raises(SystemExit):
        run.parse_args(["--workload", "zipf"])


def test_measure_runs_each_workload_at_each_connection_count_and_records_workload_and_repeat(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[str, str, int]] = []

    @contextlib.contextmanager
    def fake_started(spec: servers.ServerSpec, _log_dir: Path) -> Iterator[Any]:
        class Process:
            pid = 1

        class Running:
            url = spec.url(1)
            process = Process()
            ready_after_s = 0.1
        yield Running()

    def fake_workload(_wrk: str, workload: str, url: str, _headers: dict[str, str], connections: int,
                      duration_s: float, _pid: int) -> load.LoadResult:
        calls.append((url, workload, connections))
        rps = 1000.0 if "prism" in url else 2000.0
        return load.LoadResult(connections, duration_s, 10, rps, 1.0, 2.0, 0, 0, 100.0, 50.0, workload)

    mock_spec = servers.ServerSpec("mock", "m", lambda port: ["true"], path="/mock")
    prism_spec = servers.ServerSpec("prism", "p", lambda port: ["true"], path="/prism")
    monkeypatch.setattr(run, "ensure_wrk", lambda: "wrk")
    monkeypatch.setattr(run, "run_workload", fake_workload)
    monkeypatch.setattr(run, "tree_rss_mb", lambda _pid: 1.0)
    monkeypatch.setattr(servers, "started", fake_started)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    policy = run.WarmupPolicy(min_s=0.0, max_s=0.0, round_s=1, tolerance=0.05)
    measured = run.measure([mock_spec, prism_spec], [16, 64], 2.0, 3, policy, tmp_path, ("distinct", "repeat"))
    mock = "http://127.0.0.1:1/mock"
    # the workloads' order alternates by connection count and by repeat: neither always runs first
    assert calls[:4] == [(mock, "distinct", 16), (mock, "repeat", 16), (mock, "repeat", 64), (mock, "distinct", 64)]
    assert calls[4][0].endswith("/prism")
    assert calls[8][0].endswith("/prism")  # the second repeat starts one server later
    assert calls[12:16] == [(mock, "repeat", 16), (mock, "distinct", 16), (mock, "distinct", 64),
                            (mock, "repeat", 64)]
    assert measured["workloads"] == ["distinct", "repeat"]
    distinct_runs = measured["runs"]["distinct"]["mock"][16]
    assert [r["repeat"] for r in distinct_runs] == [1, 2, 3]
    assert {r["workload"] for r in distinct_runs} == {"distinct"}
    assert measured["medians"]["repeat"]["prism"][64]["rps"] == 1000.0
    assert measured["pairs"]["distinct"]["mock/prism"]["16"] == {"median": 2.0, "min": 2.0, "max": 2.0, "pairs": 3}
    markdown = "\n\n".join(run.load_sections(measured, ["mock", "prism"], [16, 64]))
    assert markdown.index("distinct req/s") < markdown.index("replay req/s")
    assert markdown.index("## Load, distinct windows") < markdown.index("## Load, one request repeated")
    assert "distinct windows @16: req/s vs Prism static (floor) | >= 5.0x, median of >= 3 pairs | 2.00 (2.00–2.00)x, " \
           "3 pairs; p99 2.0 vs 2.0 ms | **no** |" in markdown

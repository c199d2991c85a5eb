"""The bench's warm-up rule and its targets, as pure functions: no wrk, no server, no clock."""

from __future__ import annotations

from typing import Any

import pytest

from bench import run, stats

# WireMock 3.13.2 in 8 s rounds at 16 connections (the check that showed a fixed 10 s was too short)
WIREMOCK_RAMP = [4200.0, 10100.0, 15800.0, 22900.0, 22500.0, 23500.0]


def state(rates: list[float], round_s: float = 5, min_s: float = 10, max_s: float = 60,
          tolerance: float = 0.05, agree: int = 3) -> stats.Warmup:
    return stats.warmup_state(rates, round_s, min_s, max_s, tolerance, agree)


def rounds_until_done(rates: list[float], **policy: Any) -> list[float]:
    """The rounds a warm-up would run if its rounds gave ``rates`` in turn (as run.warm_up loops)."""
    seen: list[float] = []
    for rate in rates:
        if state(seen, **policy).done:
            break
        seen.append(rate)
    return seen


def test_no_rounds_yet_is_not_done() -> None:
    assert state([]) == stats.Warmup(done=False, stable=False, seconds=0)


def test_a_ramping_jvm_is_warmed_until_three_rounds_agree() -> None:
    ran = rounds_until_done(WIREMOCK_RAMP, round_s=8)
    assert ran == WIREMOCK_RAMP  # 22.9k, 22.5k, 23.5k: within 4.3 % of the largest
    assert state(ran, round_s=8) == stats.Warmup(done=True, stable=True, seconds=48)


def test_a_plateau_of_the_jit_is_not_taken_for_its_warm_rate() -> None:
    # WireMock on a busy machine: three rounds near 6k, then its JIT took it past 14k
    plateau = [3654.0, 6067.0, 5617.0, 6073.0, 6185.0, 8200.0, 14500.0, 19600.0, 19300.0, 19500.0]
    ran = rounds_until_done(plateau, round_s=5, min_s=10, max_s=90)
    assert ran == plateau  # the two close rounds 6,073 and 6,185 did not stop it
    assert state(ran, max_s=90) == stats.Warmup(done=True, stable=True, seconds=50)


def test_two_equal_rounds_before_the_minimum_are_not_enough() -> None:
    assert state([1000.0] * 3, round_s=4, min_s=14) == stats.Warmup(False, False, 12)
    assert state([1000.0] * 4, round_s=4, min_s=14) == stats.Warmup(True, True, 16)
    assert rounds_until_done([1000.0] * 10, round_s=5, min_s=10) == [1000.0] * 3


def test_fewer_rounds_than_must_agree_are_never_stable_even_past_the_minimum() -> None:
    assert state([1000.0], round_s=10, min_s=10) == stats.Warmup(False, False, 10)
    assert state([1000.0, 1000.0], round_s=10, min_s=10) == stats.Warmup(False, False, 20)
    assert state([1000.0, 1000.0], round_s=10, min_s=10, agree=2).stable


def test_the_tolerance_is_relative_to_the_larger_rate_and_strict() -> None:
    assert state([1000.0, 1020.0, 1049.0]).stable
    assert state([1049.0, 1020.0, 1000.0]).stable  # a small drop is as stable as a small rise
    assert not state([1000.0, 1020.0, 1053.0]).stable
    assert not state([1000.0, 1050.0, 1100.0], tolerance=0.05).stable
    assert state([1000.0, 1050.0, 1100.0], tolerance=0.10).stable
    assert not state([1000.0, 980.0, 950.0], tolerance=0.05).stable  # exactly 5 % of the largest: not less than


def test_only_the_last_three_rounds_count() -> None:
    assert state([100.0, 100.0, 500.0, 505.0, 502.0]).stable
    assert not state([500.0, 505.0, 502.0, 1000.0]).stable


def test_a_server_that_answers_nothing_is_never_stable() -> None:
    assert not state([0.0, 0.0, 0.0]).stable
    assert state([0.0] * 12) == stats.Warmup(True, False, 60)


def test_the_cap_stops_a_warm_up_that_never_settles() -> None:
    noisy = [1000.0, 2000.0] * 20
    ran = rounds_until_done(noisy, round_s=5, max_s=60)
    assert len(ran) == 12  # 60 s of 5 s rounds, no more
    assert state(ran) == stats.Warmup(done=True, stable=False, seconds=60)
    assert not state(ran[:11]).done  # 55 s: one more round fits under the cap


def test_a_round_that_would_pass_the_cap_is_not_started() -> None:
    assert state([1000.0, 2000.0], round_s=5, max_s=12) == stats.Warmup(True, False, 10)
    assert state([], round_s=5, max_s=0) == stats.Warmup(True, False, 0)  # --warmup 0 --warmup-max 0: none


def test_a_round_must_last_and_two_rounds_at_least_must_agree() -> None:
    with pytest.raises(ValueError):
        state([1000.0], round_s=0)
    with pytest.raises(ValueError):
        state([1000.0], agree=1)


def test_the_default_warm_up_is_30_s_at_least_90_s_at_most_in_rounds_within_5_percent() -> None:
    policy = run.warmup_policy(run.parse_args([]))
    assert policy == run.WarmupPolicy(min_s=30.0, max_s=90.0, round_s=5, tolerance=0.05)
    assert policy.as_dict()["connections"] == 16
    smoke = run.warmup_policy(run.parse_args(["--smoke"]))
    assert smoke.max_s <= 3 and smoke.round_s == 1  # short: checks the script, not the numbers
    custom = run.warmup_policy(run.parse_args(["--warmup", "20", "--warmup-max", "90", "--warmup-round", "10",
                                               "--warmup-tolerance", "0.02"]))
    assert custom == run.WarmupPolicy(20.0, 90.0, 10, 0.02)


@pytest.mark.parametrize("argv", [["--warmup", "100"], ["--warmup-round", "0"], ["--warmup-tolerance", "1.5"],
                                  ["--warmup", "-1"]])
def test_warm_up_settings_that_cannot_work_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        run.parse_args(argv)


def test_the_warm_up_section_lists_each_repeats_rounds_and_whether_they_settled() -> None:
    text = run.warmup_lines({
        "wiremock": [{"repeat": 1, "rounds_rps": [4200.0, 10100.0, 22900.0, 22500.0], "stable": True},
                     {"repeat": 2, "rounds_rps": [1000.0, 2000.0], "stable": False}],
        "mock": [], "prism": [{"repeat": 1, "rounds_rps": [], "stable": False}]})
    assert text.splitlines() == [
        "- wiremock: stable in 1/2 — [1] 4,200, 10,100, 22,900, 22,500; [2] 1,000, 2,000 (not stable)",
        "- prism: stable in 0/1 — [1] none (not stable)"]


def row(rps: float, p99: float, rss: float) -> dict[str, float]:
    return {"rps": rps, "p50_ms": 1.0, "p99_ms": p99, "peak_rss_mb": rss, "peak_pss_mb": rss / 2}


def by_name(targets: list[stats.Target]) -> dict[str, stats.Target]:
    return {t.name: t for t in targets}


def test_the_wiremock_targets_hold_at_16_and_64_connections() -> None:
    medians = {"mock": {16: row(24000, 3.0, 190), 64: row(20000, 9.0, 195)},
               "wiremock": {16: row(23000, 4.0, 280), 64: row(21000, 8.0, 300)},
               "prism": {16: row(4500, 8.0, 290), 64: row(4000, 30.0, 300)}}
    targets = by_name(stats.load_targets(medians))
    met = {name: t.met for name, t in targets.items() if "WireMock" in name or "Prism static" in name}
    assert met == {"req/s vs WireMock @16": True, "p99 vs WireMock @16": True,
                   "req/s vs Prism static @16": True, "peak RSS vs WireMock @16": True,
                   "req/s vs WireMock @64": False,  # 20,000 < 21,000
                   "p99 vs WireMock @64": False,  # 9 ms > 8 ms
                   "req/s vs Prism static @64": True,  # 5.00x: at least 5x
                   "peak RSS vs WireMock @64": True}
    assert targets["req/s vs WireMock @16"].wanted == ">= 1.0x"
    assert targets["req/s vs WireMock @16"].measured == "1.04x"
    assert targets["req/s vs Prism static @16"].wanted == ">= 5.0x"
    assert targets["req/s vs Prism static @64"].measured == "5.00x"
    assert targets["p99 vs WireMock @64"].measured == "9.0 ms vs 8.0 ms"
    assert targets["peak RSS vs WireMock @16"].measured == "190.0 MB vs 280.0 MB"


def test_equal_to_wiremock_meets_the_targets_and_below_5x_prism_does_not() -> None:
    same = row(10000, 5.0, 200)
    targets = by_name(stats.load_targets({"mock": {16: same}, "wiremock": {16: same},
                                          "prism": {16: row(2001, 5.0, 200)}}))
    assert targets["req/s vs WireMock @16"].met is True
    assert targets["p99 vs WireMock @16"].met is True
    assert targets["peak RSS vs WireMock @16"].met is True
    assert targets["req/s vs Prism static @16"].met is False  # 4.998x


def test_the_earlier_targets_are_kept_at_16_connections() -> None:
    medians = {"mock": {16: row(13592, 18.8, 189)}, "prism": {16: row(4503, 7.9, 289)},
               "prism-silent": {16: row(9195, 3.6, 157)}, "hello": {16: row(50011, 2.3, 109)}}
    targets = by_name(stats.load_targets(medians))
    assert {name: t.met for name, t in targets.items() if "Prism default" in name or "silent" in name
            or "bare" in name} == {"req/s vs Prism default @16": True, "req/s vs Prism silent @16": True,
                                   "req/s vs bare WSGI app @16": False, "p99 vs Prism default @16": False,
                                   "peak RSS vs Prism default @16": False}


def test_targets_whose_servers_or_connections_were_not_run_say_not_measured() -> None:
    medians = {"mock": {16: row(20000, 3.0, 190)}, "wiremock": {16: row(19000, 4.0, 280)}}
    targets = stats.load_targets(medians)
    names = [t.name for t in targets]
    assert names[:8] == [f"{what} @{c}" for c in (16, 64) for what in
                         ("req/s vs WireMock", "p99 vs WireMock", "req/s vs Prism static", "peak RSS vs WireMock")]
    unmeasured = {t.name for t in targets if t.met is None}
    assert unmeasured == {"req/s vs Prism static @16", *(n for n in names if n.endswith("@64")),
                          "req/s vs Prism default @16", "req/s vs Prism silent @16", "req/s vs bare WSGI app @16",
                          "p99 vs Prism default @16", "peak RSS vs Prism default @16"}
    assert all(t.measured == stats.NOT_MEASURED for t in targets if t.name in unmeasured)
    rows = run.targets_table(targets).splitlines()[2:]
    assert "| req/s vs WireMock @64 | >= 1.0x | not measured | not measured |" in rows
    assert "| req/s vs WireMock @16 | >= 1.0x | 1.05x | yes |" in rows
    assert sum(r.endswith("| not measured |") for r in rows) == len(unmeasured)
    assert stats.load_targets({}) and all(t.met is None for t in stats.load_targets({}))

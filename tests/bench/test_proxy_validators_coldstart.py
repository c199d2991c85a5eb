"""bench.proxy_cpu, bench.validators and bench.coldstart: what they compute from what they measure.

No timing is asserted: the CPU reading is checked against a child that burns CPU until it says
so itself, and the validators only on what they accept and refuse.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from bench import coldstart, proxy_cpu, servers, validators
from bench.load import tree_cpu_s

BURN = """
import sys, time
while time.process_time() < 0.3:
    pass
print("burnt", flush=True)
sys.stdin.read()
"""


def test_the_tree_cpu_reading_counts_a_child_and_a_grandchild() -> None:
    # the child starts a grandchild; both burn 0.3 s of CPU (each by its own clock) and wait
    parent = f"import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', {BURN!r}])\n{BURN}"
    process = subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "burnt"
        for _ in range(600):  # the grandchild may still be burning: wait until the tree has used both
            if tree_cpu_s(process.pid) >= 0.55:
                break
            time.sleep(0.05)
        assert tree_cpu_s(process.pid) >= 0.55
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the child and the grandchild
        process.wait(10)


def round_of(mock_cpu_us: float, ratio: float, repeat: int) -> dict[str, Any]:
    return {"repeat": repeat, "mock_cpu_us_per_reply": mock_cpu_us, "throughput_ratio": ratio,
            "upstream_alone_rps": 1000.0, "through_mock_rps": 1000.0 * ratio}


def test_proxy_cpu_judges_the_median_of_the_repeats_against_100_us_and_reports_the_ratio_beside() -> None:
    rounds = [round_of(90.0, 0.8, 1), round_of(150.0, 0.7, 2), round_of(95.0, 0.9, 3)]
    summary = proxy_cpu.summary(rounds)
    assert summary["mock_cpu_us_per_reply"] == {"median": 95.0, "min": 90.0, "max": 150.0}
    assert summary["met"] is True and summary["target_us"] == 100.0
    assert summary["throughput_ratio"]["median"] == 0.8
    report = {**summary, "rounds": rounds, "settings": {"connections": 16, "duration_s": 10.0},
              "environment": {"cpus": 2}, "mock_idle_cpu_s_per_s": 0.002}
    text = proxy_cpu.render(report)
    assert "mock CPU per reply judged: 95 µs (min 90, max 150); target <= 100 µs: met" in text
    assert "throughput through the mock / upstream alone: 0.80x (0.70–0.90)" in text
    assert proxy_cpu.summary([round_of(101.0, 1.0, 1)])["met"] is False
    assert proxy_cpu.summary([]) == {}


def test_the_proxy_runs_this_trees_mock_in_front_of_the_upstream_with_the_reference_credential() -> None:
    spec = proxy_cpu.proxy_spec("http://127.0.0.1:9999")
    command = spec.command(4321)
    assert command[:3] == [sys.executable, "-m", "mockserver"]
    assert command[command.index("--upstream") + 1] == "http://127.0.0.1:9999"
    assert command[command.index("--port") + 1] == "4321"
    assert "--token" not in command  # the upstream decides who may read
    assert spec.headers == servers.REFERENCE.headers


def test_every_validator_accepts_the_typical_body_and_refuses_both_broken_ones() -> None:
    measured = validators.measure(count=20, oracle_count=1, rounds=1)
    names = set(measured["results"])
    assert {"jsonschema-rs is_valid", "jsonschema-rs validate", "openapi-core unmarshal_response"} <= names
    if importlib.util.find_spec("fastjsonschema") is not None:
        assert "fastjsonschema" in names and not measured["missing"]
    else:
        assert measured["missing"] and measured["missing"][0].startswith("fastjsonschema: not installed")
    for name, row in measured["results"].items():
        assert row["accepts_typical_body"], name
        assert row["refuses_count_as_string"], name
        assert row["refuses_2026_02_30"], name
        assert row["us_median"] > 0 and row["validations_per_round"] == (1 if "openapi-core" in name else 20)
    report = {**measured, "settings": {"rounds": 1}}
    assert "openapi-core unmarshal_response" in validators.render(report)


def test_the_typical_body_is_the_usage_200_schemas_shape() -> None:
    from crosmos_contract.loader import load_contract

    schema = validators.usage_schema(load_contract().resolved)
    body = validators.typical_body()
    assert set(json.loads(body)) == set(schema["required"])


def test_the_cold_start_line_quotes_the_median_against_half_a_second() -> None:
    cold = {"runs_s": [0.41, 0.52, 0.45], "median_s": 0.45, "target_s": 0.5, "uncached_runs_s": [0.6, 0.7, 0.65],
            "uncached_median_s": 0.65}
    text = coldstart.render(cold)
    assert text.splitlines()[0] == ("cold start to the first 200: median 0.450 s of 3 (0.410, 0.520, 0.450); "
                                    "target < 0.5 s: met")
    assert "NOT met" in coldstart.render({**cold, "median_s": 0.5})


@pytest.mark.parametrize("argv", [["--starts", "0"]])
def test_a_cold_start_count_below_one_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        coldstart.main(argv)

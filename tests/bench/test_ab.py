"""bench.ab: its windows never repeat, its ratios are paired, and a child measures the tree it names."""

from __future__ import annotations

import pytest

from bench import ab


def test_distinct_windows_never_repeat() -> None:
    queries = [ab.distinct_query(n) for n in range(1, 20_001)]
    assert len(set(queries)) == len(queries)
    assert all(q.startswith("start_date=") and "&end_date=" in q for q in queries[:10])


def test_ratios_are_paired_per_turn() -> None:
    comparison = ab.Comparison(
        before=[{"distinct_us": 100.0, "repeat_us": 10.0}, {"distinct_us": 200.0, "repeat_us": 20.0}],
        after=[{"distinct_us": 90.0, "repeat_us": 10.0}, {"distinct_us": 190.0, "repeat_us": 22.0}],
        again=[{"distinct_us": 110.0, "repeat_us": 10.0}, {"distinct_us": 200.0, "repeat_us": 20.0}])
    distinct = comparison.summary("distinct_us")
    assert distinct["ratio_min"] == pytest.approx(0.9) and distinct["ratio_max"] == pytest.approx(0.95)
    assert distinct["aa_max"] == pytest.approx(1.1) and distinct["aa_min"] == pytest.approx(1.0)
    assert comparison.summary("repeat_us")["ratio_max"] == pytest.approx(1.1)
    assert "B/A" in ab.render(comparison, "old", "new")


def test_a_child_measures_the_mock_of_the_tree_it_names() -> None:
    figures = ab._child(ab.ROOT, rounds=1, distinct=5, repeat=5)
    assert set(figures) == set(ab.WORKLOADS) and all(value > 0 for value in figures.values())


def test_bad_counts_are_refused_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ab.main(["HEAD", "--pairs", "0"])
    assert "--pairs must be at least 1" in capsys.readouterr().err

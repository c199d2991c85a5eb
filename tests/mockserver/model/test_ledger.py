"""The ledger's arithmetic: additive windows, monotone cumulative usage, determinism."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crosmos_contract import rules
from mockserver.model.ledger import PLANS, UsageLedger

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def ledger() -> UsageLedger:
    return UsageLedger(seed=7)


def test_used_over_a_window_is_the_sum_of_its_days(ledger: UsageLedger) -> None:
    profile = ledger.profile("key:additive")
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    days = [start + timedelta(n) for n in range((end - start).days + 1)]
    for metric in rules.METRIC_NAMES:
        by_day = sum(ledger.used(profile, metric, d, d, TODAY) for d in days)
        assert ledger.used(profile, metric, start, end, TODAY) == by_day


def test_daily_usage_is_never_negative_and_weekends_are_quieter(ledger: UsageLedger) -> None:
    profile = ledger.profile("key:weekly")
    start = max(date.fromordinal(profile.created), date(2025, 1, 6))  # a Monday
    days = [start + timedelta(n) for n in range(7 * 20)]
    tokens = [ledger.used(profile, "tokens", d, d, TODAY) for d in days]
    assert min(tokens) >= 0
    weekdays = sum(t for d, t in zip(days, tokens, strict=True) if d.weekday() < 5) / 100
    weekends = sum(t for d, t in zip(days, tokens, strict=True) if d.weekday() >= 5) / 40
    assert weekends < weekdays


def test_no_usage_after_today_or_before_the_org_existed(ledger: UsageLedger) -> None:
    profile = ledger.profile("key:future")
    future = TODAY + timedelta(days=1)
    assert ledger.used(profile, "tokens", future, date(9999, 12, 31), TODAY) == 0
    before = date.fromordinal(profile.created) - timedelta(days=1)
    assert ledger.used(profile, "tokens", date(1, 1, 1), before, TODAY) == 0


def test_same_seed_same_org_same_report_and_seeds_differ() -> None:
    window = (date(2026, 11, 1), TODAY, TODAY)
    first = UsageLedger(seed=1).report("key:a", *window).as_body()
    assert first == UsageLedger(seed=1).report("key:a", *window).as_body()
    others = {str(UsageLedger(seed=s).report("key:a", *window).as_body()) for s in range(2, 12)}
    assert str(first) not in others and len(others) == 10


def test_plans_cover_free_to_enterprise_with_some_unlimited() -> None:
    ledger = UsageLedger(seed=3)
    seen = {ledger.profile(f"key:{n}").plan.name for n in range(200)}
    assert seen == set(PLANS)
    assert any(-1 in plan.limits.values() for plan in PLANS.values())
    assert PLANS["free"].rate_limit_rpm == 60 and PLANS["pro"].rate_limit_rpm == 600


def test_token_counts_are_realistic_magnitudes() -> None:
    ledger = UsageLedger(seed=0)
    month = [ledger.report(f"key:{n}", date(2026, 10, 1), date(2026, 10, 31), TODAY) for n in range(100)]
    pro = [r.metrics["tokens"].used for r in month if r.plan == "pro"]
    assert pro and 1_000_000 <= sorted(pro)[len(pro) // 2] <= 15_000_000


def test_whole_calendar_window_answers_at_once(ledger: UsageLedger) -> None:
    report = ledger.report("key:huge", date(1, 1, 1), date(9999, 12, 31), TODAY)
    assert report.metrics["tokens"].used > 0
    assert report.metrics["tokens"].used == ledger.report("key:huge", date(1, 1, 1), TODAY, TODAY).metrics[
        "tokens"].used

"""Named data presets for ``GET /api/v1/usage``: every UI state a frontend must show, all within the contract.

A scenario fixes a plan and, per metric, how much of the limit the org has used over the current
billing period (the 1st of the month through today). Usage stays a per-day quantity, so ``used``
over any window is still the sum of its days: a cumulative count per day, linear within the
current month and at the same monthly pace before it, non-decreasing by construction. That keeps
every window rule (CONSIST-003) and period rule true whatever window a client asks for, and
``remaining`` comes from :func:`crosmos_contract.rules.metric_triples`, so METRIC-003..005 hold too.
The share of the limit is drawn once per (seed, scenario, org, metric), so an org's state is
stable across requests and windows (CONSIST-001, CONSIST-004).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crosmos_contract import rules
from mockserver.model.ledger import PLANS, MetricUsage, Plan, UsageLedger, UsageReport

DEFAULT = "default"
UNLIMITED = rules.UNLIMITED
_DAYS_PER_MONTH = 30  # pace before the current month: the period's total every 30 days


@dataclass(frozen=True)
class Share:
    """Used over the current billing period, as a share of the limit: ``low <= used / limit <= high``."""

    low: float
    high: float

    def total(self, limit: int, key: str) -> int:
        low = math.ceil(self.low * limit)
        high = max(low, math.floor(self.high * limit))
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return low + int.from_bytes(digest, "big") % (high - low + 1)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    plan: Plan | None = None  # None: the org's own plan from the ledger
    shares: Mapping[str, Share] = field(default_factory=dict)  # metrics not named keep the ledger's usage

    def report(self, ledger: UsageLedger, org_key: str, start: date, end: date, today: date,
               extra: Mapping[str, int] | None = None) -> UsageReport:
        """Usage of ``org_key`` over ``start..end`` as seen on ``today``, plus live ``extra`` usage."""
        profile, used = ledger.usage(org_key, self._from_ledger, start, end, today)
        plan = self.plan or profile.plan
        limits, shares = plan.limits, self.shares
        drawn = [name for name in rules.METRIC_NAMES if name in shares and limits[name] != UNLIMITED]
        if drawn:
            month_start = rules.first_of_month(today).toordinal()
            created = min(profile.created, month_start)
            for name in drawn:
                total = shares[name].total(limits[name], f"{ledger.seed}|{self.name}|{org_key}|{name}")
                used[name] = _linear_used(total, created, month_start, today.toordinal(), start.toordinal(),
                                          end.toordinal())
        extra = extra or {}
        metrics = {name: MetricUsage(used[name] + extra.get(name, 0), limits[name]) for name in rules.METRIC_NAMES}
        return UsageReport(plan.name, start, end, metrics, plan.rate_limit_rpm, plan.rate_limit_per_day)

    @functools.cached_property
    def _from_ledger(self) -> tuple[str, ...]:
        """The metrics whose usage is the ledger's: those without a share, or unlimited in the plan
        (every metric when the plan is the org's own, known only from its profile)."""
        if self.plan is None:
            return rules.METRIC_NAMES
        return tuple(name for name in rules.METRIC_NAMES
                     if name not in self.shares or self.plan.limits[name] == UNLIMITED)

    def plan_for(self, ledger: UsageLedger, org_key: str) -> Plan:
        return self.plan or ledger.profile(org_key).plan

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "plan": self.plan.name if self.plan else "the org's own"}


def _linear_used(total: int, created: int, month_start: int, today: int, start: int, end: int) -> int:
    """Used over ``start..end`` (ordinals) when the current month through today used exactly ``total``."""
    last = min(end, today)
    if last < start:
        return 0
    days_so_far = today - month_start + 1

    def cumulative(day: int) -> int:
        if day < created:
            return 0
        if day < month_start:
            return total * (day - created + 1) // _DAYS_PER_MONTH
        before = total * (month_start - created) // _DAYS_PER_MONTH
        return before + total * (min(day, today) - month_start + 1) // days_so_far

    return cumulative(last) - cumulative(start - 1)


_UNLIMITED_PLAN = Plan("enterprise", {name: UNLIMITED for name in rules.METRIC_NAMES}, UNLIMITED, UNLIMITED,
                       PLANS["enterprise"].typical_daily)
_ALL = rules.METRIC_NAMES

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(DEFAULT, "Realistic usage",
                 "The org's own plan (free, pro, team or enterprise, by token) and its usage so far."),
        Scenario("fresh", "Nothing used yet",
                 "A new org on the free plan: used 0, remaining equals the limit, for every window.",
                 PLANS["free"], {name: Share(0.0, 0.0) for name in _ALL}),
        Scenario("near-limit", "Close to the limit",
                 "Pro plan; every metric has used 90-99 % of its limit this billing period.",
                 PLANS["pro"], {name: Share(0.90, 0.99) for name in _ALL}),
        Scenario("exhausted", "Quota used up",
                 "Free plan; every metric has used exactly its limit this billing period: remaining 0.",
                 PLANS["free"], {name: Share(1.0, 1.0) for name in _ALL}),
        Scenario("over-quota", "Over the quota",
                 "Free plan; every metric has used 105-150 % of its limit: used > limit, remaining 0.",
                 PLANS["free"], {name: Share(1.05, 1.5) for name in _ALL}),
        Scenario("unlimited", "Unlimited everything",
                 "Enterprise plan with every limit and rate limit -1 (unlimited): remaining -1.",
                 _UNLIMITED_PLAN),
        Scenario("mixed", "One of each",
                 "Team plan: tokens near the limit (90-99 %), queries exhausted (remaining 0), "
                 "spaces unlimited (-1).",
                 PLANS["team"], {"tokens": Share(0.90, 0.99), "queries": Share(1.0, 1.0)}),
    )
}


class UnknownScenarioError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name`` (case-insensitive); UnknownScenarioError names the valid ones."""
    scenario = SCENARIOS.get(name) or SCENARIOS.get(name.strip().lower())
    if scenario is None:
        raise UnknownScenarioError(name)
    return scenario


def names() -> list[str]:
    return list(SCENARIOS)


def rate_limit_rpm(scenario: str, ledger: UsageLedger, org_key: str) -> int:
    """The requests per minute the org's plan allows in ``scenario``: what its usage bodies say,
    and what the rate-limit fault and a requested 429 enforce."""
    return SCENARIOS[scenario].plan_for(ledger, org_key).rate_limit_rpm

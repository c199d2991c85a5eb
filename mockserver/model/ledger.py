"""The semantic usage model: a deterministic daily ledger per org.

seed + org → a plan, its limits (some unlimited), a creation day and daily usage rates. Usage
is kept as a *cumulative* count per day, monotone by construction, so ``used`` over any window
is ``F(end) - F(start - 1)``: the sum of the window's days, computed in O(1) whatever the
window (``0001-01-01..9999-12-31`` included). Days after today have no usage yet. Remaining
comes from :func:`crosmos_contract.rules.metric_triples`, so every METRIC rule holds by construction.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from crosmos_contract import rules
from mockserver.store.caches import BoundedCache

UNLIMITED = rules.UNLIMITED
_WEEKDAY_WEIGHTS = (1.15, 1.2, 1.2, 1.15, 1.0, 0.35, 0.3)  # Monday..Sunday: teams work weekdays
_WEEK_TOTAL = sum(_WEEKDAY_WEIGHTS)
_WEEK_PREFIX = tuple(sum(_WEEKDAY_WEIGHTS[:i]) for i in range(8))
_MIN_WEIGHT = min(_WEEKDAY_WEIGHTS)


@dataclass(frozen=True)
class Plan:
    name: str
    limits: Mapping[str, int]  # per billing period; -1 is unlimited
    rate_limit_rpm: int
    rate_limit_per_day: int
    typical_daily: Mapping[str, float]  # usage per weekday of an org on this plan at 100 % pace


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("free", {"tokens": 1_000_000, "queries": 10_000, "spaces": 3}, 60, 1_000,
             {"tokens": 33_000, "queries": 330, "spaces": 0.1}),
        Plan("pro", {"tokens": 10_000_000, "queries": 100_000, "spaces": 25}, 600, 20_000,
             {"tokens": 330_000, "queries": 3_300, "spaces": 0.8}),
        Plan("team", {"tokens": 50_000_000, "queries": 500_000, "spaces": UNLIMITED}, 1_200, 100_000,
             {"tokens": 1_650_000, "queries": 16_500, "spaces": 2.0}),
        Plan("enterprise", {"tokens": UNLIMITED, "queries": UNLIMITED, "spaces": UNLIMITED}, 6_000,
             UNLIMITED, {"tokens": 9_000_000, "queries": 90_000, "spaces": 6.0}),
    )
}
_PLAN_WEIGHTS = (("free", 30), ("pro", 40), ("team", 20), ("enterprise", 10))
_EPOCH = date(2019, 1, 1).toordinal()
_CREATION_SPAN_DAYS = 6 * 365  # orgs were created between 2019 and 2024


class MetricUsage(NamedTuple):
    used: int
    limit: int  # -1 is unlimited


@dataclass(frozen=True)
class UsageReport:
    """What the server knows about one org over one window; :meth:`as_body` is the 200 body."""

    plan: str
    period_start: date
    period_end: date
    metrics: Mapping[str, MetricUsage]
    rate_limit_rpm: int
    rate_limit_per_day: int

    def as_body(self) -> dict[str, Any]:
        return {"plan": self.plan, "period_start": self.period_start.isoformat(),
                "period_end": self.period_end.isoformat(), **rules.metric_triples(self.metrics),
                "rate_limit_rpm": self.rate_limit_rpm, "rate_limit_per_day": self.rate_limit_per_day}


@dataclass(frozen=True)
class OrgProfile:
    org_key: str
    plan: Plan
    created: int  # ordinal of the org's first day
    daily_rate: Mapping[str, float]  # usage on a weight-1.0 day
    jitter: Mapping[str, float]  # amplitude of day-to-day noise, <= rate * lightest weekday weight


@dataclass
class UsageLedger:
    """Deterministic per-org usage for a seed; cheap to query, no state but a profile cache."""

    seed: int = 0
    # Bounded: tokens are user input. A profile is a pure function of the seed and the org key.
    _profiles: BoundedCache[str, OrgProfile] = field(default_factory=lambda: BoundedCache(10_000), repr=False)

    def profile(self, org_key: str) -> OrgProfile:
        found = self._profiles.get(org_key)
        if found is None:
            found = self._make_profile(org_key)
            self._profiles.put(org_key, found)
        return found

    def report(self, org_key: str, start: date, end: date, today: date,
               plan: Plan | None = None) -> UsageReport:
        """Usage of ``org_key`` over ``start..end`` (inclusive) as seen on ``today``."""
        profile, used = self.usage(org_key, rules.METRIC_NAMES, start, end, today)
        chosen = plan or profile.plan
        metrics = {name: MetricUsage(used[name], chosen.limits[name]) for name in rules.METRIC_NAMES}
        return UsageReport(chosen.name, start, end, metrics, chosen.rate_limit_rpm, chosen.rate_limit_per_day)

    def usage(self, org_key: str, metrics: Iterable[str], start: date, end: date,
              today: date) -> tuple[OrgProfile, dict[str, int]]:
        """The org's profile, and :meth:`used` of each of ``metrics`` by name: what a report asks
        the ledger, in one question."""
        profile = self.profile(org_key)
        return profile, {metric: self.used(profile, metric, start, end, today) for metric in metrics}

    def used(self, profile: OrgProfile, metric: str, start: date, end: date, today: date) -> int:
        last = min(end.toordinal(), today.toordinal())
        if last < start.toordinal():
            return 0
        return self._cumulative(profile, metric, last) - self._cumulative(profile, metric, start.toordinal() - 1)

    def _cumulative(self, profile: OrgProfile, metric: str, day: int) -> int:
        """Usage from the org's creation through ``day`` (an ordinal); non-decreasing in ``day``.

        Between consecutive days the smooth part grows by ``rate * weight >= rate * lightest
        weight`` while the noise can fall by at most ``jitter <= that``, so the floor never drops.
        """
        if day < profile.created:
            return 0
        rate, jitter = profile.daily_rate[metric], profile.jitter[metric]

        def smooth(n: int) -> float:
            weeks, rest = divmod(n - profile.created + 1, 7)
            offset = (profile.created - 1) % 7  # weekday of the creation day (ordinal 1 is a Monday)
            return rate * (weeks * _WEEK_TOTAL + _rotated_prefix(offset, rest))

        value = smooth(day) + jitter * self._noise(profile.org_key, metric, day)
        base = jitter * self._noise(profile.org_key, metric, profile.created - 1)
        return max(math.floor(value) - math.floor(base), 0)

    def _noise(self, org_key: str, metric: str, day: int) -> float:
        digest = hashlib.blake2b(f"{self.seed}|{org_key}|{metric}|{day}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _make_profile(self, org_key: str) -> OrgProfile:
        draw = _Draws(f"{self.seed}|{org_key}")
        plan = PLANS[draw.weighted(_PLAN_WEIGHTS)]
        created = _EPOCH + int(draw.uniform(0, _CREATION_SPAN_DAYS))
        pace = draw.uniform(0.15, 1.1)  # share of the monthly quota this org burns per month
        rates = {}
        for name in rules.METRIC_NAMES:
            limit = plan.limits[name]
            typical = plan.typical_daily[name] if limit == UNLIMITED else limit / (_WEEK_TOTAL * 30 / 7)
            rates[name] = typical * pace * draw.uniform(0.8, 1.2)
        rates["spaces"] = min(rates["spaces"], plan.typical_daily["spaces"])
        jitter = {name: 0.9 * rate * _MIN_WEIGHT for name, rate in rates.items()}
        return OrgProfile(org_key, plan, created, rates, jitter)


def _rotated_prefix(offset: int, count: int) -> float:
    """Sum of ``count`` (< 7) consecutive weekday weights starting at weekday ``offset``."""
    end = offset + count
    if end <= 7:
        return _WEEK_PREFIX[end] - _WEEK_PREFIX[offset]
    return (_WEEK_PREFIX[7] - _WEEK_PREFIX[offset]) + _WEEK_PREFIX[end - 7]


class _Draws:
    """A stream of deterministic pseudo-random numbers from a text key."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._count = 0

    def unit(self) -> float:
        self._count += 1
        digest = hashlib.blake2b(f"{self._key}#{self._count}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.unit()

    def weighted(self, choices: tuple[tuple[str, int], ...]) -> str:
        pick = self.unit() * sum(weight for _, weight in choices)
        for name, weight in choices:
            pick -= weight
            if pick < 0:
                return name
        return choices[-1][0]

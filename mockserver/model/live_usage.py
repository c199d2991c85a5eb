"""Live usage (opt-in): calls made against an org raise its ``used`` during the day.

With ``--live-usage queries`` (or ``tokens:1500``: 1,500 tokens a call) every successful API call
an org makes is added to that org's usage *today*; ``POST /__mock/usage`` adds any amount. The
additions are per day, so the rules still hold: ``used`` over a window is the generated usage of
its days plus the additions of its days (a wider window never uses less, CONSIST-003), additions
only ever grow (CONSIST-002), limits and plans do not change (CONSIST-001), and remaining is
recomputed through :func:`crosmos_contract.rules.remaining_for` (METRIC-003..005). Shared by every worker.
"""

from __future__ import annotations

from datetime import date

from crosmos_contract import rules
from mockserver.store.shared import SharedStore

MAX_AMOUNT = 10**12  # one addition
MAX_DAILY = 10**15  # per org, metric and day: sums over any window stay far from SQLite's 64-bit limit


def parse_live_usage(text: str) -> tuple[str, int]:
    """``"queries"`` → ("queries", 1); ``"tokens:1500"`` → ("tokens", 1500). ValueError otherwise."""
    metric, _, step_text = text.strip().partition(":")
    metric = metric.strip().lower()
    if metric not in rules.METRIC_NAMES:
        raise ValueError(f"{text!r}: the metric is one of {', '.join(rules.METRIC_NAMES)} "
                         "(optionally with an amount per call, e.g. tokens:1500)")
    try:
        step = int(step_text) if step_text else 1
    except ValueError:
        raise ValueError(f"{text!r}: the amount per call must be a whole number") from None
    if not 1 <= step <= MAX_AMOUNT:
        raise ValueError(f"{text!r}: the amount per call must be between 1 and {MAX_AMOUNT}")
    return metric, step


class LiveUsage:
    def __init__(self, store: SharedStore, metric: str, step: int = 1) -> None:
        self._store = store
        self.metric = metric
        self.step = step

    def count_call(self, org: str, today: date) -> None:
        self.add(org, today, self.metric, self.step)

    def add(self, org: str, day: date, metric: str, amount: int) -> None:
        self._store.connection().execute(
            "INSERT INTO live_usage (org, day, metric, amount) VALUES (?, ?, ?, ?) ON CONFLICT (org, day, metric) "
            "DO UPDATE SET amount = min(amount + excluded.amount, ?)",
            (org, day.toordinal(), metric, amount, MAX_DAILY))

    def extra(self, org: str, start: date, end: date) -> dict[str, int]:
        """Additions per metric over ``start..end`` (inclusive)."""
        rows = self._store.connection().execute(
            "SELECT metric, SUM(amount) FROM live_usage WHERE org = ? AND day BETWEEN ? AND ? GROUP BY metric",
            (org, start.toordinal(), end.toordinal()))
        return {metric: int(total) for metric, total in rows}

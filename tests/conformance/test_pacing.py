"""Pacing and refusals: parsed as servers send them; the pace learned from 429s, with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conformance.pacing import MIN_RATE, SPEED_UP_AFTER, Pacer, is_refusal, parse_rate, parse_retry_after


@pytest.mark.parametrize(("text", "per_second"), [("10/s", 10.0), ("600/m", 10.0), ("2.5 / sec", 2.5),
                                                  ("90/min", 1.5), ("1/second", 1.0)])
def test_rates_read_as_requests_per_second(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["10", "0/s", "-1/s", "ten/s", "10/h", ""])
def test_a_rate_that_is_not_one_names_the_forms_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="N/s or N/m"):
        parse_rate(text)


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Sun, 06 Dec 2026 12:00:05 GMT", lambda: now) == 5.0
    assert parse_retry_after("Sun, 06 Dec 2026 11:59:00 GMT", lambda: now) == 0.0  # in the past: at once
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_refusal_is_429_or_503_that_says_when_to_come_back() -> None:
    assert is_refusal(429, None) and is_refusal(429, "1") and is_refusal(503, "2")
    assert not is_refusal(503, None)  # a plain 503 is a server error: STATUS-002 judges it
    assert not is_refusal(200, "1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_fixed_rate_spaces_every_request() -> None:
    clock = FakeClock()
    pacer = Pacer(4.0, clock=clock)
    waits = [pacer.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_unpaced_until_refused_then_half_the_rate_sent_and_everyone_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(clock=clock)
    for _ in range(40):  # 40 requests within one second, unpaced
        assert pacer.reserve() == 0.0
        clock.now += 0.025
    pacer.refused(wait=1.0)
    first = pacer.reserve()
    assert first == pytest.approx(1.0)  # the Retry-After holds every sender back
    second = pacer.reserve()
    assert second - first == pytest.approx(1 / 20, rel=0.05)  # half of the 40 req/s that were sent
    assert pacer.report().refusals == 1 and pacer.report().paced_at == pytest.approx(20.0, rel=0.05)


def test_answers_in_a_row_raise_the_pace_again_but_never_above_a_fixed_rate() -> None:
    clock = FakeClock()
    learned = Pacer(clock=clock)
    learned.reserve()
    learned.refused(0.0)
    slow = learned.report().paced_at
    assert slow is not None and slow >= MIN_RATE
    for _ in range(SPEED_UP_AFTER):
        learned.answered()
    assert learned.report().paced_at == pytest.approx(slow * 1.1, rel=1e-3)

    fixed = Pacer(5.0, clock=clock)
    fixed.refused(0.0)
    for _ in range(SPEED_UP_AFTER * 3):
        fixed.answered()
    assert fixed.report().paced_at == pytest.approx(5.0)


def test_what_was_waited_and_given_up_is_reported() -> None:
    pacer = Pacer(clock=FakeClock())
    pacer.record_wait(1.5, retried=True)
    pacer.gave_up(beyond_budget=120.0)
    report = pacer.report()
    assert (report.retries, report.waited_s, report.unanswered, report.beyond_budget) == (1, 1.5, 1, 120.0)

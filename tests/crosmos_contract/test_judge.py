"""The one judge on hand-made exchanges: each rule fires on its own defect, and only then."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crosmos_contract.exchange import Exchange, ReceivedResponse, SentRequest
from crosmos_contract.judge import JudgeSettings, judge, judge_as_written, judge_operation

TOKEN = "csk_user_token_12345678"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# As the suite runs it: schemathesis' not_a_server_error reports 5xx replies there.
SETTINGS = JudgeSettings(token=TOKEN, zone=UTC, max_response_time=2.0, request_timeout=10.0, server_errors=False)
REPORTING = JudgeSettings(token=TOKEN, zone=UTC)
BEARER = ("Authorization", f"Bearer {TOKEN}")


def usage(start: str = "2026-11-01", end: str = "2026-11-25", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "plan": "pro", "period_start": start, "period_end": end,
        "tokens": {"used": 100, "limit": 1000, "remaining": 900},
        "queries": {"used": 5, "limit": 50, "remaining": 45},
        "spaces": {"used": 2, "limit": -1, "remaining": -1},
        "rate_limit_rpm": 60, "rate_limit_per_day": 10_000,
    }
    body.update(changes)
    return body


def exchange(query: str = "", status: int = 200, body: Any = None, *, headers: tuple[tuple[str, str], ...] = (BEARER,),
             method: str = "GET", response_headers: dict[str, str] | None = None, elapsed: float = 0.01,
             now: datetime = NOW, raw: bytes | None = None) -> Exchange:
    url = "http://127.0.0.1:9/api/v1/usage" + (f"?{query}" if query else "")
    reply_headers = {"Content-Type": "application/json", "Date": now.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    reply_headers.update(response_headers or {})
    content = raw if raw is not None else json.dumps(body if body is not None else usage()).encode()
    response = ReceivedResponse(status, tuple(reply_headers.items()), content, elapsed)
    return Exchange(SentRequest(method, url, headers), response, now, now, "test")


def failed(ex: Exchange) -> set[str]:
    return {v.rule_id for v in judge(ex, SETTINGS).violations}


def test_a_correct_default_window_passes() -> None:
    verdict = judge(exchange(), SETTINGS)
    assert not verdict.violations
    assert {"PERIOD-001", "PERIOD-002", "STATUS-001", "METRIC-005"} <= verdict.evaluated


def test_wrong_defaults_and_echo_come_from_the_rules_module() -> None:
    assert failed(exchange(body=usage(start="2026-10-25"))) == {"PERIOD-001"}
    assert failed(exchange(body=usage(end="2026-11-30"))) == {"PERIOD-002"}
    assert failed(exchange("start_date=2026-10-01", body=usage(start="2026-11-01"))) == {"PERIOD-003"}


def test_today_comes_from_the_date_header_and_a_midnight_straddle_accepts_both_days() -> None:
    just_after_midnight = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
    # The server computed "today" before midnight, stamped Date after it: either month is right.
    straddling = exchange(body=usage(start="2026-11-01", end="2026-11-30"), now=just_after_midnight, elapsed=0.5)
    assert failed(straddling) == set()
    stale = exchange(body=usage(start="2026-11-01", end="2026-11-30"), now=just_after_midnight + timedelta(hours=1))
    assert failed(stale) == {"PERIOD-001", "PERIOD-002"}


def test_the_servers_time_zone_decides_today() -> None:
    from zoneinfo import ZoneInfo

    tokyo = JudgeSettings(token=TOKEN, zone=ZoneInfo("Asia/Tokyo"))
    late_utc = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # already December 1st in Tokyo
    ex = exchange(body=usage(start="2026-12-01", end="2026-12-01"), now=late_utc)
    assert not judge(ex, tokyo).violations
    assert {v.rule_id for v in judge(ex, SETTINGS).violations} == {"PERIOD-001", "PERIOD-002"}


def test_an_inverted_window_must_be_refused() -> None:
    assert failed(exchange("end_date=2026-10-31", body=usage(end="2026-10-31"))) == {"PERIOD-005", "PERIOD-004"}
    refused = {"detail": [{"loc": ["query", "start_date"], "msg": "x", "type": "value_error"}]}
    assert failed(exchange("end_date=2026-10-31", 422, refused)) == set()


def test_a_bad_date_needs_a_422_naming_the_parameter() -> None:
    named = {"detail": [{"loc": ["query", "start_date"], "msg": "bad", "type": "date_from_datetime_parsing"}]}
    assert failed(exchange("start_date=2026-02-30", 422, named)) == set()
    assert failed(exchange("start_date=2026-02-30", 400, named)) == {"STATUS-004", "STATUS-003"}
    assert failed(exchange("start_date=not-a-date", 200)) == {"STATUS-004"}
    body_loc = {"detail": [{"loc": ["body"], "msg": "bad", "type": "x"}]}
    assert failed(exchange("start_date=not-a-date", 422, body_loc)) == {"STATUS-005"}
    assert failed(exchange("start_date=not-a-date", 422, {"error": "invalid date"})) == {"STATUS-005"}


def test_lax_dates_are_a_note_whichever_way_the_server_decides() -> None:
    accepted = judge(exchange("start_date=0", body=usage(start="1970-01-01")), SETTINGS)
    assert not accepted.violations
    assert [n.rule_id for n in accepted.notes] == ["STATUS-004"]
    named = {"detail": [{"loc": ["query", "start_date"], "msg": "bad", "type": "x"}]}
    assert not judge(exchange("start_date=0", 422, named), SETTINGS).violations


def test_unknown_parameters_should_be_ignored() -> None:
    assert failed(exchange("extra=1")) == set()
    names_it = {"detail": [{"loc": ["query", "extra"], "msg": "Extra inputs are not permitted", "type": "x"}]}
    assert failed(exchange("extra=1", 422, names_it)) == {"STATUS-007"}
    names_a_date = {"detail": [{"loc": ["query", "start_date"], "msg": "too old", "type": "x"}]}
    assert failed(exchange("start_date=2000-01-01&extra=1", 422, names_a_date)) == {"STATUS-001"}


def test_extreme_dates_may_be_refused_but_never_crash() -> None:
    named = {"detail": [{"loc": ["query", "end_date"], "msg": "x", "type": "x"}]}
    assert failed(exchange("start_date=2026-10-01&end_date=9999-12-31", 422, named)) == set()
    assert failed(exchange("start_date=0001-01-01", 500, raw=b"Internal Server Error")) == {"PERIOD-006"}


@pytest.mark.parametrize(("authorization", "check_id"), [
    (None, "AUTH-001"), ("Basic eDp5", "AUTH-002"), ("Bearer", "AUTH-002"), ("Bearer garbage", "AUTH-003"),
])
def test_rejected_credentials_must_get_401_or_403(authorization: str | None, check_id: str) -> None:
    headers = () if authorization is None else (("Authorization", authorization),)
    challenge = {"WWW-Authenticate": "Bearer"}
    assert failed(exchange(status=401, body={"detail": "Not authenticated"}, headers=headers,
                           response_headers=challenge)) == set()
    assert failed(exchange(status=403, body={"detail": "Not authenticated"}, headers=headers)) == set()
    assert failed(exchange(headers=headers)) == {check_id}
    assert failed(exchange(status=400, body={"detail": "x"}, headers=headers)) == {check_id}


def test_a_401_carries_a_bearer_challenge() -> None:
    assert failed(exchange(status=401, body={"detail": "x"}, headers=())) == {"AUTH-004"}


def test_valid_credentials_must_not_be_refused() -> None:
    assert failed(exchange(status=401, body={"detail": "x"}, response_headers={"WWW-Authenticate": "Bearer"})) == {
        "STATUS-001"}


def test_metric_rules_come_from_the_rules_module() -> None:
    over = usage(tokens={"used": 1500, "limit": 1000, "remaining": -500})
    assert failed(exchange(body=over)) == {"METRIC-004"}
    assert failed(exchange(body=usage(spaces={"used": 2, "limit": -1, "remaining": 0}))) == {"METRIC-003"}
    assert failed(exchange(body=usage(plan=""))) == {"METRIC-008"}


def test_floats_are_not_integers_even_where_json_schema_says_so() -> None:
    assert failed(exchange(body=usage(tokens={"used": 100.0, "limit": 1000, "remaining": 900}))) == {"SCHEMA-001"}


def test_slow_replies_and_silent_servers() -> None:
    assert failed(exchange(elapsed=2.5)) == {"STATUS-008"}
    silent = Exchange(exchange().request, None, NOW, NOW, "test", error="no complete reply before the timeout")
    assert failed(silent) == {"STATUS-008"}
    dropped = Exchange(exchange().request, None, NOW, NOW, "test", error="connection broke")
    assert failed(dropped) == {"STATUS-002"}


def test_other_methods_get_405() -> None:
    assert failed(exchange(status=405, body={"detail": "Method Not Allowed"}, method="POST")) == set()
    assert failed(exchange(status=200, method="POST")) == {"STATUS-003"}
    assert failed(exchange(status=200, method="HEAD", raw=b"")) == set()


def test_oversized_requests_may_be_refused_at_the_transport_level() -> None:
    padding = "x" * 3000
    assert failed(exchange(f"pad={padding}", 414, raw=b"URI Too Long")) == set()
    assert failed(exchange("pad=short", 414, raw=b"URI Too Long")) == {"STATUS-003", "STATUS-007"}


def test_rate_limiting_is_a_note_not_a_failure() -> None:
    verdict = judge(exchange(status=429, body={"detail": "slow down"}), SETTINGS)
    assert not verdict.violations
    assert [n.rule_id for n in verdict.notes] == ["STATUS-003"]




def test_today_is_used_as_given_not_our_clock() -> None:
    long_ago = datetime(2020, 2, 10, 9, 0, tzinfo=UTC)
    assert failed(exchange(body=usage(start="2020-02-01", end="2020-02-10"), now=long_ago)) == set()


def test_a_rule_no_reply_could_break_is_not_exercised() -> None:
    """METRIC-003 is about limit -1: a body without one exercises it not, and must not count as a pass."""
    finite = usage(spaces={"used": 2, "limit": 10, "remaining": 8})
    assert "METRIC-003" not in judge(exchange(body=finite), SETTINGS).evaluated
    assert "METRIC-003" in judge(exchange(), SETTINGS).evaluated  # spaces: limit -1
    unlimited = usage(**{name: {"used": 1, "limit": -1, "remaining": -1} for name in ("tokens", "queries", "spaces")},
                      rate_limit_rpm=-1, rate_limit_per_day=-1)
    evaluated = judge(exchange(body=unlimited), SETTINGS).evaluated
    assert not evaluated & {"METRIC-004", "METRIC-005", "METRIC-007"}


def test_a_run_where_no_reply_has_an_unlimited_metric_reports_metric_003_not_applicable() -> None:
    from conformance.result import Outcome, ResultBuilder

    builder = ResultBuilder()
    verdict = judge(exchange(body=usage(spaces={"used": 2, "limit": 10, "remaining": 8})), SETTINGS)
    builder.exercised(verdict.evaluated)
    outcomes = {check.id: check.outcome for check in builder.checks()}
    assert outcomes["METRIC-003"] is Outcome.NOT_APPLICABLE
    assert outcomes["METRIC-004"] is Outcome.PASS


def test_the_judge_finds_server_errors_itself_except_501_for_an_undefined_method() -> None:
    assert {v.rule_id for v in judge(exchange(status=502, raw=b"bad gateway"), REPORTING).violations} == {"STATUS-002"}
    assert not judge(exchange(status=502, raw=b"bad gateway"), SETTINGS).violations
    assert not judge(exchange(status=501, raw=b"", method="DELETE"), REPORTING).violations
    assert {v.rule_id for v in judge(exchange(status=501, raw=b""), REPORTING).violations} == {"STATUS-002"}


def test_without_a_token_a_bearer_credential_may_be_refused_or_served() -> None:
    unchecked = JudgeSettings(token=None, max_response_time=None)
    challenge = {"WWW-Authenticate": "Bearer"}
    assert not judge(exchange(status=401, body={"detail": "x"}, response_headers=challenge), unchecked).violations
    assert not judge(exchange(status=403, body={"detail": "x"}), unchecked).violations
    assert not judge(exchange(), unchecked).violations
    bare = judge(exchange(status=401, body={"detail": "x"}), unchecked).violations
    assert [v.rule_id for v in bare] == ["AUTH-004"]
    no_credentials = judge(exchange(headers=()), unchecked).violations
    assert [v.rule_id for v in no_credentials] == ["AUTH-001"]


def test_a_violation_carries_what_was_received_and_expected_as_fields() -> None:
    wrong = usage(tokens={"used": 100, "limit": 1000, "remaining": 1})
    [violation] = [v for v in judge(exchange(body=wrong), SETTINGS).violations if v.rule_id == "METRIC-005"]
    assert violation.received.startswith("tokens.remaining = 1 ") and violation.expected.endswith("= 900")
    assert violation.message == f"Received {violation.received} / Expected {violation.expected}"


def test_a_reply_as_written_is_judged_by_what_its_body_means_not_by_the_request() -> None:
    asked = exchange("start_date=2026-01-05", body=usage("2026-03-01", "2026-03-31"))
    assert "PERIOD-003" in {v.rule_id for v in judge(asked, SETTINGS).violations}
    assert not judge_as_written(asked).violations
    wrong = exchange(body=usage(rate_limit_rpm=-5))
    assert [v.rule_id for v in judge_as_written(wrong).violations] == ["METRIC-006"]


def test_another_operation_is_judged_for_server_errors_refusals_without_security_and_schema() -> None:
    other = exchange(status=401, body={"detail": "x"})
    assert [v.rule_id for v in judge_operation(other, requires_auth=False).violations] == ["STATUS-003"]
    assert not judge_operation(other, requires_auth=True).violations
    assert [v.rule_id for v in judge_operation(exchange(status=500, raw=b"x"), requires_auth=True).violations] \
        == ["STATUS-002"]

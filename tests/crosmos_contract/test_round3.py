"""The judge and the rules on the classes round 3 added: the calendar, credentials never issued,
HEAD beside GET, bodies that cannot be read."""

from __future__ import annotations

import dataclasses

import pytest

from crosmos_contract.consistency import check_head_mirrors_get
from crosmos_contract.exchange import derived_from, redact_authorization
from crosmos_contract.judge import judge
from tests.crosmos_contract.test_judge import SETTINGS, TOKEN, exchange, usage


def failed(ex: object) -> set[str]:
    return {v.rule_id for v in judge(ex, SETTINGS).violations}  # type: ignore[arg-type]


@pytest.mark.parametrize("day", ["2100-02-29", "1900-02-29", "2025-02-29", "2025-04-31", "2026-00-15", "2026-01-00",
                                 "9999-12-32", "0001-02-29"])
def test_a_false_date_accepted_is_status_004_in_either_parameter(day: str) -> None:
    assert "STATUS-004" in failed(exchange(f"start_date={day}", body=usage(start="2026-11-01")))
    assert "STATUS-004" in failed(exchange(f"end_date={day}", body=usage(end="2026-11-25")))


def test_a_false_end_date_accepted_claims_no_default() -> None:
    """STATUS-004 is the finding; the period rules take the echo, never 'no end_date, so today'."""
    found = judge(exchange("end_date=2100-02-29", body=usage(end="2100-02-28")), SETTINGS).violations
    assert {v.rule_id for v in found} == {"STATUS-004"}


@pytest.mark.parametrize("day", ["2000-02-29", "1600-02-29", "2400-02-29", "2024-02-29", "0004-02-29", "9996-02-29",
                                 "2025-04-30", "1899-12-31"])
def test_a_real_date_refused_is_status_001(day: str) -> None:
    refused = exchange(f"start_date={day}&end_date={day}", status=422,
                       body={"detail": [{"loc": ["query", "start_date"], "msg": "bad", "type": "x"}]})
    assert "STATUS-001" in failed(refused)
    assert not failed(exchange(f"start_date={day}&end_date={day}", body=usage(start=day, end=day)))


def test_year_0000_is_unclear_either_answer_passes() -> None:
    assert not failed(exchange("start_date=0000-01-01", status=422,
                               body={"detail": [{"loc": ["query", "start_date"], "msg": "bad", "type": "x"}]}))


def test_a_body_that_cannot_be_decoded_is_a_schema_finding_not_a_crash() -> None:
    ex = exchange(raw=b"\x1f\x8b not really gzip", response_headers={"Content-Encoding": "gzip"})
    assert ex.response is not None
    broken = dataclasses.replace(ex, response=dataclasses.replace(ex.response, body=b"",
                                                                  undecodable="a body that cannot be decoded"))
    found = judge(broken, SETTINGS).violations
    assert [v.rule_id for v in found] == ["SCHEMA-001"] and "cannot be decoded" in found[0].received


def test_head_mirrors_get() -> None:
    json_type = "application/json"
    assert check_head_mirrors_get(200, json_type, 300, 405, "application/json", None, 0) == []
    assert check_head_mirrors_get(200, json_type, 300, 501, None, None, 0) == []
    assert check_head_mirrors_get(200, json_type, 300, 200, "application/json; charset=utf-8", "300", 0) == []
    assert check_head_mirrors_get(200, json_type, 300, 200, json_type, None, 0) == []  # Content-Length may be left out
    for status, kind, length, body in ((204, None, None, 0), (200, "text/html", None, 0), (200, json_type, None, 12),
                                       (200, json_type, "1024", 0)):
        found = check_head_mirrors_get(200, json_type, 300, status, kind, length, body)
        assert found and {v.rule_id for v in found} == {"STATUS-009"}


def test_head_and_options_replies_are_judged_by_their_status_only() -> None:
    assert not failed(exchange(method="HEAD", status=405, body={"detail": "Method Not Allowed"}))
    assert not failed(exchange(method="OPTIONS", status=200, raw=b""))
    assert "STATUS-003" in failed(exchange(method="HEAD", status=418, raw=b""))


JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwib3JnIjoiYWNtZSJ9."
       "c2lnbmF0dXJlLW9mLXRoZS1yZWFsLXRva2VuLTEyMzQ1Njc4OTA")


def test_a_tampered_jwt_that_keeps_the_users_signature_is_hidden_as_the_token_is() -> None:
    header, _, signature = JWT.split(".")
    tampered = f"Bearer {header}.eyJzdWIiOiJvdGhlciJ9.{signature}"
    assert derived_from(tampered, JWT)
    assert redact_authorization("Authorization", tampered, JWT) == "Bearer [REDACTED]"
    assert not derived_from("Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwcm9iZSJ9.b3RoZXI", JWT)


def test_any_jwt_but_the_users_is_a_bad_token() -> None:
    other = ("Authorization", "Bearer " + JWT.replace("c2ln", "AAAA"))
    assert "AUTH-003" in failed(exchange(headers=(other,)))
    assert TOKEN != JWT

"""Credentials as CI secrets arrive: stripped with a note, refused without quoting when they cannot be sent."""

from __future__ import annotations

import pytest

from conformance.credentials import CredentialError, clean_token, parse_headers, redact_all

SECRET = "csk_live_needle_0123456789"


def test_surrounding_whitespace_is_stripped_with_a_note() -> None:
    token, note = clean_token(f"  {SECRET}\n", "$CROSMOS_TOKEN")
    assert token == SECRET
    assert note is not None and "$CROSMOS_TOKEN" in note and SECRET not in note
    assert clean_token(SECRET) == (SECRET, None)


@pytest.mark.parametrize("value", [f"{SECRET}\nX-Injected: 1", f"{SECRET[:5]}\r{SECRET[5:]}", f"csk_\x00{SECRET}",
                                   f"csk_\x1b[31m{SECRET}", f"Bearer {SECRET}", "   "])
def test_a_token_that_cannot_be_sent_is_refused_without_quoting_it(value: str) -> None:
    with pytest.raises(CredentialError) as caught:
        clean_token(value)
    assert SECRET not in str(caught.value)


def test_headers_are_parsed_as_curl_takes_them() -> None:
    headers, notes = parse_headers(["X-Gateway-Key: abc123def", "X-Env:staging ", "X-Empty:"])
    assert headers == (("X-Gateway-Key", "abc123def"), ("X-Env", "staging"), ("X-Empty", ""))
    assert len(notes) == 1 and "X-Env" in notes[0] and "staging" not in notes[0]


@pytest.mark.parametrize(("text", "words"), [
    (f"X-Key {SECRET}", "is not 'Name: value'"),
    (f"X Key: {SECRET}", "not a valid HTTP field name"),
    (f"X-Key: {SECRET}\r\nX-Other: 1", "line break"),
    (f"X-Key: {SECRET}\x07", "control character"),
    (f"Authorization: Bearer {SECRET}", "--token"),
    (f"Host: {SECRET}", "base URL"),
])
def test_a_header_that_cannot_be_sent_is_refused_without_quoting_its_value(text: str, words: str) -> None:
    with pytest.raises(CredentialError, match=words) as caught:
        parse_headers([text])
    assert SECRET not in str(caught.value)


def test_every_secret_is_redacted_longest_first_and_short_values_are_left_alone() -> None:
    text = f"sent {SECRET} and {SECRET[:12]} and a 1"
    assert redact_all(text, [SECRET[:12], SECRET, "1"]) == "sent [REDACTED] and [REDACTED] and a 1"

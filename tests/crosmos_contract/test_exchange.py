"""Reproducers: one paste away, and the user's token never in them."""

from __future__ import annotations

import shlex

from crosmos_contract.exchange import REDACTED, SentRequest, redact

TOKEN = "csk_user_SECRET_12345678"


def test_the_users_token_is_redacted_and_the_request_reproducible() -> None:
    request = SentRequest("GET", "http://127.0.0.1:8000/api/v1/usage?start_date=2026-11-01",
                          (("Authorization", f"Bearer {TOKEN}"), ("User-Agent", "python-requests/2")))
    curl = request.curl(TOKEN)
    assert TOKEN not in curl
    assert shlex.split(curl) == ["curl", "-sS", "-i", "http://127.0.0.1:8000/api/v1/usage?start_date=2026-11-01",
                                 "-H", f"Authorization: Bearer {REDACTED}"]
    assert TOKEN not in request.describe(TOKEN)


def test_made_up_credentials_are_shown_so_the_probe_reproduces() -> None:
    request = SentRequest("GET", "http://h/api/v1/usage", (("Authorization", "Bearer this-is-not-a-token"),))
    assert "this-is-not-a-token" in request.curl(TOKEN)
    assert "Bearer'" in SentRequest("GET", "http://h/", (("Authorization", "Bearer"),)).curl(TOKEN) + "'"


def test_with_no_token_known_every_credential_is_hidden() -> None:
    request = SentRequest("POST", "http://h/api/v1/usage", (("Authorization", "Basic eDp5"),))
    assert request.curl() == f"curl -sS -i -X POST http://h/api/v1/usage -H 'Authorization: Basic {REDACTED}'"


def test_redact_is_a_last_line_of_defence() -> None:
    assert redact(f"echoed {TOKEN} back", TOKEN) == f"echoed {REDACTED} back"
    assert redact("nothing here", "") == "nothing here"


def test_control_characters_are_escaped_for_the_terminal() -> None:
    from crosmos_contract.exchange import printable

    assert printable("plain text, ünïcode") == "plain text, ünïcode"
    assert printable("red \x1b[31m bell \x07") == "red \\x1b[31m bell \\x07"


def test_credentials_derived_from_the_token_are_hidden_in_reproducers() -> None:
    """A character off, the case flipped or the token inside Basic would give the secret away."""
    import base64

    from crosmos_contract.exchange import SentRequest

    token = "csk_exchange_SECRET_9876"
    derived = [f"Bearer {token[:-1]}", f"Bearer {token}0", f"Bearer {token[:-1]}X", f"Bearer {token.swapcase()}",
               token, f"Token {token}", "Basic " + base64.b64encode(f"{token}:".encode()).decode()]
    for value in derived:
        curl = SentRequest("GET", "http://127.0.0.1:9/api/v1/usage", (("Authorization", value),)).curl(token)
        assert "SECRET" not in curl.upper().replace("[REDACTED]", "") and "[REDACTED]" in curl, curl
    made_up = SentRequest("GET", "http://127.0.0.1:9/api/v1/usage", (("Authorization", "Bearer garbage"),))
    assert "Bearer garbage" in made_up.curl(token)  # an invented credential is no secret: shown

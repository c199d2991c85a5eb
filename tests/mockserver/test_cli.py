"""The first screen ``crosmos-mock`` prints after its address (``mockserver.cli.welcome``)."""

from __future__ import annotations

from mockserver.cli import welcome

URL = "http://127.0.0.1:4010"


def test_the_mock_offers_its_sample_token() -> None:
    screen = welcome(URL, control=True)
    assert "sample token  csk_test" in screen and "(any csk_… key or JWT works)" in screen
    assert f"dashboard     {URL}/__mock/" in screen


def test_a_proxy_names_its_upstream_and_offers_no_token_it_cannot_vouch_for() -> None:
    screen = welcome(URL, control=False, upstream="http://gatekeeper:s3cret-pass@127.0.0.1:8000/base")
    assert "proxying to   http://127.0.0.1:8000/base" in screen
    assert "csk_test" not in screen and "any csk_" not in screen  # the upstream decides which credentials work
    assert "s3cret-pass" not in screen and "gatekeeper" not in screen  # the URL's user and password never shown
    assert '-H "Authorization: Bearer $TOKEN"' in screen


def test_with_its_own_tokens_the_mock_prints_none_of_them() -> None:
    screen = welcome(URL, control=False, own_tokens=True, tls=True)
    assert "only the ones given with --token" in screen and "--cacert YOUR-CA.pem" in screen
    assert "csk_test" not in screen

"""The suite where its users run it: HTTPS with a private CA, client certificates, a gateway that
wants its own header, a forward proxy, a rate limit, latency — all real HTTP on 127.0.0.1.

Each condition: the correct server certifies, a defective one fails with the right id, the run
stays within its budget. Delays are short (20–50 ms) and the profile is smoke; the 150/400 ms
wall times and the 429 share at 10 req/s are measured by ``python -m bench.field``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.engine import RunOptions, run_suite
from conformance.reporters import render_html, render_json, render_junit
from conformance.result import CertLevel, SuiteResult
from conformance.transport import ConnectionProblem, TokenRejected, TransportSettings
from tests.conformance.conftest import SEED
from tests.servers.gateway import forward_proxy, reverse_proxy
from tests.servers.reference import REFERENCE_TOKEN, create_app
from tests.servers.running import serve_app
from tests.servers.tls import TlsFiles
from tests.servers.zoo import FAULTY

GATEWAY_KEY = "gw_key_SECRET_4f3e2d1c"
STARTUP_MARGIN_S = 15.0  # a loaded 2-core machine: imports, schema building, thread start-up
REQUEST_TIMEOUT_S = RunOptions(base_url="", token="").timeout  # the run's per-request timeout, as certify() leaves it


def certify(url: str, *, profile: str = "smoke", **options: Any) -> SuiteResult:
    transport = options.pop("transport", TransportSettings())
    return run_suite(RunOptions(base_url=url, token=REFERENCE_TOKEN, level=CertLevel.FULL, profile=profile,
                                seed=SEED, transport=transport, **options))


@pytest.fixture(scope="module")
def https_url(tls_files: TlsFiles) -> Iterator[str]:
    with serve_app(create_app(), tls=tls_files) as url:
        yield url


def test_a_private_ca_not_trusted_names_the_cause_and_the_option_that_fixes_it(https_url: str) -> None:
    with pytest.raises(ConnectionProblem, match=r"certificate is not trusted.*--cacert"):
        certify(https_url)


def test_a_private_ca_given_with_cacert_certifies(https_url: str, tls_files: TlsFiles) -> None:
    result = certify(https_url, transport=TransportSettings(cacert=tls_files.ca))
    assert result.conformant, (result.failed_ids, result.errors)
    assert result.complete and result.generated_cases > 0


def test_reproducers_carry_what_reaching_the_server_took(tls_files: TlsFiles) -> None:
    """A curl that pastes and runs: the CA given, not the token or a header value."""
    with serve_app(FAULTY["remaining_not_clamped"].create_app(), tls=tls_files) as url:
        settings = TransportSettings(cacert=tls_files.ca, headers=(("X-Gateway-Key", GATEWAY_KEY),))
        result = certify(url, transport=settings)
    assert result.findings
    for finding in result.findings:
        assert finding.curl.startswith(f"curl -sS -i --cacert {tls_files.ca} ")
        assert "X-Gateway-Key: [REDACTED]" in finding.curl and GATEWAY_KEY not in finding.curl


def test_the_ca_bundle_in_the_environment_is_honoured(https_url: str, tls_files: TlsFiles,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As requests reads it: probes and generated cases alike (it was ignored by the probes)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca))
    result = certify(https_url)
    assert result.conformant and result.complete


def test_insecure_skips_verification(https_url: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning: the CLI says it once
        result = certify(https_url, transport=TransportSettings(insecure=True))
    assert result.conformant


def test_a_client_certificate_required_is_named_and_given_with_cert(tls_files: TlsFiles) -> None:
    with serve_app(create_app(), tls=tls_files, require_client_cert=True) as url:
        with pytest.raises(ConnectionProblem, match=r"requires a client certificate.*--cert FILE"):
            certify(url, transport=TransportSettings(cacert=tls_files.ca))
        result = certify(url, transport=TransportSettings(cacert=tls_files.ca, cert=tls_files.client_cert,
                                                          key=tls_files.client_key))
    assert result.conformant and result.complete


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    with serve_app(create_app()) as url:
        yield url


def test_a_gateway_that_wants_its_own_header_is_named_as_a_possible_cause(reference_url: str) -> None:
    with reverse_proxy(reference_url, required_header=("X-Gateway-Key", GATEWAY_KEY)) as gateway, \
            pytest.raises(TokenRejected, match=r"valid token.*gateway.*--header"):
        certify(gateway.url)


def test_behind_a_gateway_every_request_carries_the_header_and_no_report_shows_it(reference_url: str) -> None:
    faulty = FAULTY["remaining_not_clamped"]
    with serve_app(faulty.create_app()) as upstream, \
            reverse_proxy(upstream, required_header=("X-Gateway-Key", GATEWAY_KEY)) as gateway:
        result = certify(gateway.url, transport=TransportSettings(headers=(("X-Gateway-Key", GATEWAY_KEY),)))
    assert gateway.refused_403 == 0 and gateway.forwarded > 100  # every request reached it with the key
    assert "METRIC-004" in result.failed_ids and result.complete
    assert all("X-Gateway-Key: [REDACTED]" in finding.curl for finding in result.findings)
    for text in (render_json(result), render_junit(result), render_html(result), repr(result)):
        assert GATEWAY_KEY not in text


def test_a_path_prefix_on_the_gateway_is_part_of_the_base_url(reference_url: str) -> None:
    with reverse_proxy(reference_url, path_prefix="/staging") as gateway:
        result = certify(gateway.url)
    assert result.conformant and gateway.refused_404 == 0


def test_the_proxy_in_the_environment_carries_every_request(reference_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Probes, capability probes and generated cases alike (the probes used to go direct)."""
    with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        result = certify(reference_url)
        seen = len(proxy.seen)
    assert result.conformant and all(target.startswith(reference_url) for _, target in proxy.seen)
    # Every request, bar schemathesis's capability probe with a NUL byte in a header, which the
    # proxy (http.server) refuses before it can record it.
    assert result.requests - 1 <= seen <= result.requests


def test_no_proxy_is_honoured_and_proxy_given_on_the_command_line_wins(reference_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with forward_proxy() as env_proxy, forward_proxy() as given:
        monkeypatch.setenv("HTTP_PROXY", env_proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        bypassed = certify(reference_url)
        assert env_proxy.seen == [] and bypassed.conformant
        chosen = certify(reference_url, transport=TransportSettings(proxy=given.url))
        assert chosen.requests - 1 <= len(given.seen) <= chosen.requests and env_proxy.seen == []


def test_a_proxy_that_refuses_is_named(tls_files: TlsFiles, https_url: str) -> None:
    refused = r"proxy http://127\.0\.0\.1:\d+ \(--proxy\) refused"
    with forward_proxy(refuse=True) as proxy, pytest.raises(ConnectionProblem, match=refused):
        certify(https_url, transport=TransportSettings(cacert=tls_files.ca, proxy=proxy.url))


def test_a_rate_limited_correct_server_passes_and_the_report_says_what_it_cost(reference_url: str) -> None:
    """429 + Retry-After is the server protecting itself: waited out and retried, never STATUS-003."""
    with reverse_proxy(reference_url, rate_per_s=40, burst=10, retry_after="1") as gateway:
        result = certify(reference_url.replace(reference_url, gateway.url))
    assert result.conformant, (result.failed_ids, result.errors)
    assert result.complete and gateway.refused_429 > 0
    limits = result.rate_limits
    assert limits.refusals == gateway.refused_429 and limits.unanswered == 0 and limits.waited_s >= 1
    assert json.loads(render_json(result))["rate_limits"]["refusals"] == gateway.refused_429
    # Learnt from the refusals: far fewer than the unpaced share (the gateway refused most requests before).
    assert gateway.refused_429 <= 0.25 * gateway.forwarded


def test_a_rate_limited_defective_server_still_fails_on_the_right_rule(reference_url: str) -> None:
    with serve_app(FAULTY["remaining_not_clamped"].create_app()) as upstream, \
            reverse_proxy(upstream, rate_per_s=40, burst=10, retry_after="1") as gateway:
        result = certify(gateway.url)
    assert "METRIC-004" in result.failed_ids and "STATUS-003" not in result.failed_ids


def test_a_fixed_rate_limit_paces_every_request(reference_url: str) -> None:
    rate = 50.0
    with reverse_proxy(reference_url) as gateway:
        result = certify(gateway.url, transport=TransportSettings(rate_limit=rate))
    gaps = sorted(b - a for a, b in zip(gateway.arrivals, gateway.arrivals[1:], strict=False))
    assert result.conformant
    # Spacing is a lower bound set by the pacer (one slot per request); arrivals can only be later.
    assert gaps[len(gaps) // 2] >= 0.8 / rate
    assert len(gateway.arrivals) / (gateway.arrivals[-1] - gateway.arrivals[0]) <= rate * 1.05


def test_a_retry_after_beyond_the_budget_ends_the_run_incomplete(reference_url: str) -> None:
    budget = 20.0
    with reverse_proxy(reference_url, rate_per_s=5, burst=30, retry_after="3600") as gateway:
        started = time.monotonic()
        result = certify(gateway.url, budget=budget)
        took = time.monotonic() - started
    assert not result.conformant and not result.complete and result.exit_code == 2
    assert result.rate_limits.beyond_budget == 3600
    assert any("Retry-After" in error for error in result.errors)
    assert took < budget + REQUEST_TIMEOUT_S + STARTUP_MARGIN_S  # the budget, one request timeout, a margin


def test_latency_is_paid_by_workers_and_the_budget_holds(reference_url: str) -> None:
    """50 ms per reply: the preflight sees it, four workers send, the run completes within its budget."""
    with reverse_proxy(reference_url, delay=0.05) as gateway:
        result = certify(gateway.url)
    assert result.conformant and result.complete and result.workers == 4
    assert result.duration_s <= result.budget_s


def test_a_budget_that_cuts_the_run_short_never_passes(reference_url: str) -> None:
    budget = 2.0
    with reverse_proxy(reference_url, delay=0.05) as gateway:
        started = time.monotonic()
        result = certify(gateway.url, budget=budget, workers=1)
        took = time.monotonic() - started
    assert not result.complete and not result.conformant and result.exit_code == 2
    assert result.verdict == "incomplete" and result.stop_reason != "completed"
    assert took < budget + REQUEST_TIMEOUT_S + STARTUP_MARGIN_S


def test_the_same_seed_sends_the_same_requests_with_four_workers(reference_url: str) -> None:
    """Workers change the order, never the requests: the fuzzed cases are drawn in seeded batches."""
    runs = []
    for _ in range(2):
        with reverse_proxy(reference_url) as gateway:
            result = certify(gateway.url, workers=4)
        runs.append(sorted((method, path) for method, path, _ in gateway.requests))
        assert result.conformant
    assert runs[0] == runs[1]

"""pytest entry point: ``pytest --crosmos-base-url URL --crosmos-token TOKEN`` runs the suite in CI.

Loaded into every pytest session of this environment (``pytest11`` entry point), so importing it
must stay cheap and side-effect free; the suite itself is imported only when it is asked for.
Without ``--crosmos-base-url`` the plugin adds nothing. With it, the session gets one test per
check id; the suite runs once, on the first of them, and each test reads its check's outcome.
The plugin holds no check logic.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from conformance.engine import RunOptions
    from conformance.result import SuiteResult

TOKEN_ENV = "CROSMOS_TOKEN"
PROFILE_NAMES = ("smoke", "quick", "standard")  # conformance.engine.PROFILES, not imported: it is heavy
_RESULT = pytest.StashKey["SuiteResult | str"]()
_OPTIONS = pytest.StashKey["RunOptions"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crosmos", "Crosmos usage-endpoint conformance")
    group.addoption("--crosmos-base-url", action="store", default=None, metavar="URL",
                    help="Certify the server at URL: one test per check id.")
    group.addoption("--crosmos-token", action="append", default=[], metavar="TOKEN",
                    help=f"Bearer token for the server (default: ${TOKEN_ENV}); repeatable: further credentials "
                         "are asked the per-org probes.")
    group.addoption("--crosmos-profile", action="store", default="quick", choices=PROFILE_NAMES,
                    help="smoke, quick (default) or standard.")
    group.addoption("--crosmos-level", action="store", default="core", choices=("core", "full"),
                    help="core: MUST rules decide; full: MUST and SHOULD.")
    group.addoption("--crosmos-seed", action="store", default=None, type=int, metavar="N",
                    help="Seed for generated data.")
    group.addoption("--crosmos-timezone", action="store", default=None, metavar="ZONE",
                    help="The server's time zone for 'today' (default UTC).")
    group.addoption("--crosmos-budget", action="store", default=None, type=float, metavar="SECONDS",
                    help="A hard cap on the run (default: the profile's, grown to the server's latency and pace).")
    group.addoption("--crosmos-cacert", action="store", default=None, metavar="FILE",
                    help="Trust this CA bundle for the server's certificate (default: $REQUESTS_CA_BUNDLE, "
                         "$CURL_CA_BUNDLE, $SSL_CERT_FILE, else the system's).")
    group.addoption("--crosmos-insecure", action="store_true", default=False,
                    help="Do not verify the server's TLS certificate.")
    group.addoption("--crosmos-cert", action="store", default=None, metavar="FILE", help="Client certificate (PEM).")
    group.addoption("--crosmos-key", action="store", default=None, metavar="FILE",
                    help="The client certificate's key, if not in --crosmos-cert's file.")
    group.addoption("--crosmos-header", action="append", default=[], metavar="'Name: value'",
                    help="A header for every request (a gateway's key); repeatable; never printed.")
    group.addoption("--crosmos-proxy", action="store", default=None, metavar="URL",
                    help="Send every request through this proxy (default: $HTTP(S)_PROXY with $NO_PROXY).")
    group.addoption("--crosmos-rate-limit", action="store", default=None, metavar="N/s|N/m",
                    help="At most this many requests per second or minute (default: learn from 429s).")
    group.addoption("--crosmos-workers", action="store", default=None, type=int, metavar="N",
                    help="Requests in flight at once (default: 1 nearby, 4 for a server 50 ms or more away).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "crosmos_check(id): a Crosmos conformance check (added by the plugin)")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("crosmos_base_url"):
        return
    if not (config.getoption("crosmos_token") or os.environ.get(TOKEN_ENV)):
        raise pytest.UsageError(f"--crosmos-base-url needs --crosmos-token or ${TOKEN_ENV}")
    from conformance.transport import check_base_url

    try:
        check_base_url(config.getoption("crosmos_base_url"))
    except ValueError as exc:
        raise pytest.UsageError(f"--crosmos-base-url: {exc}") from None
    try:
        config.stash[_OPTIONS] = _run_options(config)
    except ValueError as exc:  # CredentialError too: its message never holds the value
        raise pytest.UsageError(_in_plugin_terms(str(exc))) from None
    if config.getoption("crosmos_insecure"):
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("warning: --crosmos-insecure: the server's TLS certificate is not verified")
    from crosmos_contract.catalogue import CATALOGUE

    suite = CrosmosSuite.from_parent(session, name="crosmos", path=config.rootpath / "crosmos", nodeid="crosmos")
    for spec in CATALOGUE:
        item = CheckItem.from_parent(suite, name=spec.id, check_id=spec.id)
        item.add_marker(pytest.mark.crosmos_check(spec.id))
        items.append(item)


class CrosmosSuite(pytest.Collector):
    """The parent node of the check items (they are added at collection, not discovered)."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


class CheckFailed(Exception):
    """A check failed at the level asked; the message holds its findings."""


class CheckItem(pytest.Item):
    def __init__(self, *, check_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_id = check_id

    def runtest(self) -> None:
        result = _suite_result(self.config)
        check = result.by_id(self.check_id)
        outcome = check.outcome.value
        if outcome == "not-applicable":
            pytest.skip("not applicable: no response exercised this check")
        if outcome == "fail":
            if not result.level.decides(check.spec):
                pytest.skip(f"fails, but a {check.spec.level.value} rule does not decide level {result.level.value}")
            raise CheckFailed(_describe(check))

    def repr_failure(self, excinfo: ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"crosmos {self.check_id}"


def _suite_result(config: pytest.Config) -> SuiteResult:
    """Run the suite once per session; every item reads the same result.

    When the suite cannot run (the server unreachable, the token refused, the base URL wrong), the
    session ends at the first item with one redacted line and pytest's usage exit code: the error
    is kept as text, since pytest prints a traceback's local variables, the token among them.
    """
    cached = config.stash.get(_RESULT, None)
    if cached is None:
        from conformance.engine import run_suite
        from conformance.findings import hide

        options = config.stash[_OPTIONS]
        try:
            cached = run_suite(options)
        except Exception as exc:  # a connection or usage problem fails every item with the same cause
            cached = _in_plugin_terms(hide(f"cannot certify: {type(exc).__name__}: {exc}", options.token,
                                           (*options.transport.secrets, *options.more_tokens)))
        else:
            if cached.exit_code == 2:  # cut short with nothing decided: no check may read as passed
                cached = _in_plugin_terms(f"incomplete ({cached.stop_reason}): " + "; ".join(cached.errors))
        config.stash[_RESULT] = cached
    if isinstance(cached, str):
        # Not a verdict about the server (rc 1 would read as "not conformant"): one line, and
        # pytest's own usage exit, as the CLI exits 2.
        pytest.exit(cached, returncode=pytest.ExitCode.USAGE_ERROR)
    return cached


_CLI_OPTIONS = re.compile(r"(?<![\w-])--(cacert|insecure|cert|key|header|proxy|rate-limit|budget|base-url|token|"
                          r"workers|timezone|profile|level|seed)\b")


def _in_plugin_terms(message: str) -> str:
    """The engine's messages name the CLI's options; here they carry the plugin's prefix."""
    return _CLI_OPTIONS.sub(r"--crosmos-\1", message)


def _run_options(config: pytest.Config) -> RunOptions:
    """The options as the CLI would build them; ValueError (never quoting a secret) when they cannot work."""
    from pathlib import Path

    from conformance.credentials import clean_token, parse_headers
    from conformance.engine import RunOptions
    from conformance.pacing import parse_rate
    from conformance.result import CertLevel
    from conformance.transport import TransportSettings

    given: list[str] = config.getoption("crosmos_token") or [os.environ.get(TOKEN_ENV, "")]
    cleaned = [clean_token(value, f"--crosmos-token #{n}" if len(given) > 1 else
                           "--crosmos-token" if config.getoption("crosmos_token") else f"${TOKEN_ENV}")
               for n, value in enumerate(given, start=1)]
    token = cleaned[0][0]
    more = tuple(dict.fromkeys(value for value, _ in cleaned[1:] if value != token))
    headers, notes = parse_headers(config.getoption("crosmos_header"))
    rate = config.getoption("crosmos_rate_limit")

    def path(name: str) -> Path | None:
        value = config.getoption(name)
        return None if value is None else Path(value)

    transport = TransportSettings(cacert=path("crosmos_cacert"), insecure=config.getoption("crosmos_insecure"),
                                  cert=path("crosmos_cert"), key=path("crosmos_key"), headers=headers,
                                  proxy=config.getoption("crosmos_proxy"),
                                  rate_limit=None if rate is None else parse_rate(rate))
    transport.validate()
    return RunOptions(
        base_url=config.getoption("crosmos_base_url"),
        token=token,
        profile=config.getoption("crosmos_profile"),
        level=CertLevel(config.getoption("crosmos_level")),
        seed=config.getoption("crosmos_seed"),
        timezone=config.getoption("crosmos_timezone"),
        budget=config.getoption("crosmos_budget"),
        workers=config.getoption("crosmos_workers"),
        transport=transport,
        more_tokens=more,
        notes=tuple(n for _, n in cleaned if n) + tuple(notes),
    )


def _describe(check: Any) -> str:
    lines = [f"{check.id} {check.spec.title} ({check.spec.level.value}): {check.spec.rule}"]
    for finding in check.findings:
        lines += [f"  Received {finding.received}", f"  Expected {finding.expected}",
                  f"  Reproduce with: {finding.curl}"]
    if check.occurrences > len(check.findings):
        lines.append(f"  ({check.occurrences} failing responses in all)")
    return "\n".join(lines)

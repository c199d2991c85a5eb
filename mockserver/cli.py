"""``crosmos-mock``: serve the contract-driven mock with a production WSGI server."""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from crosmos_contract import ContractError
from crosmos_contract.verdicts import default_cache_dir
from mockserver.app import create_app
from mockserver.model import faults, scenarios
from mockserver.model import live_usage as liveusage
from mockserver.model.auth import mask_credentials
from mockserver.model.faults import FaultSettings
from mockserver.pipeline import cors
from mockserver.produce import proxy
from mockserver.serving.server import PortInUseError, ServerOptions, imports_frozen, serve
from mockserver.serving.tls import TlsFileError, TlsSettings, load_tls_settings
from mockserver.settings import CONTROL_PREFIX, MockSettings
from mockserver.state import EXTENSION
from mockserver.store.access_log import configure_logging

T = TypeVar("T")
log = logging.getLogger("mockserver")


def _parsed(parse: Callable[[Any], T]) -> Callable[[click.Context, click.Parameter, Any], T | None]:
    """A click callback: ``parse`` the value, turning its ValueError into one clear BadParameter line."""
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> T | None:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return callback


def _origins(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        cors.CorsPolicy.from_options(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return values or (cors.ANY,)


@click.group(invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="crosmos-contract-kit", prog_name="crosmos-mock")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=4010, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one and prints it).")
@click.option("--tls-cert", type=click.Path(path_type=Path), metavar="FILE",
              help="Serve HTTPS with this certificate (PEM, chain after the leaf); needs --tls-key.")
@click.option("--tls-key", type=click.Path(path_type=Path), metavar="FILE",
              help="The private key of --tls-cert (PEM, unencrypted).")
@click.option("--spec", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="OpenAPI 3.x document to mock [default: the embedded Crosmos contract].")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated data.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Log verbosity.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One line per request (tokens redacted).")
@click.option("--scenario", default=scenarios.DEFAULT, show_default=True, type=click.Choice(scenarios.names()),
              help="Usage scenario for every request (a request or token may choose another).")
@click.option("--latency", callback=_parsed(faults.parse_delay), metavar="DELAY",
              help="Fault: delay every reply, e.g. 200ms, 1s or 50-300ms (a random delay in the range).")
@click.option("--error-rate", callback=_parsed(faults.parse_rate), metavar="RATE",
              help="Fault: answer this share of requests with --error-status, e.g. 0.1 or 10%.")
@click.option("--error-status", default=500, show_default=True, callback=_parsed(faults.check_error_status),
              type=int, help="Fault: the status --error-rate answers with (400-599).")
@click.option("--rate-limit-emulation", is_flag=True,
              help="Fault: 429 with Retry-After once an org makes more than its own rate_limit_rpm a minute.")
@click.option("--live-usage", callback=_parsed(liveusage.parse_live_usage), metavar="METRIC[:N]",
              help="Count every successful call as N (default 1) of METRIC (tokens, queries or spaces) today.")
@click.option("--cors-origin", "cors_origins", multiple=True, callback=_origins, metavar="ORIGIN",
              help="Origin allowed to call the mock from a browser (repeatable; '*' any [default]; 'none' off).")
@click.option("--upstream", callback=_parsed(proxy.parse_upstream), metavar="URL",
              help="Proxy mode: forward to this server and check every exchange against the contract.")
@click.option("--strict", is_flag=True, help="Proxy mode: answer 502 with the violations instead of a bad reply.")
@click.option("--reload/--no-reload", default=True, show_default=True,
              help="Pick up edits of the contract file without a restart.")
@click.option("--journal-size", default=200, show_default=True, type=click.IntRange(0, 10_000),
              help="Recent requests kept for the control API and dashboard (0: none).")
@click.option("--token", "tokens", multiple=True, metavar="TOKEN",
              help="Accept only this token (repeatable), as a real server would; default: any well-formed one.")
@click.option("--control/--no-control", default=True, show_default=True,
              help=f"Serve the control API and dashboard under {CONTROL_PREFIX}/.")
@click.option("--contract-cache/--no-contract-cache", default=True, show_default=True,
              envvar="CROSMOS_MOCK_CONTRACT_CACHE",
              help="Remember that a contract passed openapi-spec-validator, keyed on its resolved content and the "
                   "validators' versions, so an unchanged contract starts without being checked again (an edit, "
                   "an upgrade or an invalid contract is always checked). In $CROSMOS_MOCK_CACHE_DIR, else "
                   "$XDG_CACHE_HOME/crosmos-mock, else ~/.cache/crosmos-mock; env CROSMOS_MOCK_CONTRACT_CACHE=0 "
                   "turns it off.")
@click.pass_context
def main(ctx: click.Context, host: str, port: int, tls_cert: Path | None, tls_key: Path | None, spec: Path | None,
         seed: int, workers: int, threads: int, log_level: str,
         access_log: bool, scenario: str, latency: tuple[int, int] | None, error_rate: float | None,
         error_status: int, rate_limit_emulation: bool, live_usage: tuple[str, int] | None,
         cors_origins: tuple[str, ...], upstream: str | None, strict: bool, reload: bool, journal_size: int,
         control: bool, tokens: tuple[str, ...], contract_cache: bool) -> None:
    """Serve a mock of the Crosmos usage endpoint (or of any OpenAPI 3.x document).

    Control API and dashboard: http://HOST:PORT/__mock/ (https:// with --tls-cert; scenarios, faults, journal).
    With a command (``export``), the options above are not used.
    """
    if ctx.invoked_subcommand is not None:
        return
    _check_combinations(upstream, strict, scenario, live_usage, rate_limit_emulation)
    try:
        tls = load_tls_settings(tls_cert, tls_key)
    except TlsFileError as exc:
        if exc.option is None:
            raise click.UsageError(str(exc)) from None
        raise click.BadParameter(str(exc), param_hint=f"'{exc.option}'") from None
    # openapi-spec-validator's pure-Python backend checks the contract as fast here (~0.4 s) and leaves
    # jsonschema-rs's native library (~5 MB resident) out of the server; a user's own choice stands.
    os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")
    configure_logging(log_level)
    fault_settings = FaultSettings(latency, error_rate or 0.0, error_status, rate_limit_emulation)
    settings = MockSettings(spec=spec, seed=seed, access_log=access_log, scenario=scenario, faults=fault_settings,
                            live_usage=live_usage, cors_origins=cors_origins, upstream=upstream, strict=strict,
                            reload=reload, journal_size=journal_size, control=control, tokens=frozenset(tokens),
                            contract_cache=default_cache_dir() if contract_cache else None)
    with imports_frozen():
        _build_and_serve(settings, host, port, workers, threads, control, fault_settings, tls)


def _build_and_serve(settings: MockSettings, host: str, port: int, workers: int, threads: int, control: bool,
                     fault_settings: FaultSettings, tls: TlsSettings | None = None) -> None:
    try:
        app = create_app(settings)
    except ContractError as exc:
        raise click.ClickException(f"cannot load the contract: {exc}") from None
    if fault_settings.active:
        log.warning("faults on (%s): replies leave the contract on purpose", _describe(fault_settings))
    if control and not _is_loopback(host):
        log.warning("the control API and dashboard (%s/) are reachable from the network on %s; "
                    "--no-control removes them", CONTROL_PREFIX, host)
    try:
        watcher = app.extensions[EXTENSION].watcher
        serve(app, ServerOptions(host=host, port=port, workers=workers, threads=threads,
                                 welcome=functools.partial(welcome, control=control, own_tokens=bool(settings.tokens),
                                                           tls=tls is not None, upstream=settings.upstream),
                                 on_worker_start=watcher.start_timer if watcher is not None else None,
                                 tls=tls))
    except PortInUseError as exc:
        raise click.ClickException(str(exc)) from None


SAMPLE_TOKEN = "csk_test"


@main.command("export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write fixtures/ and msw/ into (created if missing).")
@click.option("--today", callback=_parsed(date.fromisoformat), metavar="YYYY-MM-DD",
              help="The day the default window ends on [default: today, UTC].")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated data (as for serving).")
@click.option("--token", default=SAMPLE_TOKEN, show_default=True,
              help="The token whose org the fixtures show (as your app would send it).")
def export_command(out: Path, today: date | None, seed: int, token: str) -> None:
    """Write every scenario and error state as JSON fixtures, and MSW handlers that serve them.

    For unit tests (Jest, Vitest, Storybook): the bodies are byte for byte what the mock serves
    for the same seed, token, scenario and day.
    """
    from mockserver.export import ExportError, export

    os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")
    try:
        written = export(out, today=today or datetime.now(UTC).date(), seed=seed, token=token)
    except (ExportError, ContractError) as exc:
        raise click.ClickException(mask_credentials(str(exc), token)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write to {out}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(path)


def welcome(url: str, *, control: bool, own_tokens: bool = False, tls: bool = False,
            upstream: str | None = None) -> str:
    """What a newcomer needs on the first screen: where to look, a token, one request, how to stop.

    With ``--token``, only those tokens work, and they are never printed: the example names a
    shell variable instead. Over TLS, curl needs the CA that signed the certificate. In proxy mode
    the upstream decides which credentials work, so no sample token is offered.
    """
    lines = []
    if control:
        lines.append(f"  dashboard     {url}{CONTROL_PREFIX}/")
    ca = " --cacert YOUR-CA.pem" if tls else ""
    if upstream is not None:
        parts = urlsplit(upstream)  # never a user:password the URL may hold
        shown = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
        lines += [f"  proxying to   {shown}   (every reply judged against the contract)",
                  "  token         the upstream's: it decides which credentials work",
                  f"  try           curl -s{ca} -H \"Authorization: Bearer $TOKEN\" {url}/api/v1/usage"]
    elif own_tokens:
        lines += ["  token         only the ones given with --token",
                  f"  try           curl -s{ca} -H \"Authorization: Bearer $TOKEN\" {url}/api/v1/usage"]
    else:
        lines += [f"  sample token  {SAMPLE_TOKEN}   (any csk_… key or JWT works)",
                  f"  try           curl -s{ca} -H 'Authorization: Bearer {SAMPLE_TOKEN}' {url}/api/v1/usage"]
    lines.append("  stop          Ctrl-C")
    return "\n".join(lines)


def _check_combinations(upstream: str | None, strict: bool, scenario: str, live_usage: tuple[str, int] | None,
                        rate_limit: bool) -> None:
    if strict and upstream is None:
        raise click.BadParameter("--strict judges an upstream's replies; add --upstream URL", param_hint="'--strict'")
    if upstream is None:
        return
    if scenario != scenarios.DEFAULT:
        raise click.BadParameter("the upstream's data is served in proxy mode, not a scenario",
                                 param_hint="'--scenario'")
    if live_usage is not None:
        raise click.BadParameter("the upstream counts its own usage in proxy mode", param_hint="'--live-usage'")
    if rate_limit:
        raise click.BadParameter("the upstream applies its own rate limits in proxy mode",
                                 param_hint="'--rate-limit-emulation'")


def _describe(settings: FaultSettings) -> str:
    parts = []
    if settings.latency:
        parts.append(f"latency {faults.format_delay(settings.latency)}")
    if settings.error_rate:
        parts.append(f"{settings.error_rate:.0%} answered {settings.error_status}")
    if settings.rate_limit:
        parts.append("429 over each org's rate_limit_rpm")
    return ", ".join(parts)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

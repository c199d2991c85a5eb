"""``crosmos-conformance``: certify a server, write reports, pick the exit code.

Exit codes: 0 conformant at the level asked, 1 not conformant, 2 usage or connection error.
This is the only module of the suite that prints.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from conformance.credentials import CredentialError, clean_token, parse_headers
from conformance.engine import PROFILES, ProgressCallback, RunOptions, run_suite, unfinished_result
from conformance.engine import Progress as RunProgress
from conformance.findings import hide
from conformance.pacing import parse_rate
from conformance.reporters import render_html, render_json, render_junit
from conformance.reporters.console import render_catalogue, render_console
from conformance.result import CertLevel, SuiteResult
from conformance.transport import ConnectionProblem, TransportSettings, check_base_url
from crosmos_contract.catalogue import CATALOGUE
from crosmos_contract.clock import UnknownTimezone
from crosmos_contract.loader import ContractError

EXIT_CONFORMANT, EXIT_NOT_CONFORMANT, EXIT_USAGE = 0, 1, 2
TOKEN_ENV = "CROSMOS_TOKEN"
# Any token of this shape is valid for the embedded mock; it is no secret.
MOCK_TOKEN = "csk_conformance_demo_0001"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crosmos-contract-kit", prog_name="crosmos-conformance")
def main() -> None:
    """Certify an implementation of the Crosmos usage endpoint (GET /api/v1/usage)."""


@main.command("list-checks")
def list_checks() -> None:
    """Print the check catalogue (ids, levels, rules).

    In a terminal, a table; piped or in a CI log, one check per line (``ID<TAB>LEVEL<TAB>title: rule``)
    that no column width wraps and grep can read.
    """
    _print_catalogue()


def _print_catalogue() -> None:
    if sys.stdout.isatty():
        Console().print(render_catalogue())
        return
    try:
        for spec in CATALOGUE:
            click.echo(f"{spec.id}\t{spec.level.value}\t{spec.title}: {spec.rule}")
        sys.stdout.flush()
    except BrokenPipeError:  # `list-checks | head`: the reader has what it wanted; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _base_url(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else check_base_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _writable(_: click.Context, __: click.Parameter, value: Path | None) -> Path | None:
    """A report path that can be written, checked before the run rather than lost after it."""
    if value is None:
        return None
    parent = value.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK) or (value.exists() and not os.access(value, os.W_OK)):
        raise click.BadParameter(f"{value} cannot be written (check the folder and its permissions)")
    return value


@main.command()
@click.option("--base-url", metavar="URL", callback=_base_url, help="Server to certify. Without it, the embedded "
              "mock is started, certified and stopped.")
@click.option("--token", "tokens", metavar="TOKEN", multiple=True,
              help=f"Bearer token the server accepts (default: ${TOKEN_ENV}). Repeatable: further credentials "
                   "(other orgs' keys, a JWT) are each asked the per-org probes; findings name them by position. "
                   "Never printed or written to a report.")
@click.option("--profile", type=click.Choice(list(PROFILES)), default="quick", show_default=True,
              help="How much generated data: quick (<15 s locally), standard (<60 s); smoke is for tests.")
@click.option("--level", type=click.Choice([level.value for level in CertLevel]), default="core",
              show_default=True, help="core: MUST rules decide the verdict; full: MUST and SHOULD.")
@click.option("--seed", type=int, help="Seed for generated data (reported, so a run can be repeated).")
@click.option("--timezone", metavar="ZONE", help="The server's time zone for 'today' (IANA name; default UTC).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for each response.")
@click.option("--max-response-time", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="STATUS-008: a reply slower than this (seconds) is a finding.")
@click.option("--budget", type=click.FloatRange(min=1), help="Total seconds for the run (default: the profile's).")
@click.option("--contract", type=click.Path(path_type=Path), help="OpenAPI document (default: the embedded one).")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), callback=_writable,
              help="Write a JUnit XML report.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), callback=_writable,
              help="Write a JSON report.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), callback=_writable,
              help="Write a self-contained HTML report.")
@click.option("--list-checks", "show_checks", is_flag=True, help="Print the check catalogue and exit.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is off anyway when stderr is no terminal).")
@click.option("--cacert", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Trust this CA bundle (PEM) for the server's certificate, as curl's --cacert "
                   "(default: $REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE or $SSL_CERT_FILE, else the system's CAs).")
@click.option("-k", "--insecure", is_flag=True, help="Do not verify the server's TLS certificate (a warning is "
              "printed).")
@click.option("--cert", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Client certificate (PEM) for servers that require one; may hold the key too.")
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The client certificate's private key (PEM), if not in --cert's file.")
@click.option("-H", "--header", "headers", multiple=True, metavar="'Name: value'",
              help="Send this header with every request (a gateway's key). Repeatable; values are never "
                   "printed or reported.")
@click.option("--proxy", metavar="URL", help="Send every request through this proxy (default: $HTTP_PROXY / "
              "$HTTPS_PROXY, with $NO_PROXY, as requests and curl read them).")
@click.option("--rate-limit", metavar="N/s|N/m", help="Send at most this many requests per second or minute "
              "(default: as fast as the server answers, slowing down when it answers 429).")
@click.option("--workers", type=click.IntRange(1, 16), help="Requests in flight at once (default: 1 for a server "
              "that answers within 50 ms, else 4).")
def run(base_url: str | None, tokens: tuple[str, ...], profile: str, level: str, seed: int | None, timezone: str | None,
        timeout: float, max_response_time: float, budget: float | None, contract: Path | None,
        junit_xml: Path | None, json_path: Path | None, html: Path | None, show_checks: bool,
        no_progress: bool, cacert: Path | None, insecure: bool, cert: Path | None, key: Path | None,
        headers: tuple[str, ...], proxy: str | None, rate_limit: str | None, workers: int | None) -> None:
    """Certify a server (or, without --base-url, the embedded mock)."""
    out = Console(soft_wrap=True)
    if show_checks:
        _print_catalogue()
        return
    err = Console(stderr=True, soft_wrap=True)  # an error is one line in a CI log
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    given = list(tokens) or ([os.environ[TOKEN_ENV]] if os.environ.get(TOKEN_ENV) else [])
    secrets: list[str] = list(given)
    token: str | None = None
    more: list[str] = []
    try:
        notes: list[str] = []
        for position, value in enumerate(given, start=1):
            label = (f"${TOKEN_ENV}" if not tokens else "--token" if len(given) == 1 else f"--token #{position}")
            cleaned, note = clean_token(value, label)
            secrets.append(cleaned)
            notes += [note] if note else []
            if token is None:
                token = cleaned
            elif cleaned != token and cleaned not in more:
                more.append(cleaned)
        if base_url is not None and not token:
            raise click.UsageError(f"--token (or ${TOKEN_ENV}) is required with --base-url")
        header_pairs, header_notes = parse_headers(headers)
        notes += header_notes
        transport = TransportSettings(cacert=cacert, insecure=insecure, cert=cert, key=key, headers=header_pairs,
                                      proxy=proxy, rate_limit=None if rate_limit is None else parse_rate(rate_limit))
        transport.validate()
        secrets += transport.secrets
    except (CredentialError, ValueError) as exc:
        usage = RunOptions(base_url=base_url or "", token=MOCK_TOKEN, profile=profile, level=CertLevel(level),
                           seed=seed, timezone=timezone, contract=contract)
        message = hide(str(exc), "", secrets)
        _write_reports(unfinished_result(usage, message), junit_xml, json_path, html, err)
        _fail(err, message, secrets)
    if insecure:
        err.print("warning: --insecure: the server's TLS certificate is not verified", highlight=False)
    if base_url is None and given:
        err.print("note: without --base-url the embedded mock is certified with its own token; the one given is "
                  "not used", highlight=False)
        token, more = None, []
    options = RunOptions(base_url=base_url or "", token=token or MOCK_TOKEN, profile=profile, level=CertLevel(level),
                         seed=seed, timezone=timezone, timeout=timeout, max_response_time=max_response_time,
                         budget=budget, contract=contract, workers=workers, transport=transport, notes=tuple(notes),
                         more_tokens=tuple(more) if base_url is not None else ())
    _keep_hypothesis_out_of_the_working_directory()
    try:
        with _target(base_url, seed, err) as (url, target):
            options = replace(options, base_url=url, target=target)
            with _progress(err, enabled=not no_progress and err.is_terminal) as report:
                result = run_suite(options, report)
    except (ConnectionProblem, ContractError, UnknownTimezone, RuntimeError, OSError) as exc:
        message = hide(str(exc), options.token, secrets)
        _write_reports(unfinished_result(options, message), junit_xml, json_path, html, err)
        _fail(err, message, secrets)
    except Exception as exc:  # never a traceback: it would print the options, secrets among them
        message = f"unexpected {type(exc).__name__}: {hide(str(exc), options.token, secrets)}"
        _write_reports(unfinished_result(options, message), junit_xml, json_path, html, err)
        _fail(err, message + " (please report this)", secrets)
    out.print(render_console(result))
    _write_reports(result, junit_xml, json_path, html, err)
    sys.exit(result.exit_code)


def _keep_hypothesis_out_of_the_working_directory() -> None:
    """hypothesis keeps a ``.hypothesis/`` folder in the working directory even without its example
    database; a certification run writes nothing there (unless the user points it somewhere)."""
    if "HYPOTHESIS_STORAGE_DIRECTORY" in os.environ:
        return
    import tempfile

    from hypothesis import configuration

    configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "crosmos-conformance-hypothesis")


def _fail(err: Console, message: str, secrets: list[str]) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(hide(message, '', secrets))}", markup=True, highlight=False)
    sys.exit(EXIT_USAGE)


@contextlib.contextmanager
def _target(base_url: str | None, seed: int | None, err: Console) -> Iterator[tuple[str, str]]:
    """The server to certify: the one named, or the embedded mock for the length of the run."""
    if base_url is not None:
        yield base_url, "server"
        return
    from mockserver.serving.launch import running_mock

    err.print("No --base-url: starting the embedded mock to certify it (scenario mixed: limited, exhausted and "
              "unlimited metrics, so every rule gets its chance to fail).", highlight=False)
    # its token only, as a server; the scenario with every kind of metric: the realistic default may draw an
    # org whose every limit is -1, and then the rules on remaining and on rate limits would never be exercised
    with running_mock(seed=seed or 0, extra_args=["--token", MOCK_TOKEN, "--scenario", "mixed"]) as url:
        yield url, "embedded mock"


@contextlib.contextmanager
def _progress(err: Console, *, enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def report(event: RunProgress) -> None:
            task = tasks.get(event.stage)
            if task is None:
                task = tasks[event.stage] = bar.add_task(event.stage, total=event.total)
            bar.update(task, completed=event.done, total=event.total,
                       description=f"{event.stage}: {event.detail}" if event.detail else event.stage)

        yield report


def _write_reports(result: SuiteResult, junit_xml: Path | None, json_path: Path | None, html: Path | None,
                   err: Console) -> None:
    for path, render in ((junit_xml, render_junit), (json_path, render_json), (html, render_html)):
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(result), encoding="utf-8")
        except OSError as exc:
            err.print(f"[bold red]error:[/] cannot write {path}: {exc.strerror or exc}", markup=True,
                      highlight=False)
            sys.exit(EXIT_USAGE)
        err.print(f"Wrote {path}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    main()

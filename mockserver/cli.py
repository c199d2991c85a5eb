"""``crosmos-mock``: serve the contract-driven mock with a production WSGI server."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from contract import ContractError
from mockserver.app import MockSettings, create_app
from mockserver.server import PortInUseError, ServerOptions, serve


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=4010, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one and prints it).")
@click.option("--spec", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="OpenAPI 3.x document to mock [default: the embedded Crosmos contract].")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated data.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Log verbosity.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One line per request (tokens redacted).")
def main(host: str, port: int, spec: Path | None, seed: int, workers: int, threads: int, log_level: str,
         access_log: bool) -> None:
    """Serve a mock of the Crosmos usage endpoint (or of any OpenAPI 3.x document)."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(MockSettings(spec=spec, seed=seed, access_log=access_log))
    except ContractError as exc:
        raise click.ClickException(f"cannot load the contract: {exc}") from None
    try:
        serve(app, ServerOptions(host=host, port=port, workers=workers, threads=threads))
    except PortInUseError as exc:
        raise click.ClickException(str(exc)) from None

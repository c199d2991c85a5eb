"""pytest entry point: ``pytest --crosmos-base-url URL --crosmos-token TOKEN`` runs the suite in CI.

Loaded into every pytest session of this environment (``pytest11`` entry point), so importing it
must stay cheap and side-effect free; the suite itself is imported only when it is asked for.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crosmos", "Crosmos usage-endpoint conformance")
    group.addoption("--crosmos-base-url", action="store", default=None, metavar="URL",
                    help="Certify the server at URL: one test per check id.")
    group.addoption("--crosmos-token", action="store", default=None, metavar="TOKEN",
                    help="Bearer token for the server (default: $CROSMOS_TOKEN).")

"""Shared fixtures: servers over real HTTP on 127.0.0.1 and a one-call way to certify them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.engine import RunOptions, run_suite
from conformance.result import CertLevel, SuiteResult
from tests.servers import running
from tests.servers.reference import REFERENCE_TOKEN, create_app

SEED = 20261125


serve = running.serve_app


def certify(base_url: str, *, token: str = REFERENCE_TOKEN, level: CertLevel = CertLevel.FULL,
            profile: str = "smoke", **options: Any) -> SuiteResult:
    """The suite as a test uses it: the small profile, a fixed seed, level full."""
    return run_suite(RunOptions(base_url=base_url, token=token, level=level, profile=profile, seed=SEED,
                                **options))


@pytest.fixture(scope="session")
def reference_url() -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


@pytest.fixture(scope="session")
def reference_result(reference_url: str) -> SuiteResult:
    return certify(reference_url)

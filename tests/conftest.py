"""Session-wide test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from crosmos_contract.verdicts import CACHE_DIR_ENV


@pytest.fixture(scope="session", autouse=True)
def private_contract_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Mocks the tests start (``crosmos-mock`` in a subprocess too) keep contract verdicts in a temporary
    directory, not in the user's ~/.cache."""
    before = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("contract-cache"))
    yield
    if before is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = before

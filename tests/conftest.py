"""Session-wide test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from crosmos_contract.verdicts import CACHE_DIR_ENV
from tests.servers.tls import TlsFiles, make_tls_files


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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A private CA with a server certificate for 127.0.0.1/localhost and a client certificate
    (:func:`tests.servers.tls.make_tls_files`), made once per session."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))

"""Fixtures the mock's test modules opt into."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mockserver.frontend import reset


@pytest.fixture
def reset_mock_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Forget scenarios, faults and live usage after a test that used the module's ``base_url`` mock.

    Opt in with ``pytestmark = pytest.mark.usefixtures("reset_mock_after_test")``.
    """
    yield
    if "base_url" in request.fixturenames:
        reset(request.getfixturevalue("base_url"))

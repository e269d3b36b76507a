"""Fixtures for the fault-injection tests: one event loop per kind for the whole session."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.helpers.clients import KINDS, Loops


@pytest.fixture(scope="session")
def fault_loops() -> Iterator[Loops]:
    running = Loops()
    yield running
    running.stop()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """The client under test: "sync" (SMTP), "asyncio" or "uvloop" (AsyncSMTP)."""
    if request.param == "uvloop" and importlib.util.find_spec("uvloop") is None:
        pytest.skip("uvloop is not installed")
    return str(request.param)

"""Fixtures for the fault-injection tests: one event loop per kind for the whole session."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.helpers.clients import KINDS, LoopThread


class Loops:
    """One LoopThread per loop kind, started on first use, stopped at the end of the session."""

    def __init__(self) -> None:
        self._threads: dict[str, LoopThread] = {}

    def get(self, kind: str) -> LoopThread | None:
        if kind == "sync":
            return None
        if kind not in self._threads:
            self._threads[kind] = LoopThread(kind)
        return self._threads[kind]

    def stop(self) -> None:
        for thread in self._threads.values():
            thread.stop()
        self._threads.clear()


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

"""Fixtures for the SECURITY.md catalogue tests.

Every fixture here is prefixed ``sec_`` (several people add tests to this folder). A test
that asks for ``sec_kind`` runs once per client: ``SMTP`` ("sync"), and ``AsyncSMTP`` on the
default asyncio loop ("asyncio") and on uvloop ("uvloop"), the async client being driven
through the blocking proxy of :mod:`tests.helpers.clients` (each call on the loop's thread).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from netsmtp._client import auth_flows
from tests.helpers.clients import KINDS, LoopThread, make_client
from tests.helpers.clients import Loops as SecLoops
from tests.helpers.scripted import ScriptedServer

SEC_HELLO = "client.test"


class SecConnect(Protocol):
    """Makes a connected client with SMTP's blocking API (``Any``: SMTP or a proxy)."""

    def __call__(self, server: ScriptedServer | str | list[str], **options: Any) -> Any: ...


@pytest.fixture(scope="session")
def sec_loops() -> Iterator[SecLoops]:
    running = SecLoops()
    yield running
    running.stop()


@pytest.fixture(params=KINDS)
def sec_kind(request: pytest.FixtureRequest) -> str:
    """The client under test: "sync" (SMTP), "asyncio" or "uvloop" (AsyncSMTP)."""
    if request.param == "uvloop" and importlib.util.find_spec("uvloop") is None:
        pytest.skip("uvloop is not installed (the sync and asyncio runs still cover this)")
    return str(request.param)


@pytest.fixture
def sec_runner(sec_kind: str, sec_loops: SecLoops) -> LoopThread | None:
    """The event-loop thread of an async kind (None for "sync"), started before the test body
    so that descriptor counts taken in the test are stable."""
    return sec_loops.get(sec_kind)


@pytest.fixture
def sec_make(sec_kind: str, sec_runner: LoopThread | None) -> Iterator[SecConnect]:
    """``sec_make(server, **options)``: a connected client of the test's kind, options exactly
    as given. Closed at teardown as a safety net only."""
    made: list[Any] = []

    def factory(server: ScriptedServer | str | list[str], **options: Any) -> Any:
        host = server.host if isinstance(server, ScriptedServer) else server
        client = make_client(sec_kind, sec_runner, host, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def sec_connect(sec_make: SecConnect) -> SecConnect:
    """``sec_connect(server, **options)``: as ``sec_make`` with ``hello="client.test"`` and a
    2 s timeout unless given."""

    def factory(server: ScriptedServer | str | list[str], **options: Any) -> Any:
        options.setdefault("hello", SEC_HELLO)
        options.setdefault("timeout", 2)
        return sec_make(server, **options)

    return factory


@pytest.fixture
def sec_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the client believe its (loopback) test server is a remote host: the AUTH policy
    exempts loopback peers, and :func:`netsmtp._client.auth_flows.is_loopback` is the hook it
    consults at every ``auth()``."""
    monkeypatch.setattr(auth_flows, "is_loopback", lambda peer: False)

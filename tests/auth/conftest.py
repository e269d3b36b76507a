"""Fixtures for the AUTH tests: every scenario runs against SMTP and AsyncSMTP.

``kind`` is "sync" (:class:`netsmtp.SMTP`), "asyncio" or "uvloop" (:class:`netsmtp.AsyncSMTP`
driven through the blocking proxy of :mod:`tests.helpers.clients`, each call on the
loop's own thread). ``remote`` makes the client believe its peer is not a loopback address,
which is how the plaintext policy (SECURITY AU-01) is tested on a loopback test server.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from netsmtp._client import auth_flows
from tests.helpers.clients import KINDS, Loops, make_client
from tests.helpers.scripted import ScriptedServer

HELLO = "client.test"


class Connect(Protocol):
    def __call__(self, server: ScriptedServer | str, **options: Any) -> Any: ...


@pytest.fixture(scope="session")
def auth_loops() -> Iterator[Loops]:
    running = Loops()
    yield running
    running.stop()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """The client under test: "sync" (SMTP), "asyncio" or "uvloop" (AsyncSMTP)."""
    if request.param == "uvloop" and importlib.util.find_spec("uvloop") is None:
        pytest.skip("uvloop is not installed (the asyncio and sync runs still cover AUTH)")
    return str(request.param)


@pytest.fixture
def connect(kind: str, auth_loops: Loops) -> Iterator[Connect]:
    """``connect(server, **options)``: a connected client of the test's kind with a fixed
    hello and a short timeout. Closed at teardown as a safety net only."""
    made: list[Any] = []
    runner = auth_loops.get(kind)

    def factory(server: ScriptedServer | str, **options: Any) -> Any:
        options.setdefault("hello", HELLO)
        options.setdefault("timeout", 5)
        host = server.host if isinstance(server, ScriptedServer) else server
        client = make_client(kind, runner, host, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the (loopback) test server is a remote host: the hook the policy consults is
    :func:`netsmtp._client.auth_flows.is_loopback`, looked up at every ``auth()``."""
    monkeypatch.setattr(auth_flows, "is_loopback", lambda peer: False)

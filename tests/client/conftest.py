"""Fixtures for the client suite: every test that asks for ``connect`` (or ``make``) runs three
times, against ``SMTP`` and against ``AsyncSMTP`` on the default asyncio loop and on uvloop.

One suite, not three copies: the async client is driven through the blocking API of
:mod:`tests.helpers.clients` (each call runs on the loop's own thread), so every scenario,
byte and return value is checked identically for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import netsmtp
from tests.client.support import HELLO, Connect
from tests.helpers.clients import KINDS, Loops, make_client
from tests.helpers.scripted import ScriptedServer


@pytest.fixture(scope="session")
def loops() -> Iterator[Loops]:
    running = Loops()
    yield running
    running.stop()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which client a test runs against: "sync" (SMTP), "asyncio" or "uvloop" (AsyncSMTP)."""
    return str(request.param)


@pytest.fixture
def client_class(kind: str) -> type[Any]:
    """The class under test: ``SMTP`` or ``AsyncSMTP``."""
    return netsmtp.SMTP if kind == "sync" else netsmtp.AsyncSMTP


@pytest.fixture
def make(kind: str, loops: Loops) -> Iterator[Connect]:
    """``make(server, **options)``: a connected client of the test's kind, options passed as
    given (no defaults added). Closed at teardown as a safety net only."""
    made: list[Any] = []
    runner = loops.get(kind)  # started now, so a test's own descriptor counts are stable

    def factory(server: ScriptedServer | str | list[str] | None = None, **options: Any) -> Any:
        host = server.host if isinstance(server, ScriptedServer) else server
        cls = options.pop("cls", "SMTP")
        client = make_client(kind, runner, host, cls=cls, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def connect(make: Connect) -> Connect:
    """``connect(server, **options)``: a client with a short timeout and a fixed hello.

    Tests that care whether the library closed a connection check it from the server side
    (``peer.at_eof()``).
    """

    def factory(server: ScriptedServer | str | list[str] | None = None, **options: Any) -> Any:
        options.setdefault("hello", HELLO)
        options.setdefault("timeout", 2)
        return make(server, **options)

    return factory

"""Fixtures for the blocking client's tests: a client factory that never leaks a socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from netsmtp import SMTP
from tests.client.support import HELLO, Connect
from tests.helpers.scripted import ScriptedServer


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(server, **options)``: an SMTP client with a short timeout and a fixed hello.

    Clients are closed at teardown as a safety net only; tests that care whether the library
    closed a connection check it from the server side (``peer.at_eof()``).
    """
    made: list[SMTP] = []

    def factory(server: ScriptedServer | str | list[str] | None = None, **options: Any) -> SMTP:
        options.setdefault("hello", HELLO)
        options.setdefault("timeout", 2)
        host = server.host if isinstance(server, ScriptedServer) else server
        client = SMTP(host, **options) if host is not None else SMTP(**options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()

"""Every scenario of tests/send runs against SMTP (blocking) and AsyncSMTP (asyncio, uvloop).

The async client runs on a loop in a background thread and is driven through the blocking
API of :mod:`tests.helpers.clients`, so each byte and each result is checked identically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.clients import KINDS, Loops, make_client
from tests.helpers.scripted import ScriptedServer

from .support import HELLO, Connect


@pytest.fixture(scope="session")
def send_loops() -> Iterator[Loops]:
    running = Loops()
    yield running
    running.stop()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """ "sync" (SMTP/LMTP) or "asyncio"/"uvloop" (AsyncSMTP/AsyncLMTP)."""
    return str(request.param)


@pytest.fixture
def connect(kind: str, send_loops: Loops) -> Iterator[Connect]:
    """``connect(server, cls="SMTP"|"LMTP", **options)``: a connected client of the test's kind
    with a fixed hello name and a short timeout (closed at teardown as a safety net)."""
    made: list[Any] = []
    runner = send_loops.get(kind)

    def factory(server: ScriptedServer | str | None = None, **options: Any) -> Any:
        host = server.host if isinstance(server, ScriptedServer) else server
        cls = options.pop("cls", "SMTP")
        options.setdefault("hello", HELLO)
        options.setdefault("timeout", 3)
        client = make_client(kind, runner, host, cls=cls, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def socket_path() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="netsmtp-", dir="/tmp")  # short: sun_path is ~108 octets
    try:
        yield os.path.join(directory, "smtp.sock")
    finally:
        shutil.rmtree(directory, ignore_errors=True)

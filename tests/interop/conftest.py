"""Interop tests against real MTAs: the servers (found or started once per session) and clients.

``server`` runs a test against each of Postfix, Exim, OpenSMTPD and aiosmtpd
(:mod:`tests.interop.servers` says how each is found); ``open_client`` connects a client of
the test's ``client_kind``: ``"sync"`` (:class:`netsmtp.SMTP`) or ``"asyncio"``
(:class:`netsmtp.AsyncSMTP`, each call awaited on an event loop's own thread, see
:mod:`tests.helpers.clients`). The AUTH suite's fixtures (``connect``, ``kind`` with uvloop
too) are re-exported for the Postfix AUTH tests.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from tests.auth.conftest import Loops, auth_loops, connect, kind, remote
from tests.helpers.clients import make_client
from tests.interop.servers import NAMES, Server, ServerPool, require

__all__ = ["auth_loops", "connect", "kind", "remote"]

HELLO = "client.netsmtp.test"
CLIENT_KINDS = ("sync", "asyncio")


class OpenClient(Protocol):
    def __call__(self, address: str, **options: Any) -> Any: ...


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    yield pool
    pool.stop()


@pytest.fixture(params=NAMES)
def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> Server:
    """Each real server in turn (a CI failure or a local skip with the reason when missing)."""
    return require(server_pool, str(request.param))


@pytest.fixture
def context(server: Server) -> ssl.SSLContext:
    """A verifying client context that trusts the server's own certificate and nothing else."""
    return ssl.create_default_context(cafile=server.cafile)


@pytest.fixture(params=CLIENT_KINDS)
def client_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_client(client_kind: str, auth_loops: Loops) -> Iterator[OpenClient]:
    """``open_client("host:port", **options)``: a connected client of the test's kind, with a
    fixed hello name and a 30 s timeout; closed at teardown as a safety net only."""
    made: list[Any] = []
    runner = auth_loops.get(client_kind)

    def factory(address: str, **options: Any) -> Any:
        options.setdefault("hello", HELLO)
        options.setdefault("timeout", 30)
        client = make_client(client_kind, runner, address, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()

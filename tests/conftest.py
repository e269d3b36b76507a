"""Shared fixtures: a trustme CA, TLS contexts, the scripted server, an aiosmtpd server."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from tests.helpers.aiosmtpd_server import RunningServer, start_aiosmtpd
from tests.helpers.scripted import Script, ScriptedServer


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context for ``localhost`` and ``127.0.0.1``, signed by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "::1", "smtp.test").configure_cert(context)
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA (and nothing else)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def scripted(server_context: ssl.SSLContext) -> Iterator[type[ScriptedServer]]:
    """Factory for scripted servers, closed at the end of the test."""
    made: list[ScriptedServer] = []

    class Factory(ScriptedServer):
        def __init__(self, script: Script, **kwargs: object) -> None:
            kwargs.setdefault("tls_context", server_context)
            super().__init__(script, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    yield Factory
    for server in made:
        server.close()


@pytest.fixture
def aiosmtpd_server(tmp_path: object, server_context: ssl.SSLContext) -> Iterator[RunningServer]:
    server = start_aiosmtpd(server_context, str(tmp_path))
    try:
        yield server
    finally:
        server.stop()

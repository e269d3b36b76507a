"""SECURITY.md §7: resource safety (RS-01..RS-09).

Each test snapshots ``/proc/self/fd`` before and checks after (with ``gc.collect()``) that no
descriptor opened meanwhile is still open and that the count did not grow; ResourceWarning is
an error for the whole suite (pyproject), so a socket left to the garbage collector fails
the test too. Every test runs against SMTP and AsyncSMTP (asyncio and uvloop).
"""

from __future__ import annotations

import contextlib
import gc
import ssl
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

import netsmtp
from netsmtp import ConnectError, ConnectionLost, GreetingError, ReplyError, TLSError, UsageError
from netsmtp._client import session_flows
from tests.helpers.clients import LoopThread
from tests.helpers.scripted import Peer, ScriptedServer
from tests.security._support import (
    EHLO,
    HAVE_PROC_FD,
    HELLO,
    HELO,
    QUIT,
    STARTTLS,
    TLS_HANDSHAKE,
    Issuer,
    assert_no_fd_leak,
    closed_silently,
    failed_handshake,
    greet,
    no_fd_leak,
    open_fds,
    peek,
    serve_quit,
    server_context,
    steps,
    warm_up,
)
from tests.security.conftest import SecConnect

pytestmark = pytest.mark.skipif(not HAVE_PROC_FD, reason="needs /proc/self/fd")


@pytest.fixture(autouse=True)
def _sec_warm_loops(sec_runner: LoopThread | None) -> None:
    """The event loop's one-time descriptors are made before any count (see warm_up)."""
    warm_up(sec_runner)


def refused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def real(smtp: Any) -> Any:
    return getattr(smtp, "client", smtp)


def assert_dead(smtp: Any) -> None:
    """Closed for good: every call fails at once (false, or ConnectionLost with raise_errors)
    and writes nothing; close() is a no-op, however often."""
    smtp.close()
    smtp.close()
    assert real(smtp)._stream is None
    assert smtp.tls_active is False
    for call in (smtp.noop, lambda: smtp.mail("a@b.example"), smtp.quit):
        with contextlib.suppress(ConnectionLost):
            assert call() is False
    smtp.close()


# ---- RS-01 ----------------------------------------------------------------------------------------
ATTEMPTS = 200


def test_RS_01_connection_refused(sec_make: SecConnect) -> None:
    """A port with no listener: the constructor raises, and after many such failures the
    process has exactly the descriptors it had."""
    port = refused_port()
    with no_fd_leak():
        for _ in range(ATTEMPTS):
            with pytest.raises(ConnectError, match="refused"):
                sec_make(f"127.0.0.1:{port}", hello=HELLO, timeout=2)


# ---- RS-02 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("greeting", [b"554 go away\r\n", b"421 4.3.2 busy\r\n", b"hello there\r\n"])
def test_RS_02_bad_greeting_in_the_constructor(
    scripted: type[ScriptedServer], sec_make: SecConnect, greeting: bytes
) -> None:
    """bpo-30394: the constructor raises, closes its socket (the server sees EOF within 1 s,
    no QUIT), and leaks no descriptor."""

    def script(p: Peer) -> None:
        p.send(greeting)
        closed_silently(p, wait=1.0)

    server = scripted(script)
    with no_fd_leak(server):
        with pytest.raises(ConnectError) as info:
            sec_make(server, hello=HELLO, timeout=2)
        if greeting[:1] in b"45":
            assert isinstance(info.value, GreetingError)
    assert server.received == b""


# ---- RS-03 ----------------------------------------------------------------------------------------
def test_RS_03_implicit_tls_handshake_failure_in_the_constructor(
    scripted: type[ScriptedServer], sec_make: SecConnect, client_context: ssl.SSLContext
) -> None:
    """bpo-12378: a self-signed certificate on an implicit-TLS port: raise, no descriptor leak."""
    context = server_context(*Issuer().issue(ips=["127.0.0.1"], self_signed=True))
    server = scripted(failed_handshake, tls_context=context)
    with no_fd_leak(server), pytest.raises(ConnectError, match="TLSError"):
        sec_make(server, ssl=True, ssl_context=client_context, hello=HELLO, timeout=2)


# ---- RS-04 ----------------------------------------------------------------------------------------
def test_RS_04_ehlo_and_helo_refused_in_the_constructor(
    scripted: type[ScriptedServer], sec_make: SecConnect
) -> None:
    """Net::SMTP's SendHello path: EHLO and HELO both 550: raise, the socket closed."""

    def script(p: Peer) -> None:
        p.send("220 test.example ESMTP\r\n")
        p.expect(EHLO)
        p.reply("550 no")
        p.expect(HELO)
        p.reply("550 no")
        closed_silently(p, wait=1.0)

    server = scripted(script)
    with no_fd_leak(server), pytest.raises(GreetingError):
        sec_make(server, hello=HELLO, timeout=2)


# ---- RS-05 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("failure", ["refused-454", "handshake-garbage", "untrusted-certificate"])
def test_RS_05_starttls_failure(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, failure: str
) -> None:
    """After a failed handshake (SD-07) the object is closed at once: the server sees EOF, the
    descriptor is released, ``close()`` is idempotent and every later call fails without
    writing. A refusal (SD-02) leaves the session usable by design (a ReplyError, RFC 3207
    §4.1 lets the caller decide); leaving the ``with`` block then sends QUIT and closes."""
    context = None
    if failure == "untrusted-certificate":
        context = server_context(*Issuer().issue(ips=["127.0.0.1"]))

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        if failure == "refused-454":
            p.reply("454 4.7.0 TLS not available")
            serve_quit(p)
            return
        p.reply("220 Ready")
        if failure == "handshake-garbage":
            assert peek(p, 1) == bytes([TLS_HANDSHAKE])
            p.send(b"hello\r\n")
            p.read_to_eof(wait=1.0)  # the client closes at once
        else:
            failed_handshake(p)

    server = scripted(script, tls_context=context) if context else scripted(script)
    with no_fd_leak(server):
        with sec_connect(server, raise_errors=True) as smtp:
            with pytest.raises(ReplyError if failure == "refused-454" else TLSError):
                smtp.starttls(client_context)
            if failure != "refused-454":
                assert real(smtp)._stream is None
                with pytest.raises(ConnectionLost):
                    smtp.auth("tim", "tanstaaftanstaaf")
        assert_dead(smtp)
    sent = server.received[len(EHLO + STARTTLS) :]
    assert b"AUTH" not in sent and b"MAIL" not in sent and b"NOOP" not in sent
    if failure == "refused-454":
        assert sent == QUIT


# ---- RS-06 ----------------------------------------------------------------------------------------
class BodyError(Exception):
    pass


def test_RS_06_context_manager_happy_path(scripted: type[ScriptedServer], sec_connect: SecConnect) -> None:
    """QUIT is sent, 221 read, the socket closed (the server sees EOF right after 221)."""
    server = scripted(steps(greet, serve_quit))
    with no_fd_leak(server):
        with sec_connect(server) as smtp:
            assert smtp.tls_active is False
        assert smtp.code() == 221
        assert real(smtp)._stream is None
    assert server.received == EHLO + QUIT


@pytest.mark.parametrize("raise_errors", [True, False], ids=["raise", "return"])
def test_RS_06_context_manager_server_already_gone(
    scripted: type[ScriptedServer], sec_connect: SecConnect, raise_errors: bool
) -> None:
    """The server hung up: leaving the block does not raise, and releases the socket."""

    def script(p: Peer) -> None:
        greet(p)
        p.close()

    server = scripted(script)
    with no_fd_leak(server):
        with sec_connect(server, raise_errors=raise_errors):
            time.sleep(0.05)  # the EOF is there before QUIT is written
        assert server.received == EHLO


def test_RS_06_context_manager_exception_in_body(
    scripted: type[ScriptedServer], sec_connect: SecConnect
) -> None:
    """The body's exception propagates unchanged (the same object, no context added by a QUIT
    failure); QUIT is still sent to a live server."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("QUIT")
        p.close()  # and no 221: the QUIT "fails"

    server = scripted(script)
    error = BodyError("from the body")
    with no_fd_leak(server), pytest.raises(BodyError) as info, sec_connect(server, raise_errors=True):
        raise error
    assert info.value is error
    assert error.__context__ is None and error.__cause__ is None
    assert server.received == EHLO + QUIT


def test_RS_06_context_manager_quit_is_bounded(
    scripted: type[ScriptedServer], sec_connect: SecConnect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The QUIT of ``__exit__`` waits EXIT_QUIT_TIMEOUT (5 s) at most for its answer, even with a
    long client timeout; its failure is swallowed, never raised in place of the body's error.
    (The bound is shortened here so that the test takes a moment.)"""
    assert session_flows.EXIT_QUIT_TIMEOUT <= 5.0
    monkeypatch.setattr(session_flows, "EXIT_QUIT_TIMEOUT", 0.3)

    def script(p: Peer) -> None:
        greet(p)
        p.expect("QUIT")
        p.read_to_eof(wait=5)  # never answers

    server = scripted(script)
    with no_fd_leak(server):
        started = time.monotonic()
        with pytest.raises(BodyError), sec_connect(server, timeout=30, raise_errors=True):
            raise BodyError
        assert time.monotonic() - started < 2.0


# ---- RS-07 ----------------------------------------------------------------------------------------
def test_RS_07_garbage_collected_client(
    scripted: type[ScriptedServer], sec_kind: str, sec_runner: LoopThread | None
) -> None:
    """Dropping the last reference to a connected client: a ResourceWarning, the socket closed,
    and no network I/O from the finalizer (the server sees no QUIT). AsyncSMTP is created and
    dropped on its own loop's thread, as an application would."""

    def script(p: Peer) -> None:
        greet(p)
        closed_silently(p)

    server = scripted(script)
    with no_fd_leak(server):
        if sec_runner is None:
            smtp = netsmtp.SMTP(server.host, hello=HELLO, timeout=2)
            with pytest.warns(ResourceWarning, match="unclosed SMTP"):
                del smtp
                gc.collect()
        else:
            holder: dict[str, Any] = {}

            async def create() -> None:
                client = netsmtp.AsyncSMTP(server.host, hello=HELLO, timeout=2)
                await client.connect()
                holder["client"] = client

            def drop() -> None:
                holder.clear()
                gc.collect()

            sec_runner.call(create)
            with pytest.warns(ResourceWarning, match="unclosed AsyncSMTP"):
                sec_runner.call(drop)
    assert server.received == EHLO


SHUTDOWN_SCRIPT = """
import asyncio, sys
import netsmtp

kind, host = sys.argv[1], sys.argv[2]
if kind == "sync":
    KEPT = netsmtp.SMTP(host, hello="client.test", timeout=5)
else:
    async def main():
        global KEPT
        KEPT = netsmtp.AsyncSMTP(host, hello="client.test", timeout=5)
        await KEPT.connect()
    if kind == "uvloop":
        import uvloop
        uvloop.run(main())
    else:
        asyncio.run(main())
print("exiting with the client open", flush=True)
"""


def test_RS_07_interpreter_shutdown(scripted: type[ScriptedServer], sec_kind: str) -> None:
    """An open client still referenced at interpreter exit: no exception printed from a
    finalizer, no QUIT (a ResourceWarning, shown here with ``-W always``, is expected)."""

    def script(p: Peer) -> None:
        greet(p)
        closed_silently(p, wait=10)

    server = scripted(script)
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "always::ResourceWarning",
            "-c",
            textwrap.dedent(SHUTDOWN_SCRIPT),
            sec_kind,
            server.host,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    server.join()
    assert done.returncode == 0, done.stderr
    assert "exiting with the client open" in done.stdout
    assert "Exception ignored" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert server.received == EHLO


# ---- RS-08 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("failure", ["timeout", "421"])
def test_RS_08_close_after_a_timeout_or_a_421(
    scripted: type[ScriptedServer], sec_connect: SecConnect, failure: str
) -> None:
    """MS-20 / MS-12: the failure itself releases the descriptor; close() after it, repeated,
    is a no-op; nothing more is written."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        if failure == "421":
            p.reply("421 4.3.2 closing")
            closed_silently(p, wait=1.0)
        else:
            closed_silently(p, wait=3.0)  # never answers; the client gives up and closes

    server = scripted(script)
    with no_fd_leak(server) as before:
        smtp = sec_connect(server, timeout=0.3)
        assert smtp.noop() is False
        assert ("Timeout" in smtp.message()) if failure == "timeout" else smtp.code() == 421
        assert real(smtp)._stream is None
        assert_no_fd_leak(before)  # released before close() is ever called
        assert_dead(smtp)
    assert server.received == EHLO + b"NOOP\r\n"


# ---- RS-09 ----------------------------------------------------------------------------------------
def test_RS_09_connect_twice(scripted: type[ScriptedServer], sec_connect: SecConnect, sec_kind: str) -> None:
    """aiosmtplib 5.1.2: connect() on a connected client raises "already connected" and opens no
    second socket; nor does connect() after close() (one client object, one connection)."""
    connections: list[int] = []

    def script(p: Peer) -> None:
        connections.append(1)
        greet(p)
        serve_quit(p)

    server = scripted(script)
    with no_fd_leak():
        smtp = sec_connect(server)
        opened = open_fds()
        with pytest.raises(UsageError, match="already connected"):
            smtp.connect()
        assert open_fds() == opened
        if sec_kind != "sync":
            smtp.__enter__()  # async with on a connected client: no new connection either
            assert open_fds() == opened
        assert smtp.quit() is True
        with pytest.raises(UsageError, match="already connected"):
            smtp.connect()
        assert open_fds() == opened or len(open_fds()) < len(opened)
        server.join()
    assert connections == [1]

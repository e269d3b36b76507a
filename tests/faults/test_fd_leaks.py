"""1,000 failing connections leave the process's descriptors as they were (issue 6, point 4).

Four ways to fail, interleaved, 250 of each per client: a refused port, a refused greeting
(``554``), an implicit-TLS handshake that fails verification, and a server that never
greets (a listener that never accepts; the client times out). Afterwards, and after
``gc.collect()``, ``/proc/self/fd`` holds exactly the descriptors it held before; every
socket was closed by the library (the suite runs with ``-W error::ResourceWarning``, so one
left to the garbage collector fails the test).

Also here: the descriptor ``ssl.SSLContext.wrap_socket`` used to leak when the server reset
the connection right after its ``220`` to STARTTLS.
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from netsmtp import ConnectError, ConnectTimeout, GreetingError, TLSError
from netsmtp._backends.sync import SocketStream
from tests.faults.conftest import Loops
from tests.helpers.clients import make_client
from tests.helpers.scripted import Peer, ScriptedServer

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")

CONNECTIONS = 1000
KINDS_OF_FAILURE = ("refused", "greeting", "tls", "timeout")
STALL_TIMEOUT = 0.05
STALL_THREADS = 5


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def fd_report(before: set[str], after: set[str]) -> str:
    def describe(fd: str) -> str:
        try:
            return f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}"
        except OSError:
            return f"{fd} -> ?"

    return f"new: {[describe(fd) for fd in sorted(after - before)]}, gone: {sorted(before - after)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refuse_greeting(p: Peer) -> None:
    p.send(b"554 5.3.2 go away\r\n")


def ignore(p: Peer) -> None:  # the handshake already failed in the server (client refused the cert)
    return None


@pytest.mark.parametrize("kind", ["sync", "asyncio", "uvloop"])
def test_a_thousand_failed_connections_leak_nothing(
    kind: str, fault_loops: Loops, server_context: ssl.SSLContext
) -> None:
    if kind == "uvloop":
        pytest.importorskip("uvloop")
    runner = fault_loops.get(kind)
    per_kind = CONNECTIONS // len(KINDS_OF_FAILURE)
    expected: dict[str, type[BaseException]] = {
        "refused": ConnectError,
        "greeting": GreetingError,
        "tls": ConnectError,  # the default context does not trust the test CA
        "timeout": ConnectTimeout,
    }

    def attempt(what: str, host: str) -> BaseException | None:
        options: dict[str, Any] = {"hello": "client.test", "timeout": 2}
        if what == "tls":
            # Verifying, and trusting nothing (not even the system store, which takes
            # ~70 ms to load per connection): the handshake fails on the certificate.
            options["ssl"] = True
            options["ssl_context"] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if what == "timeout":
            options["timeout"] = STALL_TIMEOUT
        try:
            client = make_client(kind, runner, host, **options)
        except BaseException as exc:
            return exc
        client.close()
        return None

    def run(count: int) -> list[str]:
        greeting = ScriptedServer(refuse_greeting, connections=count)
        tls = ScriptedServer(ignore, connections=count, tls_context=server_context, implicit_tls=True)
        silent = socket.socket()  # listens, never accepts: connects succeed, no greeting ever comes
        silent.bind(("127.0.0.1", 0))
        silent.listen(count + 8)
        hosts = {
            "refused": f"127.0.0.1:{free_port()}",
            "greeting": greeting.host,
            "tls": tls.host,
            "timeout": f"127.0.0.1:{silent.getsockname()[1]}",
        }
        plan = [what for _ in range(count) for what in KINDS_OF_FAILURE]
        bad: list[str] = []
        try:
            # The two scripted servers take their connections one at a time, in one thread;
            # the stalls run alongside in several, so their timeouts overlap.
            with ThreadPoolExecutor(1 + STALL_THREADS) as pool:
                sequential = pool.submit(lambda: [(w, attempt(w, hosts[w])) for w in plan if w != "timeout"])
                stalls = [
                    pool.submit(lambda n: [attempt("timeout", hosts["timeout"]) for _ in range(n)], n)
                    for n in _shares(count, STALL_THREADS)
                ]
                results = sequential.result()
                results += [("timeout", exc) for future in stalls for exc in future.result()]
        finally:
            # (not join(): it re-raises the TLS server's handshake failures, which are the point)
            greeting.thread.join(30)
            tls.thread.join(30)
            greeting.close()
            tls.close()
            silent.close()
        for what, exc in results:
            if not isinstance(exc, expected[what]):
                bad.append(f"{what}: {exc!r}")
        assert len(results) == count * len(KINDS_OF_FAILURE)
        return bad

    assert not run(1)  # warm up: whatever a first connection sets up lazily is set up now
    gc.collect()
    before = open_fds()
    bad = run(per_kind)
    gc.collect()
    after = open_fds()
    assert not bad, f"{len(bad)} unexpected outcomes: {bad[:10]}"
    assert after == before, fd_report(before, after)


# ---- the wrap_socket leak (CPython's SSLSocket._create on a reset socket) -------------------------
def _reset_connection() -> tuple[socket.socket, Callable[[], None]]:
    """A client socket whose server reset the connection (RST) a moment ago."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()
    listener.close()
    time.sleep(0.05)  # the RST has arrived: the socket is no longer connected

    def cleanup() -> None:
        client.close()

    return client, cleanup


@pytest.mark.parametrize("probe_first", [False, True])
def test_starttls_on_a_reset_socket_leaks_nothing(client_context: ssl.SSLContext, probe_first: bool) -> None:
    # Without probe_first, SSLSocket._create's own recv(1) meets the ECONNRESET and raised it
    # without closing the SSLSocket that owned the descriptor. With probe_first the error
    # is consumed before: then wrap_socket returned a socket with no TLS at all, which must
    # not be taken for an encrypted one.
    gc.collect()
    before = open_fds()
    for _ in range(10):
        sock, cleanup = _reset_connection()
        if probe_first:
            with contextlib.suppress(OSError):
                sock.recv(1)
        stream = SocketStream(sock)
        with pytest.raises(TLSError):
            stream.start_tls(client_context, "localhost", 1.0)
        stream.close()
        cleanup()
    gc.collect()
    assert open_fds() == before

"""Cancelling AsyncSMTP at every await point of a transaction (issue 4, SECURITY RS-xx spirit).

A cancelled call must raise ``CancelledError`` and leave the connection closed: never
desynchronised, never a half-written command followed by another, never the end of a
message the caller gave up on. The scripted server plays a whole transaction (greeting,
EHLO, STARTTLS and the handshake, EHLO, MAIL, two RCPTs, DATA, the body, the final dot,
QUIT) and stalls at one step; the test cancels the client's task once the server says it
is stalling, then checks what the server received, that it saw the client close, and that
later calls fail without writing. Each case runs on the default loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

import netsmtp
from netsmtp import AsyncSMTP, ConnectionLost
from tests.client.support import EHLO, HELLO, greet
from tests.helpers.clients import LOOP_KINDS, run_loop
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines

pytestmark = pytest.mark.parametrize("loop_kind", LOOP_KINDS)

STEPS = [
    "greeting",
    "EHLO",
    "STARTTLS",
    "TLS handshake",
    "EHLO after TLS",
    "MAIL",
    "RCPT 1",
    "RCPT 2",
    "DATA",
    "body",
    "final dot",
    "QUIT",
]

SMALL_BODY = b"Subject: hi\r\n\r\nhello\r\n"
# Far more than the socket buffers and the transport's high-water mark hold: with the server
# not reading, the client's writes block on flow control long before the end.
BIG_CHUNK = (b"x" * 62 + b"\r\n") * 1024  # 64 KiB of 64-octet lines (SM-10: at most 998)
BIG_CHUNKS = 512  # 32 MiB


def big_body() -> Iterator[bytes]:
    for _ in range(BIG_CHUNKS):
        yield BIG_CHUNK


# What the client has written when the server stalls at each step (TLS part after STARTTLS).
PLAIN_BEFORE_TLS = EHLO + b"STARTTLS\r\n"
SENT_IN_TLS = {
    "EHLO after TLS": EHLO,
    "MAIL": EHLO + b"MAIL FROM:<a@example.org>\r\n",
    "RCPT 1": EHLO + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n",
    "RCPT 2": EHLO + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n",
    "DATA": EHLO
    + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
}
SENT_IN_TLS["final dot"] = SENT_IN_TLS["DATA"] + SMALL_BODY + b".\r\n"
SENT_IN_TLS["QUIT"] = SENT_IN_TLS["final dot"] + b"QUIT\r\n"


class Stall:
    """The server's side of a stall: signal the test, then read whatever the client still
    sends until it closes (raw bytes, without TLS when the handshake never happened).

    At "body" the server reads nothing until the test has cancelled the client (``released``),
    so the client's writes block on flow control; then it drains the megabytes the kernel
    holds, counting them and keeping only the end.
    """

    def __init__(self, step: str) -> None:
        self.step = step
        self.stalled = threading.Event()
        self.released = threading.Event()
        self.rest: bytes | None = None
        self.rest_size = 0

    def at(self, p: Peer, step: str) -> bool:
        if step != self.step:
            return False
        self.stalled.set()
        if step == "body":
            assert self.released.wait(10), "the test never cancelled the client"
            self.rest_size, self.rest = drain(p)
        else:
            self.rest = p.read_to_eof(wait=5)
        return True

    async def wait(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.stalled.is_set():
            assert time.monotonic() < deadline, f"the server never reached {self.step!r}"
            await asyncio.sleep(0.002)


def drain(p: Peer, wait: float = 5.0) -> tuple[int, bytes]:
    """Read to EOF without recording; returns (bytes read, the last 16 of them)."""
    p.sock.settimeout(wait)
    total, tail = len(p.buffer), p.buffer[-16:]
    while True:
        try:
            data = p.sock.recv(1 << 20)
        except TimeoutError:
            raise AssertionError(f"the client did not close within {wait} s") from None
        except (ConnectionError, ssl.SSLError, OSError):
            data = b""
        if not data:
            return total, tail
        total += len(data)
        tail = (tail + data)[-16:]


def transaction_script(stall: Stall) -> Callable[[Peer], None]:
    def script(p: Peer) -> None:
        if stall.at(p, "greeting"):
            return
        p.send("220 test.example ESMTP ready\r\n")
        p.expect(EHLO)
        if stall.at(p, "EHLO"):
            return
        p.reply(*ehlo_lines("STARTTLS", "SIZE 100000000"))
        p.expect("STARTTLS")
        if stall.at(p, "STARTTLS"):
            return
        p.reply("220 2.0.0 go ahead")
        if stall.at(p, "TLS handshake"):
            return
        p.starttls()
        p.expect(EHLO)
        if stall.at(p, "EHLO after TLS"):
            return
        p.reply(*ehlo_lines("SIZE 100000000"))
        p.expect("MAIL FROM:<a@example.org>")
        if stall.at(p, "MAIL"):
            return
        p.reply("250 2.1.0 ok")
        p.expect("RCPT TO:<b@example.org>")
        if stall.at(p, "RCPT 1"):
            return
        p.reply("250 2.1.5 ok")
        p.expect("RCPT TO:<c@example.org>")
        if stall.at(p, "RCPT 2"):
            return
        p.reply("250 2.1.5 ok")
        p.expect("DATA")
        if stall.at(p, "DATA"):
            return
        p.reply("354 go ahead")
        if stall.at(p, "body"):
            return
        assert p.read_data() == SMALL_BODY + b".\r\n"
        if stall.at(p, "final dot"):
            return
        p.reply("250 2.0.0 queued")
        p.expect("QUIT")
        if stall.at(p, "QUIT"):
            return
        p.reply("221 2.0.0 bye")
        assert p.at_eof()

    return script


async def transaction(smtp: AsyncSMTP, context: ssl.SSLContext, body: Any) -> None:
    await smtp.connect()
    assert await smtp.starttls(context) is True
    assert await smtp.mail("a@example.org") is True
    assert await smtp.to("b@example.org", "c@example.org") is True
    assert await smtp.data(body) is True
    assert await smtp.quit() is True


async def cancel_when(task: asyncio.Task[Any], ready: Coroutine[Any, Any, None]) -> None:
    """Wait for ``ready``, check the task is still waiting, cancel it and see CancelledError."""
    await ready
    assert not task.done(), "the client finished instead of waiting"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def assert_closed_and_inert(smtp: AsyncSMTP) -> None:
    """Later calls fail at once (false, code 421) and write nothing."""
    assert smtp._stream is None  # the transport was dropped with the cancel
    assert await smtp.noop() is False
    assert smtp.code() == 421
    assert "cancelled" in smtp.message()
    assert await smtp.mail("a@example.org") is False
    assert await smtp.data(b"x\r\n") is False
    assert await smtp.datasend(b"x") is False
    assert await smtp.dataend() is False
    assert await smtp.quit() is False
    assert smtp.code() == 421
    with pytest.raises(netsmtp.UsageError):
        await smtp.connect()  # one connection per object, even after a cancel (RS-09)


@pytest.mark.parametrize("step", STEPS)
def test_cancel_at_every_step(
    scripted: type[ScriptedServer], client_context: ssl.SSLContext, loop_kind: str, step: str
) -> None:
    stall = Stall(step)
    server = scripted(transaction_script(stall))
    body = big_body() if step == "body" else SMALL_BODY

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=5)
        task = asyncio.create_task(transaction(smtp, client_context, body))

        async def ready() -> None:
            await stall.wait()
            if step == "body":
                await asyncio.sleep(0.3)  # let the client fill every buffer and block

        await cancel_when(task, ready())
        stall.released.set()
        await assert_closed_and_inert(smtp)

    run_loop(loop_kind, main())
    server.join()
    plain = b"".join(data for tls, data in server.segments if not tls)
    in_tls = b"".join(data for tls, data in server.segments if tls)
    rest = stall.rest
    assert rest is not None
    if step == "body":
        # Whatever part of the body reached the server, it was never ended.
        assert plain == PLAIN_BEFORE_TLS
        assert in_tls == SENT_IN_TLS["DATA"]
        assert 0 < stall.rest_size < BIG_CHUNKS * len(BIG_CHUNK)
        assert not rest.endswith(b"\r\n.\r\n")
        assert set(rest) <= set(BIG_CHUNK)
        return
    assert rest == b"" or (step == "TLS handshake" and rest.startswith(b"\x16\x03"))  # a ClientHello
    if step in ("greeting", "EHLO", "STARTTLS", "TLS handshake"):
        assert in_tls == b""
        written = {"greeting": b"", "EHLO": EHLO}.get(step, PLAIN_BEFORE_TLS)
        if step == "TLS handshake":
            plain = plain.removesuffix(rest)  # the ClientHello, read raw by the stalled server
        assert plain == written
    else:
        assert plain == PLAIN_BEFORE_TLS
        assert in_tls == SENT_IN_TLS[step]


def test_cancel_with_raise_errors_then_calls_raise_connection_lost(
    scripted: type[ScriptedServer], loop_kind: str
) -> None:
    stall = Stall("MAIL")

    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<a@example.org>")
        assert stall.at(p, "MAIL")

    server = scripted(script)

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=5, raise_errors=True)
        await smtp.connect()
        task = asyncio.create_task(smtp.mail("a@example.org"))
        await cancel_when(task, stall.wait())
        stall.released.set()
        with pytest.raises(ConnectionLost, match="cancelled"):
            await smtp.noop()
        with pytest.raises(ConnectionLost):
            await smtp.to("b@example.org")
        with pytest.raises(ConnectionLost):
            await smtp.quit()

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"
    assert stall.rest == b""


def test_cancel_datasend_blocked_on_flow_control(scripted: type[ScriptedServer], loop_kind: str) -> None:
    """datasend()/dataend() as separate calls: a cancelled datasend never lets a later
    dataend() send the end marker."""
    stall = Stall("body")

    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go ahead")
        assert stall.at(p, "body")

    server = scripted(script)

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=5)
        await smtp.connect()
        assert await smtp.data() is True

        async def send_body() -> None:
            for chunk in big_body():
                assert await smtp.datasend(chunk) is True

        task = asyncio.create_task(send_body())

        async def ready() -> None:
            await stall.wait()
            await asyncio.sleep(0.3)

        await cancel_when(task, ready())
        stall.released.set()
        assert await smtp.dataend() is False
        assert smtp.code() == 421

    run_loop(loop_kind, main())
    server.join()
    assert 0 < stall.rest_size < BIG_CHUNKS * len(BIG_CHUNK)
    assert stall.rest is not None and not stall.rest.endswith(b"\r\n.\r\n")


def test_cancel_async_datafile_write(scripted: type[ScriptedServer], loop_kind: str) -> None:
    stall = Stall("body")

    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go ahead")
        assert stall.at(p, "body")

    server = scripted(script)

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=5)
        await smtp.connect()
        fh = await smtp.datafile()
        assert fh is not None

        async def write_body() -> None:
            async with fh:
                for chunk in big_body():
                    await fh.write(chunk)

        task = asyncio.create_task(write_body())

        async def ready() -> None:
            await stall.wait()
            await asyncio.sleep(0.3)

        await cancel_when(task, ready())
        stall.released.set()
        assert fh.closed  # leaving the block by the cancel abandoned the message
        assert fh.accepted is False
        assert await smtp.noop() is False

    run_loop(loop_kind, main())
    server.join()
    assert stall.rest is not None and not stall.rest.endswith(b"\r\n.\r\n")


# ---- before the first byte: resolving and connecting --------------------------------------------
@pytest.fixture
def slow_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """``slow.test`` resolves only once ``release`` is set; ``resolving`` tells it started."""
    resolving, release = threading.Event(), threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "slow.test":
            resolving.set()
            release.wait(10)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield resolving, release
    release.set()


def test_cancel_while_resolving(slow_dns: tuple[threading.Event, threading.Event], loop_kind: str) -> None:
    resolving, release = slow_dns

    async def main() -> None:
        smtp = AsyncSMTP("slow.test:25", hello=HELLO, timeout=5)
        task = asyncio.create_task(smtp.connect())

        async def ready() -> None:
            while not resolving.is_set():
                await asyncio.sleep(0.002)

        try:
            await cancel_when(task, ready())
        finally:
            release.set()  # the resolver thread must end before the loop's executor shuts down
        assert smtp._stream is None
        assert await smtp.noop() is False
        with pytest.raises(netsmtp.UsageError):
            await smtp.connect()

    run_loop(loop_kind, main())


def test_cancel_while_tcp_connect_hangs(loop_kind: str) -> None:
    """A listener whose accept queue is full drops SYNs: connect() hangs until cancelled."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        stack.enter_context(socket.create_connection(address, timeout=2))  # fills the queue

        async def main() -> None:
            smtp = AsyncSMTP(f"127.0.0.1:{address[1]}", hello=HELLO, timeout=5)
            task = asyncio.create_task(smtp.connect())
            await cancel_when(task, asyncio.sleep(0.2))
            assert smtp._stream is None
            assert await smtp.noop() is False

        started = time.monotonic()
        run_loop(loop_kind, main())
        assert time.monotonic() - started < 2  # cancelled, not timed out

"""AsyncSMTP used natively (API.md §2), on the default event loop and on uvloop.

The behaviour shared with SMTP is covered by the parametrised suite (``connect`` runs every
scenario against both clients); this file checks what only the asyncio client has: ``async
with``, ``await connect()``, coroutine methods next to plain accessors, the async data file,
one operation at a time, and its finalizer on its own loop.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import signal
from typing import Any

import pytest

import netsmtp
from netsmtp import SMTP, AsyncDataFile, AsyncLMTP, AsyncSMTP, ExtensionWarning, UsageError
from tests.client.support import EHLO, HELLO, greet, serve_quit
from tests.helpers.clients import LOOP_KINDS, run_loop
from tests.helpers.scripted import Peer, ScriptedServer

# Every I/O method of API.md §1 (and send_message, connect) is a coroutine function.
IO_METHODS = [
    "connect",
    "hello",
    "etrn",
    "starttls",
    "auth",
    "mail",
    "send",
    "send_or_mail",
    "send_and_mail",
    "reset",
    "recipient",
    "to",
    "cc",
    "bcc",
    "data",
    "datasend",
    "dataend",
    "datafile",
    "rawdatasend",
    "bdat",
    "bdatlast",
    "expand",
    "verify",
    "help",
    "quit",
    "command",
    "response",
    "send_message",
]
# Accessors that need no I/O stay plain (API.md §2); close() and debug() do no I/O either.
PLAIN_METHODS = ["banner", "domain", "host", "code", "message", "status", "ok", "supports", "close", "debug"]
PROPERTIES = ["last_reply", "extensions", "tls_active", "tls_version", "cipher"]


# ---- the shape of the API (no connection needed) ----------------------------------------------
@pytest.mark.parametrize("cls", [AsyncSMTP, AsyncLMTP])
@pytest.mark.parametrize("name", IO_METHODS)
def test_io_methods_are_coroutine_functions(cls: type[Any], name: str) -> None:
    assert inspect.iscoroutinefunction(getattr(cls, name)), name


@pytest.mark.parametrize("name", PLAIN_METHODS)
def test_accessors_are_plain_methods(name: str) -> None:
    method = getattr(AsyncSMTP, name)
    assert callable(method)
    assert not inspect.iscoroutinefunction(method)


@pytest.mark.parametrize("name", PROPERTIES)
def test_accessor_properties(name: str) -> None:
    assert isinstance(inspect.getattr_static(AsyncSMTP, name), property)


@pytest.mark.parametrize("name", [*IO_METHODS, *PLAIN_METHODS, "can_ssl", "can_inet6"])
def test_same_methods_and_parameters_as_smtp(name: str) -> None:
    """The blocking twin has the same names and parameters (it is generated from AsyncSMTP)."""
    sync, async_ = getattr(SMTP, name), getattr(AsyncSMTP, name)
    assert not inspect.iscoroutinefunction(sync)
    sync_params = inspect.signature(sync).parameters
    async_params = inspect.signature(async_).parameters
    assert [(p.name, p.kind, p.default) for p in sync_params.values()] == [
        (p.name, p.kind, p.default) for p in async_params.values()
    ]


def test_async_context_manager_protocol() -> None:
    assert inspect.iscoroutinefunction(AsyncSMTP.__aenter__)
    assert inspect.iscoroutinefunction(AsyncSMTP.__aexit__)
    assert inspect.iscoroutinefunction(AsyncDataFile.__aexit__)
    for name in ("write", "writelines", "close"):
        assert inspect.iscoroutinefunction(getattr(AsyncDataFile, name)), name
    assert not inspect.iscoroutinefunction(AsyncDataFile.abandon)


def test_constructor_does_no_io() -> None:
    """AsyncSMTP(...) only parses options: no socket, no loop needed (it connects on enter)."""
    smtp = AsyncSMTP("127.0.0.1:1", hello=HELLO, timeout=1)
    assert smtp.code() == 421
    assert smtp.banner() is None
    smtp.close()


# ---- on a loop ---------------------------------------------------------------------------------
on_both_loops = pytest.mark.parametrize("loop_kind", LOOP_KINDS)


def session_with(*commands: tuple[str, str], caps: tuple[str, ...] = ("SIZE 100",)) -> Any:
    def script(p: Peer) -> None:
        greet(p, *caps)
        for line, answer in commands:
            p.expect(line)
            p.reply(answer)
        serve_quit(p)

    return script


@on_both_loops
def test_async_with_connects_on_enter_and_quits_on_exit(
    scripted: type[ScriptedServer], loop_kind: str
) -> None:
    server = scripted(session_with(("NOOP", "250 ok")))
    events: list[str] = []

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=2)
        events.append(f"before enter: {server.received!r}")
        async with smtp as entered:
            assert entered is smtp
            assert smtp.banner() == "test.example ESMTP ready"
            assert smtp.domain() == "test.example"
            assert smtp.supports("SIZE") == "100"
            assert smtp.code() == 250
            assert await smtp.noop() is True
        assert smtp.code() == 221
        assert await smtp.noop() is False  # closed by the exit

    run_loop(loop_kind, main())
    server.join()
    assert events == ["before enter: b''"]
    assert server.received == EHLO + b"NOOP\r\nQUIT\r\n"


@on_both_loops
def test_async_with_the_constructor_inline(scripted: type[ScriptedServer], loop_kind: str) -> None:
    server = scripted(session_with(("MAIL FROM:<me@example.org>", "250 ok")))

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=2) as smtp:
            assert await smtp.mail("me@example.org") is True

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<me@example.org>\r\nQUIT\r\n"


@on_both_loops
def test_async_with_an_exception_quits_and_propagates(scripted: type[ScriptedServer], loop_kind: str) -> None:
    server = scripted(session_with())
    error = LookupError("the caller's own")

    async def main() -> None:
        with pytest.raises(LookupError) as info:
            async with AsyncSMTP(server.host, hello=HELLO, timeout=2):
                raise error
        assert info.value is error

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


@on_both_loops
def test_connect_then_quit(scripted: type[ScriptedServer], loop_kind: str) -> None:
    server = scripted(session_with(("HELP", "214 see RFC 5321")))

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=2)
        assert await smtp.connect() is smtp
        assert smtp.host() == server.host
        assert await smtp.help() == "see RFC 5321"
        assert await smtp.quit() is True
        assert smtp.code() == 221
        assert smtp.status() == netsmtp.CMD_OK
        assert smtp.ok() is True
        assert await smtp.quit() is False  # already closed

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"HELP\r\nQUIT\r\n"


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@on_both_loops
def test_connect_twice_is_a_usage_error_without_a_second_socket(
    scripted: type[ScriptedServer], loop_kind: str
) -> None:
    """SECURITY RS-09 (aiosmtplib 5.1.2 opened a second socket)."""
    server = scripted(session_with())

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=2)
        await smtp.connect()
        before = _open_fds()
        with pytest.raises(UsageError, match="already connected"):
            await smtp.connect()
        assert _open_fds() == before  # no socket was made for it
        async with smtp:  # entering a connected client does not connect again
            assert _open_fds() == before
        with pytest.raises(UsageError):
            await smtp.connect()  # nor after quit(): one connection per object

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


@on_both_loops
def test_connect_after_a_failed_connect_is_a_usage_error(loop_kind: str) -> None:
    from tests.client.support import refused_port

    async def main() -> None:
        smtp = AsyncSMTP(f"127.0.0.1:{refused_port()}", hello=HELLO, timeout=1)
        with pytest.raises(netsmtp.ConnectError):
            await smtp.connect()
        with pytest.raises(UsageError):
            await smtp.connect()
        assert await smtp.noop() is False

    run_loop(loop_kind, main())


@on_both_loops
def test_accessors_return_values_not_awaitables(scripted: type[ScriptedServer], loop_kind: str) -> None:
    server = scripted(session_with(("NOOP", "250 2.0.0 fine"), caps=("SIZE 100", "8BITMIME")))

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=2) as smtp:
            assert await smtp.noop() is True
            values = {
                "banner": smtp.banner(),
                "domain": smtp.domain(),
                "host": smtp.host(),
                "code": smtp.code(),
                "message": smtp.message(),
                "status": smtp.status(),
                "ok": smtp.ok(),
                "supports": smtp.supports("8BITMIME"),
                "last_reply": smtp.last_reply,
                "extensions": dict(smtp.extensions),
                "tls_active": smtp.tls_active,
            }
            assert not any(inspect.isawaitable(v) for v in values.values())
            reply = values.pop("last_reply")
            assert reply is not None and reply.code == 250 and reply.enhanced_status == "2.0.0"
            assert values == {
                "banner": "test.example ESMTP ready",
                "domain": "test.example",
                "host": server.host,
                "code": 250,
                "message": "2.0.0 fine",
                "status": netsmtp.CMD_OK,
                "ok": True,
                "supports": "",
                "extensions": {"SIZE": "100", "8BITMIME": ""},
                "tls_active": False,
            }

    run_loop(loop_kind, main())
    server.join()


@on_both_loops
def test_async_datafile(scripted: type[ScriptedServer], loop_kind: str) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go ahead")
        assert p.read_data() == b"Subject: x\r\n\r\n..dot\r\nline\r\nend\r\n.\r\n"
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=2) as smtp:
            fh = await smtp.datafile()
            assert isinstance(fh, AsyncDataFile)
            async with fh as f:
                assert f is fh
                assert f.writable()
                assert await f.write(b"Subject: x\n\n") == 12
                assert await f.write(memoryview(b".dot\n")) == 5
                await f.writelines([b"line\n", bytearray(b"end")])
            assert fh.closed
            assert fh.accepted is True
            assert smtp.message() == "2.0.0 queued"
            with pytest.raises(ValueError):
                await fh.write(b"late")

    run_loop(loop_kind, main())
    server.join()


@on_both_loops
def test_async_datafile_refused_is_none(scripted: type[ScriptedServer], loop_kind: str) -> None:
    server = scripted(session_with(("DATA", "554 5.5.1 no valid recipients")))

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=2) as smtp:
            assert await smtp.datafile() is None
            assert smtp.code() == 554

    run_loop(loop_kind, main())
    server.join()


@on_both_loops
def test_async_datafile_exception_abandons(scripted: type[ScriptedServer], loop_kind: str) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go ahead")
        assert p.read_to_eof() == b"partial\r\n"

    server = scripted(script)

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=2)
        await smtp.connect()
        fh = await smtp.datafile()
        assert fh is not None
        with pytest.raises(KeyError):
            async with fh:
                await fh.write(b"partial\n")
                raise KeyError("body generation failed")
        assert fh.accepted is False
        assert await smtp.quit() is False  # the connection went with the message

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"DATA\r\npartial\r\n"


@on_both_loops
def test_one_operation_at_a_time(scripted: type[ScriptedServer], loop_kind: str) -> None:
    """A second call while one is waiting for its reply is a UsageError and writes nothing;
    interleaved, the two would read each other's replies."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.sleep(0.1)
        p.reply("250 2.0.0 noop ok")
        p.expect("VRFY x")
        p.reply("252 2.1.5 cannot verify")
        serve_quit(p)

    server = scripted(script)

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=2) as smtp:
            first, second = await asyncio.gather(smtp.noop(), smtp.verify("x"), return_exceptions=True)
            assert first is True
            assert isinstance(second, UsageError)
            assert smtp.message() == "2.0.0 noop ok"
            assert await smtp.verify("x") is True  # the session is intact
            assert smtp.code() == 252

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO + b"NOOP\r\nVRFY x\r\nQUIT\r\n"


@on_both_loops
def test_extension_warning_points_at_the_awaiting_line(
    scripted: type[ScriptedServer], loop_kind: str
) -> None:
    server = scripted(session_with(("MAIL FROM:<a@b.example>", "250 ok"), caps=()))

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=2) as smtp:
            with pytest.warns(ExtensionWarning, match="SIZE") as record:
                assert await smtp.mail("a@b.example", size=10) is True
            assert len(record) == 1
            assert record[0].filename == __file__

    run_loop(loop_kind, main())
    server.join()


@on_both_loops
def test_timeout_is_smtp_timeout_not_cancelled_error(scripted: type[ScriptedServer], loop_kind: str) -> None:
    """The client's own timeout is a failure (false, 421), not a CancelledError."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        assert p.read_to_eof(wait=3) == b""

    server = scripted(script)

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=0.3, raise_errors=True)
        await smtp.connect()
        with pytest.raises(netsmtp.SMTPTimeout):
            await smtp.noop()
        assert asyncio.current_task() is not None
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]
        smtp.close()

    run_loop(loop_kind, main())
    server.join()


@on_both_loops
def test_garbage_collected_client_warns(scripted: type[ScriptedServer], loop_kind: str) -> None:
    """SECURITY RS-07 on the loop's own thread: a ResourceWarning, the socket closed, no QUIT."""

    def script(p: Peer) -> None:
        greet(p)
        assert p.read_to_eof() == b""

    server = scripted(script)

    async def main() -> None:
        smtp = AsyncSMTP(server.host, hello=HELLO, timeout=2)
        await smtp.connect()
        with pytest.warns(ResourceWarning, match="unclosed AsyncSMTP connection"):
            del smtp
            gc.collect()
        await asyncio.sleep(0)  # let the aborted transport finish closing

    run_loop(loop_kind, main())
    server.join()
    assert server.received == EHLO


@on_both_loops
def test_signal_during_wait_is_not_a_timeout(scripted: type[ScriptedServer], loop_kind: str) -> None:
    """The loop in the main thread, where signals land (the parametrised suite's twin of this
    test runs AsyncSMTP on a loop thread, which a signal never interrupts)."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.sleep(0.4)
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    hits: list[int] = []

    async def main() -> None:
        async with AsyncSMTP(server.host, hello=HELLO, timeout=1) as smtp:
            assert await smtp.noop() is True

    # pytest-timeout may own SIGALRM and the real-time timer: borrow both, then give them back.
    previous = signal.signal(signal.SIGALRM, lambda *_: hits.append(1))
    previous_timer = signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
    try:
        run_loop(loop_kind, main())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if previous_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)
    assert hits
    server.join()
    assert server.received == EHLO + b"NOOP\r\nQUIT\r\n"

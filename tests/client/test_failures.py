"""Timeouts, lost connections, broken servers, QUIT and the object's lifetime."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from netsmtp import (
    CMD_ERROR,
    SMTP,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    GreetingError,
    ProtocolError,
    SMTPTimeout,
)
from tests.client.support import EHLO, HELLO, Connect, greet, refused_port, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer


def after_mail(action: Callable[[Peer], None], *caps: str) -> Callable[[Peer], None]:
    """Greet, read MAIL, then misbehave with ``action``; finally expect the client to close."""

    def script(p: Peer) -> None:
        greet(p, *caps)
        p.expect("MAIL FROM:<a@example.org>")
        with contextlib.suppress(OSError):
            action(p)
        with contextlib.suppress(OSError):
            p.read_to_eof(wait=3)

    return script


# ---- timeouts ---------------------------------------------------------------------------------
def test_stall_on_mail_times_out_and_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    def late(p: Peer) -> None:
        p.sleep(0.8)
        p.reply("250 2.1.0 late but fine")  # MS-20: must never answer a later command

    server = scripted(after_mail(late, "ETRN"))
    smtp = connect(server, timeout=0.3)
    started = time.monotonic()
    assert smtp.mail("a@example.org") is False
    assert 0.25 < time.monotonic() - started < 0.8
    assert smtp.code() == 421
    assert "Timeout" in smtp.message()
    time.sleep(0.7)  # the late reply is now on its way
    assert smtp.to("b@example.org") is False
    assert smtp.noop() is False
    assert smtp.code() == 421
    assert "Timeout" not in smtp.message()
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"


def test_timeout_raises_smtp_timeout(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.sleep(1)))
    smtp = connect(server, timeout=0.3, raise_errors=True)
    with pytest.raises(SMTPTimeout) as info:
        smtp.mail("a@example.org")
    assert isinstance(info.value, TimeoutError)
    assert smtp.code() == 421
    with pytest.raises(ConnectionLost):
        smtp.noop()
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"


def test_server_that_stops_reading_the_message_times_out(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    """After its 354 the server reads nothing more: writing the message (far more than the
    socket buffers hold) gives up at the timeout, and the connection is closed."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<a@example.org>")
        p.reply("250 2.1.0 ok")
        p.expect("RCPT TO:<b@example.org>")
        p.reply("250 2.1.5 ok")
        p.expect("DATA")
        p.reply("354 go ahead")
        p.sleep(1.5)  # reads nothing while the client writes

    server = scripted(script)
    smtp = connect(server, timeout=0.4)
    assert smtp.mail("a@example.org") and smtp.to("b@example.org")
    started = time.monotonic()
    assert smtp.data(b"Subject: big\r\n\r\n" + (b"y" * 76 + b"\r\n") * 800_000) is False
    assert 0.3 < time.monotonic() - started < 2.5
    assert smtp.code() == 421
    assert "Timeout" in smtp.message()
    assert smtp.noop() is False  # closed: nothing more is written
    assert "Timeout" not in smtp.message()
    server.join()


def test_trickling_reply_hits_one_deadline(scripted: type[ScriptedServer], connect: Connect) -> None:
    """One byte every 0.2 s never lets a per-recv timeout of 1 s expire; the reply's deadline does (MS-08)."""

    def trickle(p: Peer) -> None:
        for byte in b"250 2.1.0 this reply takes a long time to arrive\r\n":
            p.send(bytes([byte]))
            p.sleep(0.2)

    server = scripted(after_mail(trickle))
    smtp = connect(server, timeout=1)
    started = time.monotonic()
    assert smtp.mail("a@example.org") is False
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 1.6
    assert smtp.code() == 421
    assert "Timeout" in smtp.message()
    server.join()


def test_timeout_none_waits(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.sleep(0.3)
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, timeout=None)
    assert smtp.noop() is True
    assert smtp.quit() is True
    server.join()


def test_signal_during_wait_is_not_a_timeout(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.sleep(0.4)
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, timeout=1)
    hits: list[int] = []
    # For AsyncSMTP the signal lands on this thread, not the loop's: the loop in the main
    # thread is tested in test_async_api.py (test_signal_during_wait_is_not_a_timeout).
    # pytest-timeout may own SIGALRM and the real-time timer: borrow both, then give them back.
    previous = signal.signal(signal.SIGALRM, lambda *_: hits.append(1))
    previous_timer = signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
    try:
        assert smtp.noop() is True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if previous_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)
    assert hits
    assert smtp.quit() is True
    server.join()


# ---- the server goes away --------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["close", "reset", "half_close"])
def test_server_closes_mid_session(scripted: type[ScriptedServer], connect: Connect, how: str) -> None:
    server = scripted(after_mail(lambda p: getattr(p, how)()))
    smtp = connect(server)
    assert smtp.mail("a@example.org") is False
    assert smtp.code() == 421
    assert "Connection closed" in smtp.message()
    assert smtp.to("b@example.org") is False
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"


def test_server_closes_raises_connection_lost(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.close()))
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ConnectionLost) as info:
        smtp.mail("a@example.org")
    assert isinstance(info.value, ConnectionError)
    server.join()


def test_partial_reply_then_eof(scripted: type[ScriptedServer], connect: Connect) -> None:
    def partial(p: Peer) -> None:
        p.send(b"250-first\r\n250 sec")
        p.close()

    server = scripted(after_mail(partial))
    smtp = connect(server)
    assert smtp.mail("a@example.org") is False  # never parsed as a complete success (MS-03)
    assert smtp.code() == 421
    server.join()


def test_421_closes_the_connection(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.reply("421 4.3.2 shutting down")))
    smtp = connect(server)
    assert smtp.mail("a@example.org") is False
    assert smtp.code() == 421
    assert smtp.message() == "4.3.2 shutting down"
    assert smtp.noop() is False
    assert smtp.quit() is False
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"


# ---- broken replies ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        b"hello\r\n",
        b"abc ok\r\n",
        b"25 ok\r\n",
        b"2500 ok\r\n",
        b"099 ok\r\n",
        b"600 ok\r\n",
        b"250x ok\r\n",
        b"\r\n",
    ],
)
def test_malformed_reply_closes(scripted: type[ScriptedServer], connect: Connect, bad: bytes) -> None:
    server = scripted(after_mail(lambda p: p.send(bad + b"250 ok\r\n")))
    smtp = connect(server)
    assert smtp.mail("a@example.org") is False
    assert smtp.code() == 421
    assert "Protocol error" in smtp.message()
    assert smtp.noop() is False  # the stream is never re-read
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"


@pytest.mark.parametrize("reply", [b"250\r\n", b"250 \r\n", b"250\n"])
def test_minimal_replies_are_fine(scripted: type[ScriptedServer], connect: Connect, reply: bytes) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<a@example.org>")
        p.send(reply)
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.mail("a@example.org") is True
    assert smtp.code() == 250
    assert smtp.message() == ""
    assert smtp.quit() is True
    server.join()


def test_malformed_reply_raises_protocol_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.send(b"hello\r\n")))
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError):
        smtp.mail("a@example.org")
    server.join()


def test_multiline_reply_with_disagreeing_codes(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.send(b"250-a\r\n550 b\r\n")))
    smtp = connect(server)
    assert smtp.mail("a@example.org") is False  # never success, never 550 (MS-06)
    assert smtp.code() == 421
    assert "Protocol error" in smtp.message()
    server.join()


def test_overlong_reply_line(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.send(b"250 " + b"A" * 200_000)))
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError, match="longer"):
        smtp.mail("a@example.org")
    assert smtp.code() == 421
    server.join()


def test_overlong_reply_line_with_newline(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.send(b"250 " + b"A" * 9000 + b"\r\n")))
    smtp = connect(server)
    assert smtp.mail("a@example.org") is False
    assert "Protocol error" in smtp.message()
    server.join()


def test_endless_multiline_reply(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(after_mail(lambda p: p.send(b"250-x\r\n" * 5000)))
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError):
        smtp.mail("a@example.org")
    server.join()


def test_reply_text_not_utf8(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.send(b"250 caf\xe9 \xff\r\n")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.noop() is True
    assert smtp.message() == "caf\xe9 \xff"
    assert smtp.quit() is True
    server.join()


def test_unsolicited_reply_after_greeting(scripted: type[ScriptedServer], connect: Connect) -> None:
    """A reply nobody asked for is never taken as the answer to the next command (MS-15)."""

    def script(p: Peer) -> None:
        p.send(b"220 test.example\r\n250 OK\r\n")
        with contextlib.suppress(OSError):
            p.read_to_eof()

    server = scripted(script)
    with pytest.raises((ProtocolError, ConnectError)):
        connect(server)
    server.join()
    assert server.received in (b"", EHLO)


def test_unsolicited_reply_after_a_command(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.send(b"250 ok\r\n250 2.1.0 Sender ok\r\n")
        with contextlib.suppress(OSError):
            p.read_to_eof()

    server = scripted(script)
    smtp = connect(server)
    assert smtp.noop() is True
    assert smtp.mail("a@example.org") is False
    assert smtp.code() == 421
    assert "Protocol error" in smtp.message()
    server.join()
    assert server.received == EHLO + b"NOOP\r\n"


# ---- after a transport failure nothing is written ----------------------------------------------------
FAILURES: dict[str, Callable[[Peer], None]] = {
    "timeout": lambda p: p.sleep(0.6),
    "close": lambda p: p.close(),
    "malformed": lambda p: p.send(b"garbage\r\n"),
    "421": lambda p: p.reply("421 bye"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_later_calls_fail_without_writing(
    scripted: type[ScriptedServer], connect: Connect, failure: str
) -> None:
    server = scripted(after_mail(FAILURES[failure], "ETRN", "STARTTLS", "CHUNKING"))
    smtp = connect(server, timeout=0.3)
    assert smtp.mail("a@example.org") is False
    calls: list[tuple[Callable[[], Any], Any]] = [
        (lambda: smtp.mail("a@example.org"), False),
        (lambda: smtp.send("a@example.org"), False),
        (lambda: smtp.to("b@example.org"), False),
        (lambda: smtp.to("b@example.org", skip_bad=True), []),
        (lambda: smtp.data(b"body"), False),
        (smtp.data, False),
        (smtp.datafile, None),
        (lambda: smtp.datasend(b"x"), False),
        (smtp.dataend, False),
        (lambda: smtp.rawdatasend(b"x"), False),
        (lambda: smtp.bdat(b"x"), False),
        (lambda: smtp.bdatlast(b"x"), False),
        (smtp.reset, False),
        (smtp.noop, False),
        (lambda: smtp.verify("x"), False),
        (lambda: smtp.expand("x"), []),
        (smtp.help, None),
        (lambda: smtp.hello("again.test"), None),
        (lambda: smtp.etrn("example.org"), False),
        (smtp.starttls, False),
        (lambda: smtp.command("NOOP").response(), CMD_ERROR),
        (smtp.response, CMD_ERROR),
        (smtp.quit, False),
    ]
    for call, failed in calls:
        assert call() == failed
        assert smtp.code() == 421
    assert smtp.tls_active is False
    smtp.close()
    server.join()
    assert server.received == EHLO + b"MAIL FROM:<a@example.org>\r\n"


# ---- QUIT ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "result"), [("221 2.0.0 bye", True), ("250 ok", True), ("554 no", False), ("421 eh", False)]
)
def test_quit_returns_the_truth_and_closes(
    scripted: type[ScriptedServer], connect: Connect, answer: str, result: bool
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("QUIT")
        p.reply(answer)
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server)
    assert smtp.quit() is result
    assert smtp.code() == int(answer[:3])
    assert smtp.quit() is False  # already closed
    assert smtp.noop() is False
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


def test_quit_when_server_is_gone(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.close()

    server = scripted(script)
    smtp = connect(server)
    server.join()
    assert smtp.quit() is False
    assert smtp.code() == 421


def test_quit_when_server_never_answers(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("QUIT")
        assert p.read_to_eof(wait=3) == b""

    server = scripted(script)
    smtp = connect(server, timeout=0.3)
    started = time.monotonic()
    assert smtp.quit() is False
    assert time.monotonic() - started < 1.0
    server.join()


def test_quit_raise_errors_still_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("QUIT")
        p.reply("554 no")
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    assert smtp.quit() is False  # a refused QUIT is reported, not raised: the session is over anyway
    server.join()


# ---- the context manager and close() ------------------------------------------------------------------
def test_context_manager_sends_quit_and_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    with connect(server) as smtp:
        assert smtp.noop() is True
    assert smtp.noop() is False
    server.join()
    assert server.received == EHLO + b"NOOP\r\nQUIT\r\n"


def test_context_manager_after_explicit_quit(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(lambda p: (greet(p), serve_quit(p)))
    with connect(server) as smtp:
        assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


def test_context_manager_when_server_is_gone(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.reset()

    server = scripted(script)
    with connect(server) as smtp:
        server.join()
        time.sleep(0.05)
    assert smtp.noop() is False


def test_context_manager_with_raise_errors_and_server_gone(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.close()

    server = scripted(script)
    with connect(server, raise_errors=True):
        server.join()
        time.sleep(0.05)


@pytest.mark.parametrize("raise_errors", [False, True])
def test_exception_in_body_propagates_unchanged(
    scripted: type[ScriptedServer], connect: Connect, raise_errors: bool
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.close()

    server = scripted(script)
    error = KeyError("the caller's own error")
    with pytest.raises(KeyError) as info, connect(server, raise_errors=raise_errors):
        server.join()
        time.sleep(0.05)
        raise error
    assert info.value is error


def test_exception_in_body_with_a_live_server_quits(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(lambda p: (greet(p), serve_quit(p)))
    with pytest.raises(ZeroDivisionError), connect(server):
        _ = 1 / 0
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


def test_close_is_idempotent(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server)
    smtp.close()
    smtp.close()
    assert smtp.noop() is False
    assert smtp.quit() is False
    smtp.close()
    server.join()
    assert server.received == EHLO


def test_garbage_collected_client_warns_and_sends_nothing(scripted: type[ScriptedServer]) -> None:
    # Sync-only: a finalizer runs on whichever thread collects it, and the proxy's AsyncSMTP
    # lives on the loop's thread. AsyncSMTP's finalizer is tested on its own loop in
    # test_async_api.py (test_garbage_collected_client_warns).
    def script(p: Peer) -> None:
        greet(p)
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = SMTP(server.host, hello=HELLO, timeout=2)
    with pytest.warns(ResourceWarning, match="unclosed SMTP"):
        del smtp
        gc.collect()
    server.join()
    assert server.received == EHLO


# ---- no descriptor leaks on the constructor's failure paths (RS-01..RS-04) ------------------------------
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_constructor_failures_leak_no_descriptor(scripted: type[ScriptedServer], make: Connect) -> None:
    def bad_greeting(p: Peer) -> None:
        p.send("554 go away\r\n")
        p.read_to_eof()

    def ehlo_helo_refused(p: Peer) -> None:
        p.send("220 hi\r\n")
        p.expect(EHLO)
        p.reply("550 no")
        p.expect(f"HELO {HELLO}")
        p.reply("550 no")
        p.read_to_eof()

    def stall(p: Peer) -> None:
        p.read_to_eof(wait=3)

    def tls_refused(p: Peer) -> None:
        with contextlib.suppress(OSError):  # ssl.SSLError too
            p.starttls()
            p.read_to_eof()

    gc.collect()
    before = _open_fds()
    servers = [scripted(s) for s in (bad_greeting, ehlo_helo_refused, stall, tls_refused)]
    with pytest.raises(ConnectError):
        make(f"127.0.0.1:{refused_port()}", hello=HELLO, timeout=1)
    with pytest.raises(GreetingError):
        make(servers[0].host, hello=HELLO, timeout=1)
    with pytest.raises(GreetingError):
        make(servers[1].host, hello=HELLO, timeout=1)
    with pytest.raises(SMTPTimeout):
        make(servers[2].host, hello=HELLO, timeout=0.3)
    with pytest.raises(ConnectError):  # the default context does not trust the test CA
        make(servers[3].host, hello=HELLO, timeout=1, ssl=True)
    for server in servers:
        server.join()
    gc.collect()
    assert _open_fds() == before


def test_connect_timeout_when_the_handshake_never_completes(make: Connect) -> None:
    # A TCP connect that never completes is bounded by the timeout too (SPEC A5). On loopback:
    # a listener with a backlog of 0 whose one queue slot is taken drops further SYNs, so the
    # next connect hangs until the client gives up (no traffic leaves this machine).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(ConnectTimeout):
            make(f"127.0.0.1:{port}", hello=HELLO, timeout=0.3)
        assert time.monotonic() - started < 2.0
    finally:
        filler.close()
        listener.close()


def test_raw_421_closes_the_connection(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("XSHUTDOWN")
        p.reply("421 4.3.2 going down")
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server)
    assert smtp.command("XSHUTDOWN").response() == 4
    assert smtp.code() == 421
    server.join()  # the client closed its end at once, without waiting for another call
    assert smtp.noop() is False
    assert server.received == EHLO + b"XSHUTDOWN\r\n"


def test_raw_quit_closes_the_connection(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("QUIT")
        p.reply("221 bye")
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server)
    assert smtp.command("QUIT").response() == 2
    server.join()
    assert smtp.quit() is False


def test_write_timeout_when_server_stops_reading(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.sleep(2.5)  # read nothing while the client tries to write
        with contextlib.suppress(OSError):
            p.read_to_eof(wait=3)

    server = scripted(script)
    smtp = connect(server, timeout=0.5)
    started = time.monotonic()
    assert smtp.data(b"x" * 998 + b"\r\n" for _ in range(64 * 1024)) is False  # 64 MiB
    assert time.monotonic() - started < 2.0
    assert smtp.code() == 421
    assert "Timeout" in smtp.message()
    server.join()


def test_quit_with_raise_errors_when_server_is_gone(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.close()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    server.join()
    with pytest.raises(ConnectionLost):
        smtp.quit()
    assert smtp.noop is not None
    with pytest.raises(ConnectionLost):  # closed all the same
        smtp.noop()


def test_timeout_in_constructor_ehlo(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        p.expect(EHLO)
        assert p.read_to_eof(wait=3) == b""

    server = scripted(script)
    started = time.monotonic()
    with pytest.raises(SMTPTimeout):
        make(server.host, hello=HELLO, timeout=0.3)
    assert time.monotonic() - started < 1.0
    server.join()


def test_zero_timeout_means_no_limit(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.sleep(0.2)
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, timeout=0)
    assert smtp.noop() is True
    assert smtp.quit() is True
    server.join()


@pytest.mark.parametrize("timeout", [-1, "10", True])
def test_bad_timeout(timeout: object, make: Connect) -> None:
    with pytest.raises(ValueError):
        make(f"127.0.0.1:{refused_port()}", timeout=timeout)


# ---- 421 at every stage (MS-12) ------------------------------------------------------------------
STAGES: dict[str, tuple[list[tuple[str, str]], Callable[[Any], Any], Any]] = {
    "STARTTLS": ([("STARTTLS", "421")], lambda s: s.starttls(), False),
    "MAIL": ([("MAIL FROM:<a@example.org>", "421")], lambda s: s.mail("a@example.org"), False),
    "RCPT": ([("RCPT TO:<b@example.org>", "421")], lambda s: s.to("b@example.org", "c@example.org"), False),
    "RCPT skip_bad": (
        [("RCPT TO:<b@example.org>", "250 ok"), ("RCPT TO:<c@example.org>", "421")],
        lambda s: s.to("b@example.org", "c@example.org", "d@example.org", skip_bad=True),
        [],
    ),
    "DATA": ([("DATA", "421")], lambda s: s.data(b"body\n"), False),
    "final dot": ([("DATA", "354 go"), ("body", "421")], lambda s: s.data(b"body\n"), False),
    "NOOP": ([("NOOP", "421")], lambda s: s.noop(), False),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_421_at_every_stage(scripted: type[ScriptedServer], connect: Connect, stage: str) -> None:
    steps, call, failed = STAGES[stage]

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        for line, answer in steps:
            p.expect(line)
            if line == "body":
                p.expect(".")
            p.reply("421 4.3.2 shutting down" if answer == "421" else answer)
        assert p.read_to_eof() == b""  # nothing more: no QUIT, no further RCPT

    server = scripted(script)
    smtp = connect(server)
    assert call(smtp) == failed
    assert smtp.code() == 421
    assert smtp.quit() is False
    server.join()


def test_221_to_starttls_closes_without_quit(scripted: type[ScriptedServer], connect: Connect) -> None:
    """SD-03/SD-04: a 221 to STARTTLS is not "go ahead"; the client closes and sends no QUIT."""

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("221 2.0.0 closing")
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server)
    assert smtp.starttls() is False
    assert smtp.code() == 421
    assert smtp.quit() is False
    server.join()


def test_221_to_noop_closes_without_quit(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.reply("221 2.0.0 closing")
        assert p.read_to_eof() == b""  # no QUIT after the server said it is closing

    server = scripted(script)
    smtp = connect(server, timeout=0.5)
    smtp.noop()
    smtp.quit()
    server.join()

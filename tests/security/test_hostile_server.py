"""SECURITY.md §5: malicious or broken servers (MS-01 .. MS-20).

Parsing caps, line ends, reply-code grammar, slowloris, stalls and drops around the final
dot, 421 at every stage, pipelining mismatches, early replies, AUTH loops, QUIT trouble,
absurd capabilities. Every test runs against ``SMTP`` and ``AsyncSMTP``; the ones that wait
out timeouts (``@TIMED``) run for the blocking client and the default asyncio loop only.
A transport failure must always leave the connection closed: the scripts check that from
the server's side (the client closes, having sent nothing more than an optional QUIT).
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from typing import Any

import pytest

from netsmtp import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    DeliveryUnknown,
    GreetingError,
    NotSupportedError,
    ProtocolError,
    ReplyError,
    SendError,
    SMTPTimeout,
)
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines
from tests.security._hostile_support import (
    EHLO,
    MAIL,
    QUIT,
    RCPT,
    RECIPIENT,
    SENDER,
    TIMED,
    Signal,
    after_ehlo,
    drain,
    greet,
    quit_or_nothing,
    serve_quit,
)

Scripted = type[ScriptedServer]
BODY = b"Subject: x\r\n\r\nhello\r\n"
BANNER = b"220 test.example ESMTP ready\r\n"


def flood(p: Peer, block: bytes, limit: int = 16 * 1024 * 1024) -> int:
    """Send ``block`` repeatedly (up to ``limit`` octets) until the client hangs up."""
    sent = 0
    with contextlib.suppress(OSError):
        while sent < limit:
            p.sock.sendall(block)
            sent += len(block)
    return sent


def ends_closed(p: Peer) -> None:
    """The client closes, having sent nothing more (an error on our side counts as closed)."""
    assert drain(p) == b"", "the client wrote after the failure"


# ---- MS-01: an over-long line with no CRLF -----------------------------------------------------------------
@pytest.mark.parametrize("stage", ["ehlo", "noop"])
def test_MS_01_overlong_line_without_crlf(scripted: Scripted, sec_connect: Any, stage: str) -> None:
    flooded: list[int] = []

    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        if stage == "noop":
            p.reply("250 test.example")
            p.expect("NOOP")
        flooded.append(flood(p, b"A" * 65536))
        ends_closed(p)

    server = scripted(script)
    tracemalloc.start()
    try:
        if stage == "ehlo":
            with pytest.raises(ConnectError) as info:
                sec_connect(server)
            error: BaseException | None = info.value.__cause__
        else:
            smtp = sec_connect(server, raise_errors=True)
            with pytest.raises(ProtocolError) as info2:
                smtp.noop()
            error = info2.value
            assert smtp.code() == 421
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, ProtocolError) and "longer than 8192" in str(error)
    server.join()
    assert flooded[0] < 16 * 1024 * 1024  # the client hung up long before the 16 MiB
    # Bounded by the read buffers (64 KiB reads; asyncio's 256 KiB), never by the stream.
    assert peak < 1024 * 1024, f"peak traced memory {peak // 1024} KiB"


# ---- MS-02: an endless multi-line reply --------------------------------------------------------------------
@pytest.mark.parametrize("at_connect", [True, False], ids=["constructor", "hello"])
def test_MS_02_endless_multiline_reply(scripted: Scripted, sec_connect: Any, at_connect: bool) -> None:
    flooded: list[int] = []

    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        flooded.append(flood(p, b"250-x\r\n" * 4096))
        ends_closed(p)

    server = scripted(script)
    if at_connect:
        with pytest.raises(ConnectError) as info:
            sec_connect(server)
        error = info.value.__cause__
    else:
        smtp = sec_connect(server, send_hello=False, raise_errors=True)
        with pytest.raises(ProtocolError) as info2:
            smtp.hello()
        error = info2.value
    assert isinstance(error, ProtocolError) and "1000 lines" in str(error)
    server.join()
    assert flooded[0] < 16 * 1024 * 1024


# ---- MS-03: a partial reply, then EOF ----------------------------------------------------------------------
@pytest.mark.parametrize("partial", [b"250-first\r\n250 sec", b"250-first\r\n", b"250 ok"])
def test_MS_03_partial_reply_then_eof(scripted: Scripted, sec_connect: Any, partial: bytes) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.send(partial)
        p.close()

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(ConnectionLost) as info:
        smtp.noop()  # never parsed as a complete success
    assert not isinstance(info.value, DeliveryUnknown)
    assert smtp.code() == 421
    with pytest.raises(ConnectionLost):
        smtp.noop()
    server.join()
    assert after_ehlo(server.received) == b"NOOP\r\n"


# ---- MS-04: line ends when reading -------------------------------------------------------------------------
def test_MS_04_bare_lf_ends_a_line(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        p.send(b"220 test.example ready\n")
        p.expect(EHLO)
        p.send(b"250-test.example\n250 SIZE 100\n")
        p.expect("NOOP")
        p.send(b"250 ok\n")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.supports("SIZE") == "100"
    assert smtp.noop() is True
    assert smtp.message() == "ok"
    assert smtp.quit() is True
    server.join()


@TIMED
def test_MS_04_bare_cr_is_not_a_line_end(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.send(b"250 ok\rEVIL 250 x")  # no LF: one unfinished line
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, timeout=0.4, raise_errors=True)
    with pytest.raises(SMTPTimeout):
        smtp.noop()
    server.join()


def test_MS_04_odd_characters_stay_in_one_line(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.send(b"250 ok\rEVIL 250 x\r\n")
        p.expect("NOOP")
        p.send("250 a\x0cb\x85c\u2028d\x1ce\r\n".encode())
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.noop() is True
    assert smtp.last_reply.lines == ("ok\rEVIL 250 x",)
    assert smtp.noop() is True
    assert smtp.last_reply.lines == ("a\x0cb\x85c\u2028d\x1ce",)
    assert smtp.quit() is True
    server.join()


# ---- MS-05: invalid reply codes ----------------------------------------------------------------------------
MALFORMED = [
    b"abc ok\r\n",
    b"25 ok\r\n",
    b"2500 ok\r\n",
    b"099 ok\r\n",
    b"600 ok\r\n",
    b"250x ok\r\n",
    b"\r\n",
]


@pytest.mark.parametrize("reply", MALFORMED)
def test_MS_05_invalid_reply_codes(scripted: Scripted, sec_connect: Any, reply: bytes) -> None:
    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        p.send(reply + b"250 test.example\r\n")
        ends_closed(p)  # closed, and no HELO fallback after a broken EHLO reply

    server = scripted(script)
    with pytest.raises(ConnectError) as info:
        sec_connect(server)
    assert isinstance(info.value.__cause__, ProtocolError)
    server.join()
    assert server.received == EHLO


@pytest.mark.parametrize("reply", [b"250", b"250-\r\n", b"250-test.example\r\n250"])
def test_MS_05_truncated_at_eof(scripted: Scripted, sec_connect: Any, reply: bytes) -> None:
    """A reply cut off by EOF is a lost connection (MS-03), never a success."""

    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        p.send(reply)
        p.close()

    server = scripted(script)
    with pytest.raises(ConnectError) as info:
        sec_connect(server)
    assert isinstance(info.value.__cause__, ConnectionLost)
    server.join()
    assert server.received == EHLO


@pytest.mark.parametrize("reply", [b"250\r\n", b"250 \r\n", b"250\n"])
def test_MS_05_a_code_without_text_is_valid(scripted: Scripted, sec_connect: Any, reply: bytes) -> None:
    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        p.send(reply)
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.code() == 250
    assert smtp.message() == ""
    assert smtp.quit() is True
    server.join()


# ---- MS-06: a multi-line reply whose codes disagree --------------------------------------------------------
def test_MS_06_codes_that_disagree(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect(MAIL)
        p.send(b"250-a\r\n550 b\r\n")
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(ProtocolError, match="changed its code"):
        smtp.mail(SENDER)
    assert smtp.code() == 421  # never success, never 550
    server.join()
    assert after_ehlo(server.received) == MAIL


# ---- MS-07: reply text that is not UTF-8 -------------------------------------------------------------------
def test_MS_07_reply_text_not_utf8(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        p.send(b"250-caf\xe9\r\n250 AUTH PLAIN\r\n")
        p.expect("NOOP")
        p.send(b"250 \xff\xfe ok\r\n")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.last_reply.lines == ("caf\xe9", "AUTH PLAIN")  # latin-1 fallback
    assert smtp.supports("AUTH") == "PLAIN"
    assert smtp.noop() is True
    assert smtp.message() == "\xff\xfe ok"
    assert smtp.quit() is True
    server.join()


# ---- MS-08: slowloris --------------------------------------------------------------------------------------
def trickle(p: Peer, data: bytes, every: float = 0.12) -> None:
    """One byte every ``every`` seconds (each well inside any per-read timeout) until the
    client hangs up."""
    with contextlib.suppress(OSError):
        for byte in data:
            p.sock.sendall(bytes([byte]))
            time.sleep(every)


SLOW = b"220-test.example this greeting takes ten seconds\r\n220 at one byte every 0.12 s\r\n"


@TIMED
@pytest.mark.parametrize("stage", ["greeting", "ehlo"])
def test_MS_08_slowloris_greeting_and_ehlo(scripted: Scripted, sec_connect: Any, stage: str) -> None:
    def script(p: Peer) -> None:
        if stage == "greeting":
            trickle(p, SLOW)
        else:
            p.send(BANNER)
            p.expect(EHLO)
            trickle(p, SLOW.replace(b"220", b"250"))
        ends_closed(p)

    server = scripted(script)
    started = time.monotonic()
    with pytest.raises(ConnectTimeout) as info:
        sec_connect(server, timeout=0.5)
    elapsed = time.monotonic() - started
    assert isinstance(info.value, SMTPTimeout) and isinstance(info.value, ConnectError)
    assert 0.45 < elapsed < 2.0, elapsed  # one deadline for the whole reply (the trickle takes 10 s)
    server.join()


@TIMED
@pytest.mark.parametrize("how", ["data", "send_message"])
def test_MS_08_slowloris_after_the_final_dot(scripted: Scripted, sec_connect: Any, how: str) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect(MAIL)
        p.reply("250 2.1.0 ok")
        p.expect(RCPT)
        p.reply("250 2.1.5 ok")
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        trickle(p, b"250 2.0.0 queued as 12345, at one byte every 0.12 s\r\n")
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, timeout=0.5, raise_errors=True)
    started = time.monotonic()
    with pytest.raises(DeliveryUnknown) as info:
        if how == "data":
            assert smtp.mail(SENDER) is True
            assert smtp.to(RECIPIENT) is True
            smtp.data(BODY)
        else:
            smtp.send_message(BODY, SENDER, [RECIPIENT])
    assert isinstance(info.value.__cause__, SMTPTimeout)
    assert time.monotonic() - started < 2.0
    server.join()


# ---- MS-09 / MS-10 / MS-11: stalls and drops around the final dot ------------------------------------------
def through_the_dot(after: str) -> Any:
    """A transaction up to the final dot; then ``after``: stall, close or reset."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect(MAIL)
        p.reply("250 2.1.0 ok")
        p.expect(RCPT)
        p.reply("250 2.1.5 ok")
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_data().endswith(b"\r\n.\r\n")
        if after == "stall":
            ends_closed(p)
        elif after == "close":
            p.close()
        else:
            p.reset()

    return script


def send(smtp: Any, how: str) -> None:
    if how == "data":
        assert smtp.mail(SENDER) is True
        assert smtp.to(RECIPIENT) is True
        smtp.data(BODY)
    else:
        smtp.send_message(BODY, SENDER, [RECIPIENT])


@TIMED
@pytest.mark.parametrize("how", ["data", "send_message"])
def test_MS_09_stall_after_the_final_dot(scripted: Scripted, sec_connect: Any, how: str) -> None:
    server = scripted(through_the_dot("stall"))
    smtp = sec_connect(server, timeout=0.4, raise_errors=True)
    started = time.monotonic()
    with pytest.raises(DeliveryUnknown, match="may or may not"):
        send(smtp, how)
    assert 0.35 < time.monotonic() - started < 2.0
    assert smtp.code() == 421
    with pytest.raises(ConnectionLost):  # marked unusable: nothing more is written
        smtp.noop()
    server.join()  # (the script checked that the client closed without another byte)


@pytest.mark.parametrize("drop", ["close", "reset"])
@pytest.mark.parametrize("how", ["data", "send_message"])
def test_MS_10_drop_after_the_final_dot(scripted: Scripted, sec_connect: Any, how: str, drop: str) -> None:
    server = scripted(through_the_dot(drop))
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(DeliveryUnknown, match="may or may not have been accepted"):
        send(smtp, how)
    with pytest.raises(ConnectionLost):
        smtp.noop()
    server.join()


BIG = 32 * 1024 * 1024


@pytest.mark.parametrize("how", ["data", "datasend", "send_message"])
def test_MS_11_drop_in_the_middle_of_data(scripted: Scripted, sec_connect: Any, how: str) -> None:
    """Reset half-way through the body: the server never saw the end of the message, so it
    was not accepted (RFC 5321 §3.8) and a retry is safe. Not DeliveryUnknown."""
    body = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * (BIG // 80)

    def script(p: Peer) -> None:
        greet(p)
        p.expect(MAIL)
        p.reply("250 2.1.0 ok")
        p.expect(RCPT)
        p.reply("250 2.1.5 ok")
        p.expect("DATA")
        p.reply("354 go")
        got = 0
        while got < BIG // 2:
            chunk = p.sock.recv(1 << 20)
            assert chunk
            got += len(chunk)
        p.reset()

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(ConnectionLost, match="not accepted") as info:
        if how == "send_message":
            smtp.send_message(body, SENDER, [RECIPIENT])
        else:
            assert smtp.mail(SENDER) is True
            assert smtp.to(RECIPIENT) is True
            if how == "data":
                smtp.data(body)
            else:
                assert smtp.data() is True
                for start in range(0, len(body), 1 << 20):
                    smtp.datasend(body[start : start + (1 << 20)])
                smtp.dataend()
    assert not isinstance(info.value, DeliveryUnknown)
    assert smtp.code() == 421
    server.join()


# ---- MS-12: 421 at every stage -----------------------------------------------------------------------------
STAGES = ["greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "dot"]


def closing_at(stage: str) -> Any:
    def script(p: Peer) -> None:
        if stage == "greeting":
            p.send(b"421 4.3.2 shutting down\r\n")
            return quit_or_nothing(p)
        p.send(BANNER)
        p.expect(EHLO)
        if stage == "ehlo":
            p.reply("421 4.3.2 shutting down")
            return quit_or_nothing(p)  # never a HELO fallback after a 421
        p.reply(*ehlo_lines("STARTTLS", "AUTH PLAIN"))
        steps = [
            ("starttls", b"STARTTLS\r\n", "220 2.0.0 go ahead"),
            ("auth", b"AUTH PLAIN AHRpbQBzZWNyZXQ=\r\n", "235 2.7.0 ok"),
            ("mail", MAIL, "250 2.1.0 ok"),
            ("rcpt", RCPT, "250 2.1.5 ok"),
            ("data", b"DATA\r\n", "354 go"),
        ]
        for name, line, answer in steps:
            if name in ("starttls", "auth") and name != stage:
                continue  # the transaction itself: plaintext, no AUTH
            p.expect(line)
            if name == stage:
                p.reply("421 4.3.2 shutting down")
                return quit_or_nothing(p)
            p.reply(answer)
        p.read_data()
        p.reply("421 4.3.2 shutting down")
        return quit_or_nothing(p)

    return script


@pytest.mark.parametrize("stage", STAGES)
def test_MS_12_421_at_every_stage(scripted: Scripted, sec_connect: Any, stage: str) -> None:
    server = scripted(closing_at(stage))
    if stage in ("greeting", "ehlo"):
        with pytest.raises(GreetingError) as info:
            sec_connect(server)
        assert info.value.reply is not None and info.value.reply.code == 421
        assert info.value.reply.is_transient
        server.join()
        return
    smtp = sec_connect(server)
    calls = {
        "starttls": smtp.starttls,
        "auth": lambda: smtp.auth("tim", "secret"),
        "mail": lambda: smtp.mail(SENDER),
        "rcpt": lambda: smtp.mail(SENDER) and smtp.to(RECIPIENT),
        "data": lambda: smtp.mail(SENDER) and smtp.to(RECIPIENT) and smtp.data(BODY),
        "dot": lambda: smtp.mail(SENDER) and smtp.to(RECIPIENT) and smtp.data(BODY),
    }
    assert calls[stage]() is False
    assert smtp.code() == 421
    assert smtp.last_reply.is_transient  # a transient "not delivered"
    assert smtp.message() == "4.3.2 shutting down"
    started = time.monotonic()
    assert smtp.noop() is False  # closed: nothing more is written
    assert smtp.quit() is False  # no QUIT to hang on
    assert time.monotonic() - started < 1.0
    server.join()


def test_MS_12_421_to_the_final_dot_raises_a_transient_error(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(closing_at("dot"), connections=2)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(ReplyError) as info:
        send(smtp, "data")
    assert info.value.reply.code == 421 and info.value.reply.is_transient
    assert not isinstance(info.value, DeliveryUnknown)
    other = sec_connect(server)
    with pytest.raises(SendError) as info2:
        other.send_message(BODY, SENDER, [RECIPIENT])
    assert info2.value.result.reply.code == 421
    assert info2.value.result.refused[RECIPIENT].code == 421
    assert not info2.value.result.delivered
    server.join()


# ---- MS-13: the greeting code matrix -----------------------------------------------------------------------
GREETINGS = ["554 5.3.2 no service", "221 bye", "354 go", "500 what", "501 no", "530 auth first"]


@pytest.mark.parametrize("greeting", GREETINGS)
def test_MS_13_greeting_codes(scripted: Scripted, sec_connect: Any, greeting: str) -> None:
    def script(p: Peer) -> None:
        p.reply(greeting)
        quit_or_nothing(p)

    server = scripted(script)
    with pytest.raises(ConnectError) as info:
        sec_connect(server)
    assert isinstance(info.value, GreetingError)
    assert info.value.reply is not None and info.value.reply.code == int(greeting[:3])
    server.join()
    assert server.received in (b"", QUIT)  # never EHLO


def test_MS_13_greeting_220_proceeds(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(lambda p: (greet(p), serve_quit(p)))
    smtp = sec_connect(server)
    assert smtp.banner() == "test.example ESMTP ready"
    assert smtp.quit() is True
    server.join()


# ---- MS-14: pipelining reply count mismatch ----------------------------------------------------------------
THREE = ["b@example.org", "c@example.org", "d@example.org"]
ENVELOPE = MAIL + b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in THREE) + b"DATA\r\n"


def pipelined(*replies: str, then: Any = ends_closed) -> Any:
    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        assert p.read(len(ENVELOPE)) == ENVELOPE
        p.reply(*replies)
        then(p)

    return script


@TIMED
def test_MS_14a_missing_reply(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(pipelined("250 ok", "250 ok", "250 ok", "250 ok"))
    smtp = sec_connect(server, timeout=0.4)
    with pytest.raises(SMTPTimeout):
        smtp.send_message(BODY, SENDER, THREE)
    server.join()
    assert after_ehlo(server.received) == ENVELOPE  # no body byte


@pytest.mark.parametrize("extra_at", ["after_354", "before_354"])
def test_MS_14b_extra_reply(scripted: Scripted, sec_connect: Any, extra_at: str) -> None:
    tail = ["354 go", "250 extra"] if extra_at == "after_354" else ["250 extra", "354 go"]
    replies = ["250 ok"] * 4 + tail
    server = scripted(pipelined(*replies))
    smtp = sec_connect(server)
    with pytest.raises(ProtocolError):
        smtp.send_message(BODY, SENDER, THREE)
    server.join()
    assert after_ehlo(server.received) == ENVELOPE  # never paired with the next command, no body


def test_MS_14c_wrong_order(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(pipelined("250 ok", "354 go", "250 ok", "250 ok", "250 ok"))
    smtp = sec_connect(server)
    with pytest.raises(ProtocolError):
        smtp.send_message(BODY, SENDER, THREE)
    server.join()
    assert after_ehlo(server.received) == ENVELOPE


def test_MS_14d_no_recipient_but_354(scripted: Scripted, sec_connect: Any) -> None:
    def then(p: Peer) -> None:
        assert p.readline() == b".\r\n"  # the end marker alone: no body
        p.reply("554 5.5.1 no valid recipients")
        serve_quit(p)

    server = scripted(pipelined("250 ok", "550 no", "550 no", "550 no", "354 go", then=then))
    smtp = sec_connect(server)
    with pytest.raises(SendError, match="every recipient refused") as info:
        smtp.send_message(BODY, SENDER, THREE)
    assert not info.value.result.accepted
    assert set(info.value.result.refused) == set(THREE)
    assert smtp.quit() is True
    server.join()
    assert b"hello" not in server.received


# ---- MS-15: an early or unsolicited reply ------------------------------------------------------------------
def test_MS_15_early_reply_after_the_greeting(scripted: Scripted, sec_connect: Any) -> None:
    """The extra reply arrives on its own, after the greeting was read and before the client
    writes: the client looks for it before writing (one non-blocking check) and refuses."""
    sent = Signal()

    def script(p: Peer) -> None:
        p.send(BANNER)
        time.sleep(0.05)
        p.send(b"250 OK\r\n")
        sent.set()
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, send_hello=False, raise_errors=True)
    sent.wait()
    time.sleep(0.2)  # for the bytes to reach the client (the asyncio loop thread included)
    with pytest.raises(ProtocolError, match="unsolicited"):
        smtp.hello()
    server.join()
    assert server.received == b""  # the extra reply was never taken as the answer to EHLO


def test_MS_15_early_reply_with_the_greeting(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        p.send(BANNER + b"250 OK\r\n")
        ends_closed(p)

    server = scripted(script)
    with pytest.raises(ConnectError) as info:
        sec_connect(server)
    assert isinstance(info.value.__cause__, ProtocolError)
    server.join()
    assert server.received == b""


def test_MS_15_early_reply_between_commands(scripted: Scripted, sec_connect: Any) -> None:
    sent = Signal()

    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.reply("250 2.0.0 ok")
        time.sleep(0.05)
        p.send(b"250 2.1.0 Sender OK\r\n")  # a MAIL reply before MAIL
        sent.set()
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    assert smtp.noop() is True
    sent.wait()
    time.sleep(0.2)  # for the bytes to reach the client (the asyncio loop thread included)
    with pytest.raises(ProtocolError, match="unsolicited"):
        smtp.mail(SENDER)
    server.join()
    assert after_ehlo(server.received) == b"NOOP\r\n"


def test_MS_15_early_reply_inside_tls(scripted: Scripted, sec_connect: Any, client_context: Any) -> None:
    """Postfix's early-reply heuristic: inside TLS, a MAIL reply before MAIL was written."""
    sent = Signal()

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("220 2.0.0 go ahead")
        p.starttls()
        p.expect(EHLO)
        p.reply(*ehlo_lines("PIPELINING"))
        time.sleep(0.05)
        p.send(b"250 2.1.0 Sender OK\r\n")
        sent.set()
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True, ssl_context=client_context, server_hostname="localhost")
    assert smtp.starttls() is True
    sent.wait()
    time.sleep(0.2)  # for the bytes to reach the client (the asyncio loop thread included)
    with pytest.raises(ProtocolError, match="unsolicited"):
        smtp.mail(SENDER)
    server.join()
    inside = b"".join(data for tls, data in server.segments if tls)
    assert inside == EHLO  # nothing after the EHLO inside TLS


# ---- MS-16: AUTH challenge loops and bad challenges --------------------------------------------------------
class Forever:
    """A custom mechanism that answers every challenge: only the round limit can stop it."""

    name = "X-LOOP"
    exposes_secret = False
    needs_channel_binding = False

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        return b"more"

    def finish(self) -> None:
        return None


def test_MS_16_endless_challenges(scripted: Scripted, sec_connect: Any) -> None:
    rounds: list[int] = []

    def script(p: Peer) -> None:
        greet(p, "AUTH X-LOOP")
        p.expect("AUTH X-LOOP")
        count = 0
        while True:
            p.reply("334 eHl6")
            line = p.readline()
            if line == b"*\r\n":
                break
            assert line == b"bW9yZQ==\r\n", line
            count += 1
            assert count <= 10, "the client never gives up"
        rounds.append(count)
        p.reply("501 5.7.0 cancelled")
        p.expect("NOOP")
        p.reply("250 2.0.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.auth(Forever()) is False
    assert smtp.code() == 501
    assert smtp.noop() is True  # still in step
    assert smtp.quit() is True
    server.join()
    assert rounds and rounds[0] <= 10


def test_MS_16_challenge_not_base64(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect("AUTH PLAIN AHRpbQBzZWNyZXQ=")
        p.reply("334 !!!notbase64")
        p.expect("*")  # curl's graceful cancellation
        p.reply("501 5.7.0 cancelled")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 501
    assert smtp.quit() is True
    server.join()


# ---- MS-17: trouble at QUIT --------------------------------------------------------------------------------
@pytest.mark.parametrize("trouble", ["close", "reset", "tls_without_close_notify", "silent"])
def test_MS_17_trouble_at_quit(
    scripted: Scripted, sec_connect: Any, client_context: Any, trouble: str
) -> None:
    def script(p: Peer) -> None:
        if trouble == "tls_without_close_notify":
            greet(p, "STARTTLS")
            p.expect("STARTTLS")
            p.reply("220 2.0.0 go ahead")
            p.starttls()
            p.expect(EHLO)
            p.reply("250 test.example")
        else:
            greet(p)
        p.expect("QUIT")
        if trouble == "close":
            p.close()
        elif trouble == "reset":
            p.reset()
        elif trouble == "silent":
            ends_closed(p)  # never answers; the client gives up and closes
        else:
            p.reply("221 2.0.0 bye")
            p.sock.close()  # SSLSocket.close(): no close_notify

    server = scripted(script)
    timeout = 0.4 if trouble == "silent" else 2
    smtp = sec_connect(server, timeout=timeout, ssl_context=client_context, server_hostname="localhost")
    if trouble == "tls_without_close_notify":
        assert smtp.starttls() is True
    started = time.monotonic()
    result = smtp.quit()  # returns; never raises, never hangs
    assert time.monotonic() - started < timeout + 1.0
    assert result is (trouble == "tls_without_close_notify")
    assert smtp.noop() is False  # closed
    server.join()


# ---- MS-18: absurd capability values -----------------------------------------------------------------------
@pytest.mark.parametrize("size", ["99999999999999999999999", "-5", "abc", "0", "9" * 5000])
def test_MS_18_absurd_size_values(scripted: Scripted, sec_connect: Any, size: str) -> None:
    """Documented result: a SIZE that is not a plain number, or 0, means "no limit we can
    enforce"; one beyond 2**63 - 1 is clamped. The message is declared and sent either way."""
    mails: list[bytes] = []

    def script(p: Peer) -> None:
        greet(p, f"SIZE {size}")
        mails.append(p.readline())
        p.reply("250 ok")
        p.expect(RCPT)
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.supports("SIZE") == size
    assert smtp.send_message(BODY, SENDER, [RECIPIENT]).delivered
    assert smtp.quit() is True
    server.join()
    assert mails == [f"MAIL FROM:<{SENDER}> SIZE={len(BODY)}\r\n".encode()]


def test_MS_18_case_and_duplicate_keywords(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(
        lambda p: (
            greet(p, "size 100000", "SIZE 10", "pipelining", "Pipelining", "auth plain", "AUTH=LOGIN"),
            serve_quit(p),
        )
    )
    smtp = sec_connect(server)
    assert smtp.supports("SIZE") == "10"  # case-insensitive; the last one wins
    assert smtp.supports("pipelining") == ""
    assert smtp.supports("Auth") == "plain LOGIN"  # AUTH and AUTH= merged
    with pytest.raises(NotSupportedError, match="limit of 10"):
        smtp.send_message(BODY, SENDER, [RECIPIENT])  # the SIZE that was kept is enforced
    assert smtp.quit() is True
    server.join()


@pytest.mark.parametrize("count", [998, 10_000])
def test_MS_18_many_capability_lines(scripted: Scripted, sec_connect: Any, count: int) -> None:
    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        p.reply(*ehlo_lines(*(f"X-CAP{i} {i}" for i in range(count))))
        if count < 1000:
            serve_quit(p)
        else:
            ends_closed(p)

    server = scripted(script)
    if count < 1000:
        smtp = sec_connect(server)
        assert len(smtp.extensions) == count
        assert smtp.supports("x-cap997") == "997"
        assert smtp.quit() is True
    else:  # past the 1,000-line reply cap (MS-02): a clean ProtocolError, no crash
        with pytest.raises(ConnectError) as info:
            sec_connect(server)
        assert isinstance(info.value.__cause__, ProtocolError)
    server.join()


# ---- MS-19: capability confusion from the first EHLO line --------------------------------------------------
def test_MS_19_first_ehlo_line_is_not_a_capability(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        p.send(BANNER)
        p.expect(EHLO)
        p.send(b"250-mail.example.org welcomes STARTTLS and AUTH PLAIN users\r\n250 SIZE 100\r\n")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.supports("STARTTLS") is None
    assert smtp.supports("AUTH") is None
    assert smtp.supports("SIZE") == "100"
    assert dict(smtp.extensions) == {"SIZE": "100"}
    assert smtp.starttls() is False  # nothing sent
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 500
    assert smtp.quit() is True
    server.join()
    assert after_ehlo(server.received) == QUIT


# ---- MS-20: a timed-out connection is never reused ---------------------------------------------------------
@TIMED
def test_MS_20_timed_out_connection_is_not_reused(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect(MAIL)
        p.reply("250 2.1.0 ok")
        p.expect(RCPT)
        time.sleep(0.6)
        with contextlib.suppress(OSError):
            p.reply("250 2.1.5 late")  # after the client's 0.3 s timeout
        ends_closed(p)

    server = scripted(script)
    smtp = sec_connect(server, timeout=0.3, raise_errors=True)
    assert smtp.mail(SENDER) is True
    with pytest.raises(SMTPTimeout):
        smtp.to(RECIPIENT)
    time.sleep(0.5)  # the late 250 is on its way, or there
    for call in (smtp.noop, lambda: smtp.mail(SENDER), smtp.reset):
        with pytest.raises(ConnectionLost):
            call()
    assert smtp.code() == 421
    server.join()
    assert after_ehlo(server.received) == MAIL + RCPT  # nothing written after the timeout

"""Pipelined commands go out in groups small enough that the server can always answer them
(RFC 2920 §3.1): a client that writes every RCPT of a long envelope before reading a reply
deadlocks with a server that answers as it reads, once both socket buffers are full.

The long-envelope tests run on a Unix socket, whose buffers do not grow (TCP's do): the
client's send buffer (the machine's default, about 208 KB) holds far less than the RCPTs
(at least 20,000, 600 KB; more where the default is larger, so that the test can still fail
without the groups), and the server's send buffer is cut to a few KB, so a server that
answers each line as it reads it stops reading after a few hundred unread replies. Both
clients (asyncio too).
"""

from __future__ import annotations

import socket

import pytest

from netsmtp._client.transaction_flows import TransactionFlows
from tests.helpers.scripted import Peer, ScriptedServer

from .support import Connect, bdat, greet, quiet, reply, serve_quit


def _default_send_buffer() -> int:
    """The send buffer a new socket gets (Linux: net.core.wmem_default), 208 KB if unknown."""
    try:
        with open("/proc/sys/net/core/wmem_default") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return 212_992


# RCPT lines are about 29 octets: more than three times the client's send buffer, 20,000 at least.
COUNT = max(20_000, 3 * _default_send_buffer() // 28)
RECIPIENTS = [f"r{n}@example.net" for n in range(COUNT)]
BODY = b"Subject: many\r\n\r\nhello\r\n"
MAIL = b"MAIL FROM:<a@example.org>\r\n"


def rcpt(address: str) -> bytes:
    return f"RCPT TO:<{address}>\r\n".encode()


def answer_as_read(p: Peer, count: int, tail: bytes) -> None:
    """A server that answers every line as soon as it has read it (Postfix flushes its replies
    when it would wait for input; this one never waits to gather them), from a small send
    buffer: if the client does not read, this server soon stops reading too."""
    p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    greet(p, "PIPELINING", "CHUNKING")
    with p.sock.makefile("rb") as stream:  # (buffered: p.readline() copies its buffer per line)
        assert stream.readline() == MAIL
        p.send(b"250 2.1.0 ok\r\n")
        for address in RECIPIENTS[:count]:
            assert stream.readline() == rcpt(address)
            p.send(b"250 2.1.5 ok\r\n")
        if tail:
            assert stream.read(len(tail)) == tail
            p.send(b"250 2.0.0 queued\r\n")
        assert stream.readline() == b"QUIT\r\n"
        p.send(b"221 2.0.0 bye\r\n")


def test_send_message_with_a_long_envelope_does_not_deadlock(
    scripted: type[ScriptedServer], connect: Connect, socket_path: str
) -> None:
    server = scripted(lambda p: answer_as_read(p, COUNT, bdat(BODY, last=True)), unix_path=socket_path)
    smtp = connect(socket_path, timeout=5)
    result = smtp.send_message(BODY, "a@example.org", RECIPIENTS)
    assert smtp.quit()
    server.join()
    assert list(result.accepted) == RECIPIENTS
    assert result.reply == reply("250 2.0.0 queued")


def test_to_skip_bad_with_a_long_list_does_not_deadlock(
    scripted: type[ScriptedServer], connect: Connect, socket_path: str
) -> None:
    server = scripted(lambda p: answer_as_read(p, COUNT, b""), unix_path=socket_path)
    smtp = connect(socket_path, timeout=5)
    assert smtp.mail("a@example.org")
    assert smtp.to(RECIPIENTS, skip_bad=True) == RECIPIENTS
    assert smtp.quit()
    server.join()


# ---- the groups, on the wire (a window of 3 commands) --------------------------------------------
@pytest.fixture
def window_of_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TransactionFlows, "_pipeline_window", 3)


FIVE = [f"r{n}@example.net" for n in range(5)]


@pytest.mark.usefixtures("window_of_3")
def test_send_message_groups_hold_at_most_the_window(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    """MAIL and two RCPTs; three RCPTs; BDAT LAST with the message: each group waits for the
    replies to the one before it, and the message goes with the last."""
    groups = [MAIL + rcpt(FIVE[0]) + rcpt(FIVE[1]), b"".join(map(rcpt, FIVE[2:5])) + bdat(BODY, last=True)]

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(groups[0])) == groups[0]
        assert quiet(p), "the second group went out before the first was answered"
        p.reply("250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 no such user")
        assert p.read(len(groups[1])) == groups[1]
        assert quiet(p)
        p.reply("250 2.1.5 ok", "250 2.1.5 ok", "250 2.1.5 ok", "250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    result = smtp.send_message(BODY, "a@example.org", FIVE)
    assert smtp.quit()
    server.join()
    assert list(result.accepted) == [FIVE[0], *FIVE[2:]]
    assert result.refused == {FIVE[1]: reply("550 5.1.1 no such user")}
    assert result.reply == reply("250 2.0.0 queued")


@pytest.mark.usefixtures("window_of_3")
def test_send_message_stops_after_a_refused_mail(scripted: type[ScriptedServer], connect: Connect) -> None:
    """MAIL refused in the first group: no later group and no message are sent; the
    recipients never sent are refused with the MAIL reply (RFC 2920 §3)."""
    first = MAIL + rcpt(FIVE[0]) + rcpt(FIVE[1])

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(first)) == first
        p.reply("550 5.7.1 sender refused", "503 5.5.1 need MAIL", "503 5.5.1 need MAIL")
        serve_quit(p)  # the next line is QUIT: no RCPT, no BDAT, no RSET

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(Exception, match="MAIL refused") as info:
        smtp.send_message(BODY, "a@example.org", FIVE)
    result = info.value.result  # type: ignore[attr-defined]
    assert result.mail_reply == reply("550 5.7.1 sender refused")
    assert result.refused == {
        FIVE[0]: reply("503 5.5.1 need MAIL"),
        FIVE[1]: reply("503 5.5.1 need MAIL"),
        **{address: reply("550 5.7.1 sender refused") for address in FIVE[2:]},
    }
    assert smtp.quit()
    server.join()


@pytest.mark.usefixtures("window_of_3")
def test_to_skip_bad_groups_hold_at_most_the_window(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        p.expect(MAIL)
        p.reply("250 2.1.0 ok")
        for group, answers in ((FIVE[:3], ("250 ok", "550 no", "250 ok")), (FIVE[3:], ("250 ok", "550 no"))):
            batch = b"".join(map(rcpt, group))
            assert p.read(len(batch)) == batch
            assert quiet(p), "the next group went out before this one was answered"
            p.reply(*answers)
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.mail("a@example.org")
    assert smtp.to(FIVE, skip_bad=True) == [FIVE[0], FIVE[2], FIVE[3]]
    assert (smtp.code(), smtp.message()) == (550, "no")
    assert smtp.quit()
    server.join()

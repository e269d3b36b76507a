"""LMTP (RFC 2033): LHLO, one reply per accepted recipient after the data, over TCP and a Unix
socket; smtplib's cpython#76984 (only the first of those replies read) must not happen."""

from __future__ import annotations

import pytest

from netsmtp import SendError, SendResult
from netsmtp._message import CHUNK
from tests.helpers.scripted import Peer, ScriptedServer

from .support import Connect, bdat, greet, quiet, reply, serve_quit

RAW = b"From: a@example.org\r\nTo: b@example.net, c@example.net, d@example.net\r\n\r\nhi\r\n.\r\n"
STUFFED = RAW.replace(b"\r\n.", b"\r\n..") + b".\r\n"
ENVELOPE = (
    b"MAIL FROM:<a@example.org>\r\n"
    b"RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nRCPT TO:<d@example.net>\r\n"
)


def lhlo(p: Peer, *caps: str) -> None:
    greet(p, *caps, verb="LHLO")


def noop_then_quit(p: Peer) -> None:
    """Answer a NOOP, then QUIT. The client sends the NOOP after the data: its reply must not
    be a delivery reply left unread (cpython#76984)."""
    p.expect("NOOP")
    p.reply("250 2.0.0 noop answered")
    serve_quit(p)


@pytest.mark.parametrize("pipelined", [False, True], ids=["to-per-address", "skip_bad-batch"])
def test_data_reads_one_reply_per_recipient(
    scripted: type[ScriptedServer], connect: Connect, pipelined: bool
) -> None:
    """One reply per accepted recipient, whether they came one to() at a time or in one
    to(..., skip_bad=True) whose RCPTs were batched (PIPELINING)."""
    rcpts = [b"RCPT TO:<b@example.net>\r\n", b"RCPT TO:<x@example.net>\r\n", b"RCPT TO:<c@example.net>\r\n"]
    answers = ["250 ok", "550 5.1.1 no x", "250 ok"]

    def script(p: Peer) -> None:
        lhlo(p, *(["PIPELINING"] if pipelined else []))
        p.expect("MAIL FROM:<a@example.org>")
        p.reply("250 ok")
        if pipelined:
            assert p.read(len(b"".join(rcpts))) == b"".join(rcpts)
            assert quiet(p)
            p.reply(*answers)
        else:
            for line, answer in zip(rcpts, answers, strict=True):
                p.expect(line)
                p.reply(answer)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_data() == b"Subject: x\r\n\r\nbody\r\n.\r\n"
        p.reply("250 2.0.0 b delivered", "452 4.2.2 c over quota")
        noop_then_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP")
    assert lmtp.mail("a@example.org")
    if pipelined:
        assert lmtp.to("b@example.net", "x@example.net", "c@example.net", skip_bad=True) == [
            "b@example.net",
            "c@example.net",
        ]
    else:
        assert lmtp.to("b@example.net")
        assert not lmtp.to("x@example.net")
        assert lmtp.to("c@example.net")
    assert lmtp.data(b"Subject: x\r\n\r\nbody\r\n") is False  # one recipient did not get it
    assert lmtp.data_replies == {
        "b@example.net": reply("250 2.0.0 b delivered"),
        "c@example.net": reply("452 4.2.2 c over quota"),
    }
    assert lmtp.noop()  # its reply must not be the second delivery reply (cpython#76984)
    assert lmtp.message() == "2.0.0 noop answered"
    lmtp.quit()
    server.join()


def test_datasend_dataend_and_the_next_transaction(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        lhlo(p)
        for _ in range(2):
            p.expect("MAIL FROM:<a@example.org>")
            p.reply("250 ok")
            p.expect("RCPT TO:<b@example.net>")
            p.reply("250 ok")
            p.expect("RCPT TO:<c@example.net>")
            p.reply("250 ok")
            p.expect("DATA")
            p.reply("354 go")
            p.read_data()
            p.reply("250 2.0.0 b ok", "250 2.0.0 c ok")
        serve_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP")
    for _ in range(2):
        assert lmtp.mail("a@example.org") and lmtp.to("b@example.net", "c@example.net")
        assert lmtp.data()
        assert lmtp.datasend([b"Subject: y\r\n", b"\r\nbody\r\n"])
        assert lmtp.dataend() is True
        assert list(lmtp.data_replies) == ["b@example.net", "c@example.net"]
    lmtp.quit()
    server.join()


@pytest.mark.parametrize("caps", [(), ("PIPELINING",)], ids=["sequential", "pipelined"])
def test_send_message_per_recipient_results(
    scripted: type[ScriptedServer], connect: Connect, caps: tuple[str, ...]
) -> None:
    def script(p: Peer) -> None:
        lhlo(p, *caps)
        for line in (ENVELOPE + b"DATA\r\n").splitlines(keepends=True):
            p.expect(line)
            if not caps:
                p.reply("354 go" if line == b"DATA\r\n" else "550 5.1.1 no c" if b"<c@" in line else "250 ok")
        if caps:
            p.reply("250 ok", "250 ok", "550 5.1.1 no c", "250 ok", "354 go")
        assert p.read_data() == STUFFED
        p.reply("250 2.0.0 b delivered", "452 4.2.2 d over quota")
        noop_then_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP")
    result = lmtp.send_message(RAW)
    assert lmtp.noop() and lmtp.message() == "2.0.0 noop answered"
    lmtp.quit()
    server.join()
    assert result == SendResult(
        "a@example.org",
        accepted={"b@example.net": reply("250 2.0.0 b delivered")},
        refused={"c@example.net": reply("550 5.1.1 no c"), "d@example.net": reply("452 4.2.2 d over quota")},
        reply=reply("452 4.2.2 d over quota"),
        mail_reply=reply("250 ok"),
    )
    assert result.delivered


def test_send_message_chunking_inline(scripted: type[ScriptedServer], connect: Connect) -> None:
    """One write, then one reply per accepted recipient after BDAT LAST (the number is only
    known once the RCPT replies are read)."""
    batch = ENVELOPE + bdat(RAW, last=True)

    def script(p: Peer) -> None:
        lhlo(p, "PIPELINING", "CHUNKING")
        assert p.read(len(batch)) == batch
        assert quiet(p)
        p.reply("250 ok", "250 ok", "250 ok", "250 ok", "250 2.0.0 b ok", "250 2.0.0 c ok", "250 2.0.0 d ok")
        noop_then_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP")
    result = lmtp.send_message(RAW)
    assert lmtp.noop() and lmtp.message() == "2.0.0 noop answered"
    lmtp.quit()
    server.join()
    assert result.accepted == {
        "b@example.net": reply("250 2.0.0 b ok"),
        "c@example.net": reply("250 2.0.0 c ok"),
        "d@example.net": reply("250 2.0.0 d ok"),
    }
    assert result.refused == {} and result.reply == reply("250 2.0.0 d ok")


def test_send_message_chunked_big_message(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = RAW + b"x" * (CHUNK + 10) + b"\r\n"

    def script(p: Peer) -> None:
        lhlo(p, "PIPELINING", "CHUNKING")
        assert p.read(len(ENVELOPE)) == ENVELOPE
        p.reply("250 ok", "550 5.1.1 no b", "250 ok", "250 ok")
        p.expect("BDAT 1048576")
        p.read(CHUNK)
        p.reply("250 2.0.0 chunk ok")
        p.expect(f"BDAT {len(raw) - CHUNK} LAST")
        p.read(len(raw) - CHUNK)
        p.reply("450 4.2.0 c locked", "250 2.0.0 d ok")
        noop_then_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP", max_line_length=None)  # one 1 MiB line
    result = lmtp.send_message(raw)
    assert lmtp.noop() and lmtp.message() == "2.0.0 noop answered"
    lmtp.quit()
    server.join()
    assert result.accepted == {"d@example.net": reply("250 2.0.0 d ok")}
    assert result.refused == {
        "b@example.net": reply("550 5.1.1 no b"),
        "c@example.net": reply("450 4.2.0 c locked"),
    }


@pytest.mark.parametrize("chunking", [False, True])
def test_send_message_refused_for_everyone(
    scripted: type[ScriptedServer], connect: Connect, chunking: bool
) -> None:
    raw = b"To: b@example.net, c@example.net\r\n\r\nhi\r\n"
    batch = ENVELOPE.replace(b"RCPT TO:<d@example.net>\r\n", b"") + (
        bdat(raw, last=True) if chunking else b"DATA\r\n"
    )

    def script(p: Peer) -> None:
        lhlo(p, "PIPELINING", *(["CHUNKING"] if chunking else []))
        assert p.read(len(batch)) == batch
        p.reply("250 ok", "250 ok", "250 ok")
        if not chunking:
            p.reply("354 go")
            assert p.read_data() == raw + b".\r\n"
        p.reply("552 5.2.2 b full", "451 4.3.0 c failed")
        noop_then_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP")
    with pytest.raises(SendError, match="refused for every recipient") as info:
        lmtp.send_message(raw, "a@example.org")
    assert info.value.result == SendResult(
        "a@example.org",
        refused={"b@example.net": reply("552 5.2.2 b full"), "c@example.net": reply("451 4.3.0 c failed")},
        reply=reply("451 4.3.0 c failed"),
        mail_reply=reply("250 ok"),
    )
    assert lmtp.noop() and lmtp.message() == "2.0.0 noop answered"
    lmtp.quit()
    server.join()


def test_duplicate_recipient_gets_one_rcpt(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net\r\nCc: b@example.net\r\n\r\nhi\r\n"

    def script(p: Peer) -> None:
        lhlo(p, "PIPELINING")
        batch = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
        assert p.read(len(batch)) == batch
        p.reply("250 ok", "250 ok", "354 go")
        p.read_data()
        p.reply("250 2.0.0 b ok")
        noop_then_quit(p)

    server = scripted(script)
    lmtp = connect(server, cls="LMTP")
    assert lmtp.send_message(raw).accepted == {"b@example.net": reply("250 2.0.0 b ok")}
    assert lmtp.noop() and lmtp.message() == "2.0.0 noop answered"
    lmtp.quit()
    server.join()


def test_unix_socket(scripted: type[ScriptedServer], connect: Connect, socket_path: str) -> None:
    def script(p: Peer) -> None:
        lhlo(p, "PIPELINING", "CHUNKING", "8BITMIME")
        batch = ENVELOPE + bdat(RAW, last=True)
        assert p.read(len(batch)) == batch
        p.reply("250 ok", "250 ok", "250 ok", "250 ok", "250 2.0.0 b", "250 2.0.0 c", "250 2.0.0 d")
        serve_quit(p)

    server = scripted(script, unix_path=socket_path)
    assert server.host == socket_path
    lmtp = connect(socket_path, cls="LMTP")
    assert lmtp.host() == socket_path
    result = lmtp.send_message(RAW)
    assert lmtp.quit()
    server.join()
    assert list(result.accepted) == ["b@example.net", "c@example.net", "d@example.net"]
    assert server.received.startswith(b"LHLO client.test\r\n")

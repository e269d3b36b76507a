"""CHUNKING (RFC 3030) in send_message: messages over 1 MiB go as BDAT chunks of exact sizes
after the envelope, without dot-stuffing; refusals stop the message (both clients)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netsmtp import SendError, SendResult
from netsmtp._message import CHUNK
from tests.helpers.scripted import Peer, ScriptedServer

from .support import Connect, bdat, greet, quiet, reply, serve_quit

HEAD = b"From: a@example.org\r\nTo: b@example.net, c@example.net\r\nSubject: big\r\n\r\n"
ENVELOPE = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"


def big_message(size: int) -> bytes:
    """``size`` octets: headers, then lines with dots and end markers that BDAT must not touch."""
    line = b"line\r\n.\r\n..dots\r\n\r\n.\r\n"
    body = (line * (size // len(line) + 1))[: size - len(HEAD)]
    return HEAD + body


def read_bdat(p: Peer) -> tuple[bytes, bytes]:
    """One BDAT command line and its chunk."""
    line = p.readline()
    assert line.startswith(b"BDAT "), line
    return line, p.read(int(line.split()[1]))


def test_big_message_envelope_first_then_exact_chunks(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    raw = big_message(2 * CHUNK + 12345)

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING", "SIZE 10000000")
        envelope = ENVELOPE.replace(b">\r\n", f"> SIZE={len(raw)}\r\n".encode(), 1)
        assert p.read(len(envelope)) == envelope
        assert quiet(p), "over 1 MiB the body waits for the envelope's replies"
        p.reply("250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 no c")
        # with PIPELINING the chunks do not wait for each other's replies...
        line1, chunk1 = read_bdat(p)
        line2, chunk2 = read_bdat(p)
        assert (line1, line2) == (b"BDAT 1048576\r\n", b"BDAT 1048576\r\n")
        # ...but BDAT LAST waits until every earlier chunk is answered
        assert quiet(p)
        p.reply("250 2.0.0 1048576 octets", "250 2.0.0 1048576 octets")
        line3, chunk3 = read_bdat(p)
        assert line3 == b"BDAT 12345 LAST\r\n"
        assert chunk1 + chunk2 + chunk3 == raw  # no dot-stuffing, no end marker
        p.reply("250 2.0.0 queued as BIG")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    result = smtp.send_message(raw)
    smtp.quit()
    server.join()
    assert result == SendResult(
        "a@example.org",
        accepted={"b@example.net": reply("250 2.1.5 ok")},
        refused={"c@example.net": reply("550 5.1.1 no c")},
        reply=reply("250 2.0.0 queued as BIG"),
        mail_reply=reply("250 2.1.0 ok"),
    )


def test_big_message_without_pipelining_waits_for_every_reply(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    raw = big_message(2 * CHUNK + 7)

    def script(p: Peer) -> None:
        greet(p, "CHUNKING")
        for line in ENVELOPE.splitlines(keepends=True):
            p.expect(line)
            assert quiet(p)
            p.reply("250 ok")
        got = b""
        for expected in (b"BDAT 1048576\r\n", b"BDAT 1048576\r\n", b"BDAT 7 LAST\r\n"):
            line, chunk = read_bdat(p)
            assert line == expected
            assert quiet(p), "without PIPELINING a chunk waits for the previous one's reply"
            got += chunk
            p.reply("250 ok")
        assert got == raw
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(raw).delivered
    smtp.quit()
    server.join()


def test_bcc_removed_from_a_big_message(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = big_message(CHUNK + 100)
    with_bcc = raw.replace(
        b"Subject: big\r\n", b"Bcc: hidden@example.net,\r\n\tother@example.net\r\nSubject: big\r\n"
    )
    chunks: list[tuple[bytes, bytes]] = []

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        envelope = ENVELOPE + b"RCPT TO:<hidden@example.net>\r\nRCPT TO:<other@example.net>\r\n"
        assert p.read(len(envelope)) == envelope
        p.reply("250 ok", "250 ok", "250 ok", "250 ok", "250 ok")
        while True:
            chunks.append(read_bdat(p))
            p.reply("250 ok")
            if chunks[-1][0].endswith(b"LAST\r\n"):
                break
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert len(smtp.send_message(with_bcc).accepted) == 4
    smtp.quit()
    server.join()
    assert b"".join(chunk for _line, chunk in chunks) == raw
    sizes = [int(line.split()[1]) for line, _chunk in chunks]
    assert sum(sizes) == len(raw) and all(size <= CHUNK for size in sizes)


def test_empty_message_is_bdat_0_last(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        batch = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 0 LAST\r\n"
        assert p.read(len(batch)) == batch
        assert quiet(p)
        p.reply("250 ok", "250 ok", "250 2.0.0 empty but fine")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(b"", "a@example.org", "b@example.net").reply == reply("250 2.0.0 empty but fine")
    smtp.quit()
    server.join()


def test_streamed_message_ending_with_an_empty_piece(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    # A generator's trailing b"" (or a size that is a multiple of the chunk size) never
    # produces a zero-length BDAT in the middle: the last full chunk carries LAST.
    raw = big_message(2 * CHUNK)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(raw), 100_000):
            yield raw[start : start + 100_000]
        yield b""

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(ENVELOPE)) == ENVELOPE
        p.reply("250 ok", "250 ok", "250 ok")
        line1, chunk1 = read_bdat(p)
        p.reply("250 ok")
        line2, chunk2 = read_bdat(p)
        assert (line1, line2) == (b"BDAT 1048576\r\n", b"BDAT 1048576 LAST\r\n")
        assert chunk1 + chunk2 == raw
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(pieces()).delivered
    smtp.quit()
    server.join()


@pytest.mark.parametrize("pipelining", [True, False])
def test_chunk_refused_midway(scripted: type[ScriptedServer], connect: Connect, pipelining: bool) -> None:
    raw = big_message(4 * CHUNK + 10)
    quota = reply("552 5.2.2 mailbox full")

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        if pipelining:
            assert p.read(len(ENVELOPE)) == ENVELOPE
            p.reply("250 ok", "250 ok", "250 ok")
        else:
            for line in ENVELOPE.splitlines(keepends=True):
                p.expect(line)
                p.reply("250 ok")
        assert read_bdat(p)[0] == b"BDAT 1048576\r\n"
        p.reply("250 2.0.0 first chunk ok")
        assert read_bdat(p)[0] == b"BDAT 1048576\r\n"
        p.reply("552 5.2.2 mailbox full")
        if pipelining:
            # RFC 3030 §2: chunks already in the pipeline are discarded, and answered
            for _ in range(2):
                assert read_bdat(p)[0] == b"BDAT 1048576\r\n"
                p.reply("503 5.5.1 transaction failed, chunk discarded")
        p.expect("RSET")  # no further chunk, no BDAT LAST
        assert quiet(p)
        p.reply("250 2.0.0 reset")
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, pipelining=pipelining)
    with pytest.raises(SendError, match="message refused: 552") as info:
        smtp.send_message(raw)
    assert info.value.result == SendResult(
        "a@example.org",
        refused={"b@example.net": quota, "c@example.net": quota},
        reply=quota,
        mail_reply=reply("250 ok"),
    )
    assert smtp.noop()
    smtp.quit()
    server.join()
    assert b" LAST" not in server.received


def test_bdat_last_refused(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = big_message(CHUNK + 10)

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(ENVELOPE)) == ENVELOPE
        p.reply("250 ok", "250 ok", "250 ok")
        assert read_bdat(p)[0] == b"BDAT 1048576\r\n"
        p.reply("250 ok")
        assert read_bdat(p)[0] == b"BDAT 10 LAST\r\n"
        p.reply("554 5.6.0 message rejected")
        # the transaction is over: the next message follows at once
        assert p.read(len(ENVELOPE)) == ENVELOPE
        p.reply("250 ok", "250 ok", "250 ok")
        assert read_bdat(p)[0] == b"BDAT 1048576\r\n"
        p.reply("250 ok")
        assert read_bdat(p)[0] == b"BDAT 10 LAST\r\n"
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="message refused") as info:
        smtp.send_message(raw)
    rejected = reply("554 5.6.0 message rejected")
    assert info.value.result.refused == {"b@example.net": rejected, "c@example.net": rejected}
    assert info.value.result.accepted == {} and info.value.result.reply == rejected
    assert smtp.send_message(raw).delivered
    smtp.quit()
    server.join()


def test_binary_content_with_nul_goes_by_bdat(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = HEAD + b"\x00\x01\r\n.\r\n"  # 7-bit: 8-bit content needs 8BITMIME (SECURITY SM-11)

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        batch = ENVELOPE + bdat(raw, last=True)
        assert p.read(len(batch)) == batch
        p.reply("250 ok", "250 ok", "250 ok", "250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(raw).delivered
    smtp.quit()
    server.join()

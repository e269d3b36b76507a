"""PIPELINING (RFC 2920) in send_message: one write per batch, every reply paired, and the
corner cases of RFC 2920 §3 and SECURITY MS-14 (both clients)."""

from __future__ import annotations

from typing import Any

import pytest

from netsmtp import ProtocolError, SendError, SendResult, SMTPTimeout
from tests.helpers.scripted import Peer, ScriptedServer

from .support import Connect, bdat, greet, quiet, reply, serve_quit

RAW = (
    b"From: a@example.org\r\n"
    b"To: b@example.net, c@example.net\r\n"
    b"Subject: pipelined\r\n"
    b"\r\n"
    b"hello\r\n"
    b".\r\n"  # a lone dot: BDAT sends it as is, DATA doubles it
    b"bye\r\n"
)
STUFFED = RAW.replace(b"\r\n.", b"\r\n..") + b".\r\n"
ENVELOPE = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
THREE = ENVELOPE + b"RCPT TO:<d@example.net>\r\n"


def segments_after_hello(server: ScriptedServer) -> list[bytes]:
    data = [chunk for _tls, chunk in server.segments]
    assert data[0].startswith(b"EHLO ")
    return data[1:]


def test_chunking_whole_transaction_in_one_write(scripted: type[ScriptedServer], connect: Connect) -> None:
    batch = ENVELOPE + bdat(RAW, last=True)

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        # Everything arrives before we answer anything: one round trip for the message.
        assert p.read(len(batch)) == batch
        assert quiet(p)
        p.reply("250 2.1.0 ok", "250 2.1.5 b ok", "251 2.1.5 c forwarded", "250 2.0.0 queued as 1")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    result = smtp.send_message(RAW)
    smtp.quit()
    server.join()
    assert segments_after_hello(server)[0] == batch  # one write, one segment
    assert result == SendResult(
        "a@example.org",
        accepted={"b@example.net": reply("250 2.1.5 b ok"), "c@example.net": reply("251 2.1.5 c forwarded")},
        reply=reply("250 2.0.0 queued as 1"),
        mail_reply=reply("250 2.1.0 ok"),
    )


def test_data_envelope_in_one_write_body_after_354(scripted: type[ScriptedServer], connect: Connect) -> None:
    batch = ENVELOPE + b"DATA\r\n"

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "8BITMIME")
        assert p.read(len(batch)) == batch
        assert quiet(p), "the body must wait for the 354"
        p.reply("250 ok", "250 ok", "250 ok", "354 go ahead")
        assert p.read_data() == STUFFED
        assert quiet(p)
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    result = smtp.send_message(RAW)
    smtp.quit()
    server.join()
    segments = segments_after_hello(server)
    assert segments[:2] == [batch, STUFFED]  # the body and its end marker: one write too
    assert result.delivered and list(result.accepted) == ["b@example.net", "c@example.net"]


@pytest.mark.parametrize(
    ("caps", "options", "chunking"),
    [
        (("CHUNKING", "8BITMIME"), {}, True),
        ((), {}, False),
        (("PIPELINING", "CHUNKING"), {"pipelining": False}, True),
        (("PIPELINING",), {"pipelining": False}, False),
    ],
    ids=["chunking-only", "nothing", "chunking-pipelining-off", "pipelining-off"],
)
def test_never_two_commands_without_pipelining(
    scripted: type[ScriptedServer],
    connect: Connect,
    caps: tuple[str, ...],
    options: dict[str, Any],
    chunking: bool,
) -> None:
    def script(p: Peer) -> None:
        greet(p, *caps)
        for line in ENVELOPE.splitlines(keepends=True):
            p.expect(line)
            assert quiet(p), f"the client did not wait for the reply to {line!r}"
            p.reply("250 ok")
        if chunking:
            assert p.read(len(bdat(RAW, last=True))) == bdat(RAW, last=True)
        else:
            p.expect("DATA")
            assert quiet(p)
            p.reply("354 go")
            assert p.read_data() == STUFFED
        assert quiet(p)
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, **options)
    assert smtp.send_message(RAW).delivered
    smtp.quit()
    server.join()


# ---- RFC 2920 §3 ------------------------------------------------------------------------------


def test_mail_refused_after_rcpts_went_out_data(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        assert p.read(len(ENVELOPE) + 6) == ENVELOPE + b"DATA\r\n"
        p.reply(
            "550 5.7.1 sender refused", "503 5.5.1 MAIL first", "503 5.5.1 MAIL first", "503 5.5.1 no MAIL"
        )
        # no body, no end marker, no RSET: the next bytes are the next transaction
        assert p.read(len(ENVELOPE) + 6) == ENVELOPE + b"DATA\r\n"
        p.reply("250 ok", "250 ok", "250 ok", "354 go")
        assert p.read_data() == STUFFED
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="MAIL refused") as info:
        smtp.send_message(RAW)
    assert info.value.result == SendResult(
        "a@example.org",
        refused={
            "b@example.net": reply("503 5.5.1 MAIL first"),
            "c@example.net": reply("503 5.5.1 MAIL first"),
        },
        reply=reply("503 5.5.1 no MAIL"),
        mail_reply=reply("550 5.7.1 sender refused"),
    )
    assert smtp.send_message(RAW).delivered  # the session is still in step
    smtp.quit()
    server.join()


def test_mail_refused_after_rcpts_went_out_chunking(scripted: type[ScriptedServer], connect: Connect) -> None:
    batch = ENVELOPE + bdat(RAW, last=True)

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(batch)) == batch
        p.reply(
            "550 5.7.1 sender refused", "503 5.5.1 MAIL first", "503 5.5.1 MAIL first", "503 5.5.1 no MAIL"
        )
        p.expect("NOOP")  # no RSET: MAIL was never accepted
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="MAIL refused") as info:
        smtp.send_message(RAW)
    result = info.value.result
    assert result.mail_reply == reply("550 5.7.1 sender refused")
    assert result.reply == reply("503 5.5.1 no MAIL")
    assert result.accepted == {} and set(result.refused) == {"b@example.net", "c@example.net"}
    assert smtp.noop()
    smtp.quit()
    server.join()


def test_no_recipient_but_354_sends_only_the_end_marker(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    # RFC 2920 §3 / SECURITY MS-14 (d): the body must not follow (MailKit's
    # TestNoRecipientsAcceptedPipelined).
    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        assert p.read(len(ENVELOPE) + 6) == ENVELOPE + b"DATA\r\n"
        p.reply("250 2.1.0 ok", "550 5.1.1 no b", "450 4.2.1 c busy", "354 go ahead")
        assert p.read(3) == b".\r\n"
        assert quiet(p)
        p.reply("554 5.5.1 no valid recipients")
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="every recipient refused") as info:
        smtp.send_message(RAW)
    assert info.value.result == SendResult(
        "a@example.org",
        refused={"b@example.net": reply("550 5.1.1 no b"), "c@example.net": reply("450 4.2.1 c busy")},
        reply=reply("554 5.5.1 no valid recipients"),
        mail_reply=reply("250 2.1.0 ok"),
    )
    assert smtp.noop()
    smtp.quit()
    server.join()
    assert b"hello" not in server.received


@pytest.mark.parametrize("chunking", [False, True])
def test_no_recipient_and_data_refused_sends_rset(
    scripted: type[ScriptedServer], connect: Connect, chunking: bool
) -> None:
    batch = ENVELOPE + (bdat(RAW, last=True) if chunking else b"DATA\r\n")

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", *(["CHUNKING"] if chunking else []))
        assert p.read(len(batch)) == batch
        p.reply("250 2.1.0 ok", "550 5.1.1 no b", "550 5.1.1 no c", "554 5.5.1 no valid recipients")
        p.expect("RSET")  # MAIL was accepted: leave no transaction behind
        p.reply("250 2.0.0 reset")
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="every recipient refused") as info:
        smtp.send_message(RAW)
    assert info.value.result.reply == reply("554 5.5.1 no valid recipients")
    assert info.value.result.accepted == {}
    assert smtp.noop()
    smtp.quit()
    server.join()


@pytest.mark.parametrize("chunking", [False, True])
def test_partial_refusal(scripted: type[ScriptedServer], connect: Connect, chunking: bool) -> None:
    raw = RAW.replace(b"c@example.net", b"c@example.net, d@example.net")
    batch = THREE + (bdat(raw, last=True) if chunking else b"DATA\r\n")

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", *(["CHUNKING"] if chunking else []))
        assert p.read(len(batch)) == batch
        p.reply("250 2.1.0 ok", "550 5.1.1 b unknown", "250 2.1.5 c ok", "452 4.2.2 d over quota")
        if not chunking:
            p.reply("354 go")
            assert p.read_data() == raw.replace(b"\r\n.", b"\r\n..") + b".\r\n"
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    result = smtp.send_message(raw)
    smtp.quit()
    server.join()
    assert result == SendResult(
        "a@example.org",
        accepted={"c@example.net": reply("250 2.1.5 c ok")},
        refused={
            "b@example.net": reply("550 5.1.1 b unknown"),
            "d@example.net": reply("452 4.2.2 d over quota"),
        },
        reply=reply("250 2.0.0 queued"),
        mail_reply=reply("250 2.1.0 ok"),
    )
    b, d = result.refused["b@example.net"], result.refused["d@example.net"]
    assert (b.enhanced_status, b.is_permanent, b.is_transient) == ("5.1.1", True, False)
    assert (d.enhanced_status, d.is_permanent, d.is_transient) == ("4.2.2", False, True)
    assert result.delivered


@pytest.mark.parametrize("chunking", [False, True])
def test_message_refused_at_the_end(scripted: type[ScriptedServer], connect: Connect, chunking: bool) -> None:
    batch = ENVELOPE + (bdat(RAW, last=True) if chunking else b"DATA\r\n")

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", *(["CHUNKING"] if chunking else []))
        assert p.read(len(batch)) == batch
        p.reply("250 ok", "250 ok", "250 ok")
        if not chunking:
            p.reply("354 go")
            assert p.read_data() == STUFFED
        p.reply("554 5.7.1 spam")
        assert p.read(len(batch)) == batch  # the next message, at once: still in step
        p.reply("250 ok", "250 ok", "250 ok")
        if not chunking:
            p.reply("354 go")
            assert p.read_data() == STUFFED
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="message refused") as info:
        smtp.send_message(RAW)
    spam = reply("554 5.7.1 spam")
    assert info.value.result == SendResult(
        "a@example.org",
        refused={"b@example.net": spam, "c@example.net": spam},
        reply=spam,
        mail_reply=reply("250 ok"),
    )
    assert not info.value.result.delivered
    assert smtp.send_message(RAW).delivered
    smtp.quit()
    server.join()


# ---- SECURITY MS-14: the wrong number of replies -----------------------------------------------

RAW3 = RAW.replace(b"c@example.net", b"c@example.net, d@example.net")
BATCH3 = THREE + b"DATA\r\n"


def run_ms14(scripted: type[ScriptedServer], connect: Connect, replies: list[str]) -> tuple[Any, bytes]:
    """Answer the pipelined batch with ``replies``; return what send_message raised and every
    byte the client sent after the batch until it closed."""
    tail: dict[str, bytes] = {}

    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        assert p.read(len(BATCH3)) == BATCH3
        p.reply(*replies)
        tail["rest"] = p.read_to_eof(wait=5)

    server = scripted(script)
    smtp = connect(server, timeout=0.5)
    with pytest.raises((ProtocolError, SMTPTimeout)) as info:
        smtp.send_message(RAW3)
    smtp.close()
    server.join()
    return info.value, tail["rest"]


def test_ms14a_a_reply_missing_times_out(scripted: type[ScriptedServer], connect: Connect) -> None:
    exc, rest = run_ms14(scripted, connect, ["250 ok"] * 4)
    assert isinstance(exc, SMTPTimeout)
    assert rest == b""  # no body, and the connection was closed


def test_ms14b_an_extra_reply_after_354(scripted: type[ScriptedServer], connect: Connect) -> None:
    exc, rest = run_ms14(scripted, connect, [*["250 ok"] * 4, "354 go", "250 2.0.0 queued"])
    assert isinstance(exc, ProtocolError)
    assert rest == b""


def test_ms14b_an_extra_reply_before_354(scripted: type[ScriptedServer], connect: Connect) -> None:
    exc, rest = run_ms14(scripted, connect, [*["250 ok"] * 5, "354 go"])
    assert isinstance(exc, ProtocolError)  # DATA answered 250
    assert rest == b""


def test_ms14c_354_in_the_wrong_slot(scripted: type[ScriptedServer], connect: Connect) -> None:
    exc, rest = run_ms14(scripted, connect, ["250 ok", "354 go", "250 ok", "250 ok", "250 ok"])
    assert isinstance(exc, ProtocolError)
    assert rest == b""


def test_extra_reply_after_a_chunked_message_is_not_paired(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    batch = ENVELOPE + bdat(RAW, last=True)

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(batch)) == batch
        p.reply("250 ok", "250 ok", "250 ok", "250 queued", "250 extra")
        assert p.read_to_eof() == b""  # NOOP is never sent: the extra reply would answer it

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(RAW).delivered
    assert smtp.noop() is False
    assert smtp.code() == 421 and "unsolicited" in smtp.message()
    server.join()


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("later", [False, True], ids=["421-last", "421-before-d"])
def test_421_in_the_middle_of_the_envelope(
    scripted: type[ScriptedServer], connect: Connect, pipelining: bool, later: bool
) -> None:
    """The 421 answers c's RCPT. b, accepted before it, is refused with the 421; so is d
    (``later``), whose RCPT gets no reply (pipelined it was sent, in lockstep not even that)."""
    raw = RAW.replace(b"c@example.net", b"c@example.net, d@example.net") if later else RAW
    envelope = THREE if later else ENVELOPE

    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        if pipelining:
            assert p.read(len(envelope) + 6) == envelope + b"DATA\r\n"
            p.reply("250 ok", "250 2.1.5 b ok", "421 4.3.2 shutting down")
        else:
            for line, answer in zip(
                envelope.splitlines(keepends=True)[:3],
                ["250 ok", "250 2.1.5 b ok", "421 4.3.2 shutting down"],
                strict=True,
            ):
                p.expect(line)
                p.reply(answer)
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server, pipelining=pipelining)
    with pytest.raises(SendError, match="closed the connection: 421") as info:
        smtp.send_message(raw)
    server.join()
    bye = reply("421 4.3.2 shutting down")
    refused = {"b@example.net": bye, "c@example.net": bye} | ({"d@example.net": bye} if later else {})
    assert info.value.result == SendResult("a@example.org", refused=refused, mail_reply=reply("250 ok"))
    assert smtp.code() == 421


def test_421_to_mail(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING")
        assert p.read(len(ENVELOPE)).startswith(b"MAIL")
        p.reply("421 4.7.0 too many connections")
        assert p.read_to_eof().endswith(b"hello\r\n.\r\nbye\r\n")  # the rest of the batch, no more

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="closed the connection") as info:
        smtp.send_message(RAW)
    server.join()
    bye = reply("421 4.7.0 too many connections")
    assert info.value.result == SendResult(
        "a@example.org", refused={"b@example.net": bye, "c@example.net": bye}, mail_reply=bye
    )

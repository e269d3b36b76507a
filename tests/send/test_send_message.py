"""send_message(): the envelope, the options it declares, and what it reports (both clients)."""

from __future__ import annotations

import email.message
import email.policy
from typing import Any

import pytest

import netsmtp
from netsmtp import NotSupportedError, SendError, SendResult
from tests.helpers.scripted import Peer, ScriptedServer

from .support import QUIT, Connect, Sink, after_hello, greet, quiet, reply, serve_quit


def message() -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.net"
    msg["Cc"] = "Carol <carol@example.net>"
    msg["Bcc"] = "dave@example.net"
    msg["Subject"] = "hello"
    msg.set_content("first line\n.starts with a dot\n")
    return msg


MESSAGE_SENT = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.net\r\n"
    b"Cc: Carol <carol@example.net>\r\n"
    b"Subject: hello\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"MIME-Version: 1.0\r\n"
    b"\r\n"
    b"first line\r\n"
    b".starts with a dot\r\n"
)
STUFFED = MESSAGE_SENT.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def test_sequential_send_exact_bytes(scripted: type[ScriptedServer], connect: Connect) -> None:
    """No PIPELINING: one command, then its reply, every time; Bcc gets an RCPT, not a header."""
    got: dict[str, bytes] = {}

    def script(p: Peer) -> None:
        greet(p, "8BITMIME")
        for line, answer in [
            ("MAIL FROM:<alice@example.org>", "250 2.1.0 sender ok"),
            ("RCPT TO:<bob@example.net>", "250 2.1.5 bob ok"),
            ("RCPT TO:<carol@example.net>", "250 2.1.5 carol ok"),
            ("RCPT TO:<dave@example.net>", "251 2.1.5 dave forwarded"),
            ("DATA", "354 go ahead"),
        ]:
            p.expect(line)
            assert quiet(p), f"the client sent more than {line!r} before its reply"
            p.reply(answer)
        got["data"] = p.read_data()
        assert quiet(p)
        p.reply("250 2.0.0 queued as 42")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    result = smtp.send_message(message())
    assert smtp.code() == 250
    smtp.quit()
    server.join()
    assert got["data"] == STUFFED
    assert result == SendResult(
        sender="alice@example.org",
        accepted={
            "bob@example.net": reply("250 2.1.5 bob ok"),
            "carol@example.net": reply("250 2.1.5 carol ok"),
            "dave@example.net": reply("251 2.1.5 dave forwarded"),
        },
        refused={},
        reply=reply("250 2.0.0 queued as 42"),
        mail_reply=reply("250 2.1.0 sender ok"),
    )
    assert result.delivered
    assert result.reply is not None and result.reply.enhanced_status == "2.0.0"
    assert message()["Bcc"] == "dave@example.net"


def test_resent_headers_give_the_envelope(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = (
        b"From: orig@example.org\r\n"
        b"Sender: orig-sender@example.org\r\n"
        b"To: orig-to@example.net\r\n"
        b"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Resent-From: fwd@example.org\r\n"
        b"Resent-Sender: agent@example.org\r\n"
        b"Resent-To: r1@example.net\r\n"
        b"Resent-Bcc: hidden@example.net,\r\n"
        b"  also-hidden@example.net\r\n"
        b"\r\n"
        b"body\r\n"
    )
    sink = Sink()
    server = scripted(sink)
    smtp = connect(server)
    result = smtp.send_message(raw)
    smtp.quit()
    server.join()
    assert sink.envelope() == [
        b"MAIL FROM:<agent@example.org>\r\n",
        b"RCPT TO:<r1@example.net>\r\n",
        b"RCPT TO:<hidden@example.net>\r\n",
        b"RCPT TO:<also-hidden@example.net>\r\n",
    ]
    cut = raw.index(b"Resent-Bcc")
    assert sink.messages == [raw[:cut] + b"\r\nbody\r\n.\r\n"]
    assert list(result.accepted) == ["r1@example.net", "hidden@example.net", "also-hidden@example.net"]


def test_sender_wins_over_from_on_the_wire(scripted: type[ScriptedServer], connect: Connect) -> None:
    msg = message()
    msg["Sender"] = "Secretary <sec@example.org>"
    sink = Sink()
    server = scripted(sink)
    smtp = connect(server)
    smtp.send_message(msg)
    smtp.quit()
    server.join()
    assert sink.envelope()[0] == b"MAIL FROM:<sec@example.org>\r\n"


def nothing_sent(server: ScriptedServer) -> None:
    """After the EHLO the client sent only QUIT."""
    server.join()
    assert after_hello(server.received) == QUIT


def test_two_resent_blocks_send_nothing(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = (
        b"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-To: a@example.net\r\n"
        b"Resent-Date: Tue, 2 Jan 2024 00:00:00 +0000\r\nResent-To: b@example.net\r\n\r\nx\r\n"
    )
    server = scripted(Sink())
    smtp = connect(server)
    with pytest.raises(ValueError, match="Resent"):
        smtp.send_message(raw)
    smtp.quit()
    nothing_sent(server)


def test_explicit_envelope_wins(scripted: type[ScriptedServer], connect: Connect) -> None:
    sink = Sink()
    server = scripted(sink)
    smtp = connect(server)
    smtp.send_message(message(), "bounce@example.org", ["x@example.net", "y@example.net"])
    smtp.send_message(message(), to_addrs="z@example.net")
    smtp.quit()
    server.join()
    assert sink.envelope(0) == [
        b"MAIL FROM:<bounce@example.org>\r\n",
        b"RCPT TO:<x@example.net>\r\n",
        b"RCPT TO:<y@example.net>\r\n",
    ]
    assert sink.envelope(1) == [b"MAIL FROM:<alice@example.org>\r\n", b"RCPT TO:<z@example.net>\r\n"]
    assert sink.messages == [STUFFED, STUFFED]  # Bcc removed even with an explicit envelope


@pytest.mark.parametrize("field", ["From", "To", "Bcc"])
def test_header_injection_never_reaches_the_wire(
    scripted: type[ScriptedServer], connect: Connect, field: str
) -> None:
    # SECURITY SM-14 (aiosmtplib's compat32 case).
    msg = email.message.Message(policy=email.policy.compat32)
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.net"
    msg[field] = "a@example.org\r\nRCPT TO:<hijack@x>"
    msg.set_payload("hi\r\n")
    server = scripted(Sink("PIPELINING", "CHUNKING"))
    smtp = connect(server)
    with pytest.raises(ValueError, match="header"):
        smtp.send_message(msg)
    smtp.quit()
    nothing_sent(server)
    assert b"hijack" not in server.received


def test_no_recipient_sends_nothing(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(Sink("PIPELINING"))
    smtp = connect(server)
    with pytest.raises(ValueError, match="no recipients"):
        smtp.send_message(b"From: a@example.org\r\nSubject: x\r\n\r\nhi\r\n")
    with pytest.raises(ValueError, match="no recipients"):
        smtp.send_message(message(), to_addrs=[])
    smtp.quit()
    nothing_sent(server)


# ---- SMTPUTF8, BODY=8BITMIME, SIZE: declared only when needed ------------------------------


def mail_line_for(
    scripted: type[ScriptedServer], connect: Connect, caps: tuple[str, ...], msg: Any, *args: Any
) -> list[bytes]:
    sink = Sink(*caps)
    server = scripted(sink)
    smtp = connect(server)
    smtp.send_message(msg, *args)
    smtp.quit()
    server.join()
    return sink.envelope()


def test_smtputf8_only_when_an_address_needs_it(scripted: type[ScriptedServer], connect: Connect) -> None:
    raw = "From: jörg@example.org\r\nTo: b@example.net\r\n\r\nhi\r\n".encode()
    assert mail_line_for(scripted, connect, ("SMTPUTF8", "8BITMIME"), raw) == [
        "MAIL FROM:<jörg@example.org> BODY=8BITMIME SMTPUTF8\r\n".encode(),
        b"RCPT TO:<b@example.net>\r\n",
    ]
    assert mail_line_for(
        scripted, connect, ("SMTPUTF8",), b"To: b@example.net\r\n\r\nhi\r\n", None, ["ü@example.net"]
    ) == [b"MAIL FROM:<> SMTPUTF8\r\n", "RCPT TO:<ü@example.net>\r\n".encode()]
    # advertised but not needed: not declared
    assert mail_line_for(scripted, connect, ("SMTPUTF8",), message()) == [
        b"MAIL FROM:<alice@example.org>\r\n",
        b"RCPT TO:<bob@example.net>\r\n",
        b"RCPT TO:<carol@example.net>\r\n",
        b"RCPT TO:<dave@example.net>\r\n",
    ]


@pytest.mark.parametrize("where", ["sender", "recipient"])
def test_smtputf8_needed_but_not_advertised(
    scripted: type[ScriptedServer], connect: Connect, where: str
) -> None:
    server = scripted(Sink("PIPELINING", "8BITMIME"))
    smtp = connect(server)
    args = ("jörg@example.org", "b@example.net") if where == "sender" else ("a@example.org", "ü@example.net")
    with pytest.raises(NotSupportedError, match="SMTPUTF8"):
        smtp.send_message(b"Subject: x\r\n\r\nhi\r\n", *args)
    smtp.quit()
    nothing_sent(server)


@pytest.mark.parametrize(
    ("body", "caps", "param"),
    [
        (b"caf\xc3\xa9\r\n", ("8BITMIME",), b" BODY=8BITMIME"),
        (b"cafe\r\n", ("8BITMIME",), b""),  # never for a 7-bit body (Exchange refuses it)
        # no 8BITMIME: BINARYMIME carries it; with neither, nothing is sent (SECURITY SM-11)
        (b"caf\xc3\xa9\r\n", ("BINARYMIME", "CHUNKING"), b" BODY=BINARYMIME"),
    ],
)
def test_body_8bitmime_only_for_8bit_bodies(
    scripted: type[ScriptedServer], connect: Connect, body: bytes, caps: tuple[str, ...], param: bytes
) -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net\r\n\r\n" + body
    envelope = mail_line_for(scripted, connect, caps, raw)
    assert envelope[0] == b"MAIL FROM:<a@example.org>" + param + b"\r\n"


def test_8bit_email_message_declares_8bitmime(scripted: type[ScriptedServer], connect: Connect) -> None:
    msg = message()
    msg.set_content("café\n", cte="8bit")
    envelope = mail_line_for(scripted, connect, ("8BITMIME", "PIPELINING"), msg)
    assert envelope[0] == b"MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n"
    msg.set_content("café\n", cte="quoted-printable")
    envelope = mail_line_for(scripted, connect, ("8BITMIME", "PIPELINING"), msg)
    assert envelope[0] == b"MAIL FROM:<alice@example.org>\r\n"


@pytest.mark.parametrize("size_cap", ["SIZE 10000", "SIZE", "SIZE 0"])
def test_size_declared_when_advertised(
    scripted: type[ScriptedServer], connect: Connect, size_cap: str
) -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net\r\nBcc: c@example.net\r\n\r\ncaf\xc3\xa9\r\n"
    sent_size = len(raw) - len(b"Bcc: c@example.net\r\n")
    envelope = mail_line_for(scripted, connect, (size_cap, "8BITMIME", "PIPELINING", "CHUNKING"), raw)
    assert envelope[0] == f"MAIL FROM:<a@example.org> SIZE={sent_size} BODY=8BITMIME\r\n".encode()
    # not advertised: not declared
    envelope = mail_line_for(scripted, connect, ("PIPELINING", "8BITMIME"), raw)
    assert envelope[0] == b"MAIL FROM:<a@example.org> BODY=8BITMIME\r\n"


@pytest.mark.parametrize("caps", [(), ("PIPELINING",), ("PIPELINING", "CHUNKING")])
def test_size_over_the_limit_sends_nothing(
    scripted: type[ScriptedServer], connect: Connect, caps: tuple[str, ...]
) -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net\r\n\r\n" + b"x" * 100
    server = scripted(Sink("SIZE 100", *caps))
    smtp = connect(server)
    with pytest.raises(NotSupportedError, match=r"5\.3\.4 message of 142 octets exceeds .* limit of 100"):
        smtp.send_message(raw)
    assert smtp.code() == 552
    # exactly at the limit is fine
    result = smtp.send_message(raw[:100])
    smtp.quit()
    server.join()
    assert result.delivered
    assert after_hello(server.received).startswith(b"MAIL FROM:<a@example.org> SIZE=100\r\n")


def test_explicit_options_are_kept(scripted: type[ScriptedServer], connect: Connect) -> None:
    envelope = mail_line_for(scripted, connect, ("SIZE 5000", "DSN", "PIPELINING"), message(), None, None)
    assert envelope[0] == f"MAIL FROM:<alice@example.org> SIZE={len(MESSAGE_SENT)}\r\n".encode()
    sink = Sink("SIZE 5000", "DSN")
    server = scripted(sink)
    smtp = connect(server)
    smtp.send_message(message(), size=4000, ret="hdrs", envid="ID1")
    smtp.quit()
    server.join()
    assert sink.envelope()[0] == b"MAIL FROM:<alice@example.org> SIZE=4000 RET=HDRS ENVID=ID1\r\n"


# ---- failures: SendError carries the result; the connection stays usable ----------------------


def test_mail_refused_sequential(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<alice@example.org>")
        p.reply("550 5.7.1 sender refused")
        p.expect("MAIL FROM:<other@example.org>")
        p.reply("250 ok")
        p.expect("RCPT TO:<bob@example.net>")
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="MAIL refused") as info:
        smtp.send_message(message())
    assert info.value.result == SendResult("alice@example.org", mail_reply=reply("550 5.7.1 sender refused"))
    assert not info.value.result.delivered
    assert smtp.code() == 550
    result = smtp.send_message(message(), "other@example.org", "bob@example.net")
    assert result.delivered
    smtp.quit()
    server.join()


def test_every_recipient_refused_sends_rset(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<alice@example.org>")
        p.reply("250 2.1.0 ok")
        p.expect("RCPT TO:<bob@example.net>")
        p.reply("550 5.1.1 no such user")
        p.expect("RCPT TO:<carol@example.net>")
        p.reply("450 4.2.1 mailbox busy")
        p.expect("RCPT TO:<dave@example.net>")
        p.reply("452 4.5.3 too many recipients")
        p.expect("RSET")
        p.reply("250 2.0.0 reset")
        p.expect("NOOP")
        p.reply("250 2.0.0 still here")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="every recipient refused") as info:
        smtp.send_message(message())
    result = info.value.result
    assert result == SendResult(
        "alice@example.org",
        refused={
            "bob@example.net": reply("550 5.1.1 no such user"),
            "carol@example.net": reply("450 4.2.1 mailbox busy"),
            "dave@example.net": reply("452 4.5.3 too many recipients"),
        },
        mail_reply=reply("250 2.1.0 ok"),
    )
    bob, carol = result.refused["bob@example.net"], result.refused["carol@example.net"]
    assert (bob.code, bob.enhanced_status, bob.is_permanent, bob.is_transient) == (550, "5.1.1", True, False)
    assert (carol.code, carol.enhanced_status, carol.is_permanent, carol.is_transient) == (
        450,
        "4.2.1",
        False,
        True,
    )
    assert smtp.noop()
    smtp.quit()
    server.join()


def test_partial_refusal(scripted: type[ScriptedServer], connect: Connect) -> None:
    def rcpt(line: bytes) -> str:
        return "550 5.1.1 unknown" if b"carol" in line else "250 2.1.5 ok"

    sink = Sink(rcpt=rcpt)
    server = scripted(sink)
    smtp = connect(server)
    result = smtp.send_message(message())
    smtp.quit()
    server.join()
    assert result == SendResult(
        "alice@example.org",
        accepted={"bob@example.net": reply("250 2.1.5 ok"), "dave@example.net": reply("250 2.1.5 ok")},
        refused={"carol@example.net": reply("550 5.1.1 unknown")},
        reply=reply("250 2.0.0 queued"),
        mail_reply=reply("250 2.0.0 ok"),
    )
    assert result.delivered
    assert sink.messages == [STUFFED]


def test_final_dot_refused(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<alice@example.org>")
        p.reply("250 ok")
        for _ in range(3):
            assert p.readline().startswith(b"RCPT TO:")
            p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_data() == STUFFED
        p.reply("554 5.6.0 content rejected")
        p.expect("MAIL FROM:<alice@example.org>")  # no RSET: the transaction is over
        p.reply("250 ok")
        p.expect("RCPT TO:<bob@example.net>")
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.reply("250 2.0.0 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="message refused") as info:
        smtp.send_message(message())
    result = info.value.result
    rejected = reply("554 5.6.0 content rejected")
    assert result == SendResult(
        "alice@example.org",
        refused={"bob@example.net": rejected, "carol@example.net": rejected, "dave@example.net": rejected},
        reply=rejected,
        mail_reply=reply("250 ok"),
    )
    assert not result.delivered
    assert smtp.send_message(message(), to_addrs="bob@example.net").delivered
    smtp.quit()
    server.join()


def test_data_refused_after_recipients(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<alice@example.org>")
        p.reply("250 ok")
        p.expect("RCPT TO:<bob@example.net>")
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("451 4.3.0 try again later")
        p.expect("RSET")
        p.reply("250 reset")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(SendError, match="DATA refused") as info:
        smtp.send_message(message(), to_addrs=["bob@example.net"])
    refusal = reply("451 4.3.0 try again later")
    assert info.value.result == SendResult(
        "alice@example.org",
        refused={"bob@example.net": refusal},
        reply=refusal,
        mail_reply=reply("250 ok"),
    )
    assert not info.value.result.delivered
    smtp.quit()
    server.join()


def test_send_error_whatever_raise_errors_says(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(Sink(rcpt=lambda line: "550 no"))
    smtp = connect(server, raise_errors=False)
    with pytest.raises(SendError):
        smtp.send_message(message())
    smtp.quit()
    server.join()


# ---- message forms -------------------------------------------------------------------------


def test_str_bytearray_and_bare_lf_messages(scripted: type[ScriptedServer], connect: Connect) -> None:
    sink = Sink("8BITMIME")
    server = scripted(sink)
    smtp = connect(server)
    smtp.send_message("To: b@example.net\n\ncafé\n.x\n", "a@example.org")
    smtp.send_message(bytearray(b"To: b@example.net\r\n\r\nhi\r\n"), "a@example.org")
    smtp.quit()
    server.join()
    assert sink.messages == [
        "To: b@example.net\r\n\r\ncafé\r\n..x\r\n.\r\n".encode(),  # DATA makes every line end CRLF
        b"To: b@example.net\r\n\r\nhi\r\n.\r\n",
    ]


def test_nul_in_a_data_message_sends_nothing(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(Sink("PIPELINING"))
    smtp = connect(server)
    with pytest.raises(ValueError, match="NUL"):
        smtp.send_message(b"To: b@example.net\r\n\r\na\x00b\r\n", "a@example.org")
    smtp.quit()
    nothing_sent(server)


def test_transcript_is_unchanged_by_send_message(
    scripted: type[ScriptedServer], connect: Connect, capsys: pytest.CaptureFixture[str]
) -> None:
    server = scripted(Sink("PIPELINING", "CHUNKING"))
    smtp = connect(server, debug=1)
    smtp.send_message(b"To: b@example.net\r\n\r\nhi\r\n", "a@example.org")
    smtp.quit()
    server.join()
    err = capsys.readouterr().err
    assert ">>> MAIL FROM:<a@example.org>" in err
    assert ">>> RCPT TO:<b@example.net>" in err
    assert ">>> BDAT 25 LAST" in err


# ---- a real server: aiosmtpd, STARTTLS, a MIME message with an attachment and Bcc -----------


def test_aiosmtpd_starttls_attachment_and_bcc(
    aiosmtpd_server: Any, connect: Connect, client_context: Any
) -> None:
    msg = message()
    attachment = bytes(range(256)) * 40
    msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="b.bin")
    msg.set_boundary("==boundary==")
    expected = b"".join(netsmtp._message.prepare(msg, None, None).chunks())
    smtp = connect(aiosmtpd_server.address, timeout=10)
    assert smtp.starttls(ssl_context=client_context, server_hostname="localhost")
    result = smtp.send_message(msg)
    smtp.quit()
    assert sorted(result.accepted) == ["bob@example.net", "carol@example.net", "dave@example.net"]
    assert result.reply is not None and result.reply.code == 250
    [stored] = aiosmtpd_server.messages
    assert stored.mail_from == "alice@example.org"
    assert stored.rcpt_tos == ["bob@example.net", "carol@example.net", "dave@example.net"]
    assert expected.count(b"\r\n.") == 1  # aiosmtpd un-stuffs the dot: the bytes come back as they were
    assert stored.content == expected
    assert b"Bcc" not in stored.content and b"dave" not in stored.content
    assert b'filename="b.bin"' in stored.content
